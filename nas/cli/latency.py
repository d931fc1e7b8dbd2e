"""`nas devices`, `nas latency predict|measure|validate`, `nas profile [import]`."""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path
from typing import Any

import click

from nas.cli.common import emit_json, load_arch, stderr, stdout
from nas.latency.backends import BACKENDS
from nas.space import DEFAULT_SPACE

RUNTIMES = BACKENDS.names()  # --runtime choices: the backend registry (light: no runtime is imported here)
TABLES_OPTION = click.option("--tables", "tables_dir", type=click.Path(file_okay=False, path_type=Path),
                             default=None, help="Folder of latency tables searched first (also $NAS_TABLES_DIR).")


def __getattr__(name: str) -> Any:
    """`nas tables` lives in nas.cli.tables (iPhone 12 fit); forward the registry's lookup there."""
    if name == "tables":
        from nas.cli.tables import tables

        return tables
    raise AttributeError(name)


# ----------------------------------------------------------------------------- devices
@click.command("devices")
@TABLES_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def devices(tables_dir: Path | None, as_json: bool) -> None:
    """List every latency table found, with method, runtime, entries, provenance and whether it fits here."""
    from nas.latency.catalog import device_rows

    rows = device_rows(tables_dir)
    if as_json:
        emit_json({"devices": rows})
        return
    from rich.table import Table

    out = Table(box=None)
    for column in ("device", "method", "runtime", "entries", "this host"):
        out.add_column(column, no_wrap=True)
    for r in rows:
        if "error" in r:
            out.add_row(r["device"], "[red]invalid[/red]", "", "", "")
            continue
        entries = f"{r['entries']:,}"
        if r["added"] and r["added"]["entries"]:
            entries += f" +{r['added']['entries']:,} priced"
        if not r["complete"]:
            entries = f"[yellow]{r['entries']:,}/{r['keys_total'] or '?':,} incomplete[/yellow]"
        here = {"same": "same host", "differs": "[yellow]other host[/yellow]",
                "unknown": "[yellow]unknown host[/yellow]", "n/a": "-"}[r["host_status"]]
        name = r["device"] + (" (user copy)" if r["hides"] else "")
        out.add_row(name, r["method"], r["runtime"], entries, here)
    stdout.print(out)
    for r in rows:
        made = ""
        if "error" not in r:
            threads = f", {r['threads']} thread(s)" if r["threads"] else ""
            fit = f", calibrated from {r['base']}" if r["base"] else ""
            if r["loo_error_pct"] is not None:
                fit += f", leave-one-out error {r['loo_error_pct']:.1f}%"
            made = (f" ({r['runtime']} {_short(r['runtime_version'], 30)}{threads}, {str(r['date'] or '')[:10]}, "
                    f"{_short(r['host'] or r['source'], 40)}{fit})")
        stdout.print(f"{r['device']}: {r['path']}{made}", highlight=False, soft_wrap=True)
    for r in rows:
        if r.get("added") and r["added"]["entries"]:
            origins = ", ".join(f"{origin}: {n:,}" for origin, n in r["added"]["origins"].items())
            stdout.print(f"{r['device']}: +{r['added']['entries']:,} entries priced by its cost model "
                         f"({r['added']['model']}; {origins}), not in its file: {r['added']['path']}",
                         highlight=False, soft_wrap=True)
    for r in rows:
        for path in r["hides"]:
            whose = "the table shipped with nas" if r["user_copy_of_shipped"] else "the table"
            stdout.print(f"[yellow]note:[/yellow] '{r['device']}' resolves to {r['path']}, a copy that takes "
                         f"precedence over {whose} at {path}", highlight=False, soft_wrap=True)
        if r.get("forced"):
            stdout.print(f"[yellow]note:[/yellow] '{r['device']}' was written with --force despite failing its "
                         "sanity checks (see its provenance.forced)", highlight=False, soft_wrap=True)
    for r in rows:
        if r.get("error"):
            stdout.print(f"[red]{r['error']}[/red]", highlight=False, soft_wrap=True)
        elif r["host_notice"]:
            stdout.print(f"[yellow]note:[/yellow] {r['host_notice']}", highlight=False, soft_wrap=True)

def _short(text: Any, width: int = 24) -> str:
    text = str(text or "")
    return text if len(text) <= width else text[: width - 1] + "…"


# ----------------------------------------------------------------------------- latency
@click.group("latency")
def latency() -> None:
    """Predict, measure, check, calibrate and validate network latency."""


@latency.command("predict")
@click.argument("arch")
@click.option("--device", required=True, help="Latency table name (see `nas devices`).")
@click.option("--resolution", type=click.IntRange(min=1), default=None,
              help="Deploy resolution (default: the architecture's; the table has one).")
@click.option("--level", type=float, default=0.9, show_default=True,
              help="Probability of the interval around the prediction, in (0, 1).")
@TABLES_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def predict(arch: str, device: str, resolution: int | None, level: float, tables_dir: Path | None,
            as_json: bool) -> None:
    """Predicted latency of ARCH (preset name or config JSON) on DEVICE, with per-block breakdown and its interval
    from the table's own evidence."""
    from nas.latency.interval import check_level, estimate_latency
    from nas.latency.predict import predict_latency, resolution_note
    from nas.latency.table import load_table

    check_level(level, flag="--level")
    table = load_table(device, tables_dir)
    cfg = load_arch(arch)
    own = cfg.resolution
    priced = cfg.replace(resolution=resolution) if resolution else cfg
    pred = predict_latency(priced, table)
    estimate = estimate_latency(priced, table, level=level)
    at = resolution or own
    note = resolution_note(arch, cfg, table, at)
    if as_json:
        emit_json({**pred.to_dict(), "resolution": at, "arch_resolution": own, "note": note,
                   "interval": estimate.to_dict()})
        return
    from rich.table import Table

    added = set(pred.on_demand)
    out = Table("#", "kind", "ms", "key", title=f"{arch} on {device} at {at} px")
    for i, (key, kind, ms) in enumerate(pred.per_block):
        out.add_row(str(i), kind + (" *" if key in added else ""), f"{ms:.3f}", key)
    out.add_row("", "overhead", f"{pred.overhead_ms:.3f}", "per network")
    stdout.print(out)
    stdout.print(f"[bold]{pred.total_ms:.2f} ms[/bold] ({pred.method}, {table.runtime}, table {table.hash})")
    stdout.print(f"{estimate.level:.0%} interval: {estimate.low_ms:.2f}-{estimate.high_ms:.2f} ms (from the table's "
                 f"evidence: {estimate.evidence})", highlight=False, soft_wrap=True)
    if estimate.outside:
        stdout.print(f"[yellow]note:[/yellow] outside the range the table was fitted on ({', '.join(estimate.outside)})"
                     f": interval widened x{estimate.widen:.2f}", highlight=False, soft_wrap=True)
    if pred.on_demand:
        from nas.latency.extend import added_path

        stdout.print(f"* {len(pred.on_demand)} of {len(pred.per_block)} blocks are not in the table's file: priced "
                     f"by its cost model ({pred.cost_model}), kept in {added_path(table)}", highlight=False,
                     soft_wrap=True)
    if note:
        stdout.print(f"note: {note}", highlight=False, soft_wrap=True)


@latency.command("measure")
@click.argument("archs", metavar="ARCH...", nargs=-1, required=True)
@click.option("--runtime", type=click.Choice(RUNTIMES), default="onnxruntime", show_default=True)
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--resolution", type=click.IntRange(min=1), default=None,
              help="Deploy resolution (default: the architecture's).")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also append each result to this timings CSV (arch,latency_ms,...: what `nas latency "
                   "calibrate --timings` reads).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (one object, or a list for several ARCHs).")
def measure(archs: tuple[str, ...], runtime: str, threads: int, resolution: int | None, csv_path: Path | None,
            as_json: bool) -> None:
    """End-to-end median latency of each ARCH (preset name or config JSON) on this machine."""
    from nas.latency.measure import append_timings, measure_latency

    cfgs = [load_arch(arch) for arch in archs]  # every name checked before the first timing
    results = []
    for arch, cfg in zip(archs, cfgs):
        result = measure_latency(cfg.replace(resolution=resolution) if resolution else cfg, runtime=runtime,
                                 threads=threads)
        result["arch"] = arch
        results.append(result)
        if csv_path is not None:
            append_timings(csv_path, result)
        if not as_json:
            stdout.print(f"{arch}: [bold]{result['latency_ms']:.2f} ms[/bold] measured ({runtime} "
                         f"{result['runtime_version']}, {threads} thread(s), median of {result['runs']} runs, "
                         f"{result['clock']} clock)", highlight=False)
    if as_json:
        emit_json(results[0] if len(results) == 1 else results)
    elif csv_path is not None:
        stdout.print(f"appended {len(results)} row(s) to {csv_path}", highlight=False)


@latency.command("validate")
@click.option("--device", required=True, help="Latency table name (see `nas devices`).")
@click.option("--space", "space_name", default=None, help="Search space (default: the table's).")
@click.option("--samples", type=click.IntRange(min=3), default=50, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@TABLES_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def validate(device: str, space_name: str | None, samples: int, seed: int, tables_dir: Path | None,
             as_json: bool) -> None:
    """Predicted vs measured latency of seeded random architectures (or published rows for estimates)."""
    from nas.latency.table import load_table
    from nas.latency.validate import validate_table

    table = load_table(device, tables_dir)
    with _progress_lines() as report:
        result = validate_table(table, space=space_name, samples=samples, seed=seed, progress=report)
    if as_json:
        emit_json(result)
        return
    stdout.print(f"[bold]{device}[/bold] ({table.method}, {table.runtime}): {result['samples']} networks")
    for name in ("within_10pct", "mape", "spearman", "kendall", "flops_spearman", "params_spearman"):
        if result.get(name) is not None:
            stdout.print(f"  {name:16s} {result[name]:.3f}")


@latency.command("calibrate")
@click.option("--device", required=True, help="Base latency table to adapt (see `nas devices`); never written.")
@click.option("--as", "new_device", required=True, help="Name of the calibrated table to write (<name>.json).")
@click.option("--networks", "count", type=click.IntRange(min=2), default=None,
              help="Networks to time here (default 10): presets and seeded members of the table's space that "
                   "cover its block kinds and latency range.")
@click.option("--timings", "timings_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="CSV of whole-network timings made on the target (arch,latency_ms; arch = preset name or "
                   "config JSON path) instead of timing here.")
@click.option("--export", "export_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write the networks to time (configs + a timings.csv to fill in) into this folder and stop.")
@click.option("--space", "space_name", default=None, help="Search space the networks come from (default: the "
              "table's).")
@click.option("--force", is_flag=True, help="Replace an existing table NAME, and write a calibration that fails "
              "its sanity checks (marked as forced in its provenance).")
@TABLES_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def calibrate(device: str, new_device: str, count: int | None, timings_path: Path | None, export_dir: Path | None,
              space_name: str | None, force: bool, tables_dir: Path | None, as_json: bool) -> None:
    """Adapt table DEVICE to this machine (or to the target of --timings) from a few whole networks.

    Fits one scale per block kind and the per-network overhead, writes table NAME (method: calibrated) into
    your table folder with its provenance, and prints the fit's leave-one-out error.
    """
    from nas.errors import UsageError
    from nas.latency import calibrate as cal
    from nas.latency.table import load_table

    base = load_table(device, tables_dir)
    if count is not None and timings_path is not None:
        raise UsageError("--networks sets how many networks to time here; with --timings the CSV's rows are the "
                         "networks")
    cal.calibration_path(new_device, base, tables_dir=tables_dir, force=force)
    if timings_path is not None:
        timed = cal.timings_from_csv(timings_path, base)
    else:
        from nas.latency.provenance import table_space

        space = table_space(base, space_name)
        cfgs = cal.choose_networks(space, base, count=count or cal.DEFAULT_NETWORKS)
        if export_dir is not None:
            from nas.latency.measure import export_networks

            csv_path = export_networks(cfgs, export_dir)
            stdout.print(f"wrote {len(cfgs)} network configs and {csv_path}: time each network on the target "
                         f"(e.g. nas export CONFIG --format coreml --out NAME.mlpackage, then Xcode's performance "
                         f"report), fill in latency_ms, then: nas latency calibrate --device {device} --as "
                         f"{new_device} --timings {csv_path}", highlight=False, soft_wrap=True)
            return
        stderr.print(f"timing {len(cfgs)} networks of space '{space.name}' here ({base.runtime}, "
                     f"{base.threads or 1} thread(s)) to calibrate '{device}' as '{new_device}'", highlight=False)
        with _progress_lines() as report:
            timed = cal.timings_here(cfgs, base, space, progress=report)
    table, fit, path = cal.write_calibration(base, timed, device=new_device, tables_dir=tables_dir, force=force)
    forced = table.provenance.get("forced")
    if forced:
        stderr.print(f"[yellow]warning:[/yellow] written with --force despite: {'; '.join(forced['problems'])}",
                     highlight=False, soft_wrap=True)
    if as_json:
        emit_json({"path": str(path), "device": new_device, "base": device, "base_hash": base.hash,
                   "hash": table.hash, **fit.to_dict(), "forced": forced})
        return
    from rich.table import Table

    out = Table(title=f"{new_device}: calibrated from {device} on {len(timed.timings)} networks (ms)", box=None)
    for column in ("network", "measured", device, "calibrated", "left out", "error"):
        out.add_column(column, no_wrap=True, justify="left" if column == "network" else "right")
    for net in fit.networks:
        out.add_row(net["name"], f"{net['measured_ms']:.2f}", f"{net['base_ms']:.2f}", f"{net['fitted_ms']:.2f}",
                    f"{net['loo_ms']:.2f}", f"{net['loo_error_pct']:+.1f}%")
    stdout.print(out)
    kinds = ", ".join(f"{k} {fit.scales[k]:.3f}" for k in fit.fitted_kinds) or "none"
    stdout.print(f"scales: overall {fit.overall_scale:.3f}; per kind: {kinds}; overhead {fit.c0_ms:.3f} ms per "
                 "network", highlight=False, soft_wrap=True)
    stdout.print(f"leave-one-out error: [bold]{fit.mape_loo:.1f}%[/bold] mean, {fit.max_ape_loo:.1f}% max "
                 f"(the base table as it was: {fit.mape_base:.1f}%); wrote {path}", highlight=False, soft_wrap=True)


@latency.command("check")
@click.option("--device", required=True, help="Latency table to check on this machine (see `nas devices`).")
@TABLES_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def check(device: str, tables_dir: Path | None, as_json: bool) -> None:
    """Time 3 networks here (under 30 s) and compare with DEVICE's predictions: does the table hold here?"""
    from nas.latency.check import check_table
    from nas.latency.host import host_notice
    from nas.latency.table import load_table

    table = load_table(device, tables_dir)
    notice = host_notice(table)
    if notice and not as_json:
        stderr.print(f"[yellow]note:[/yellow] {notice}", highlight=False, soft_wrap=True)
    with _progress_lines() as report:
        result = check_table(table, progress=report)
    if as_json:
        emit_json({**result, "host_notice": notice})
        return
    stdout.print(result["verdict"], highlight=False, soft_wrap=True)


# ----------------------------------------------------------------------------- profile
class _progress_lines:
    """A progress reporter: plain lines on stderr (the bar is for profile on a terminal)."""

    def __enter__(self):
        return lambda msg: stderr.print(msg, highlight=False)

    def __exit__(self, *exc: Any) -> None:
        return None


@click.group("profile", invoke_without_command=True)
@click.option("--device", default=None, help="Name of the table to write (file <device>.json).")
@click.option("--runtime", type=click.Choice(RUNTIMES), default="onnxruntime", show_default=True)
@click.option("--space", "space_name", default=DEFAULT_SPACE, show_default=True, help="Search space name or YAML.")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="Runtime intra-op threads (1 is repeatable on shared machines).")
@click.option("--budget-s", type=click.FloatRange(min=0.001), default=0.3, show_default=True,
              help="Timing budget per block (adaptive repeats).")
@click.option("--export", "export_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write every block as a model file + manifest.json instead of timing (coreml, onnxruntime).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Export only the first N blocks.")
@click.option("--calibration-networks", type=click.IntRange(min=0), default=12, show_default=True,
              help="Random members measured end to end (beside the space's presets) to fit the residual.")
@click.option("--resolution", type=click.IntRange(min=1), default=None,
              help="Plan the space's blocks at this resolution (default: the space's).")
@click.option("--only-missing", is_flag=True,
              help="Measure only the keys of the space (at --resolution) that table DEVICE lacks, into that table "
                   "(a table found elsewhere is copied to your table folder first).")
@click.option("--force", is_flag=True, help="Replace an existing finished table DEVICE (an unfinished one is "
              "resumed without it).")
@TABLES_OPTION
@click.pass_context
def profile(ctx: click.Context, device: str | None, runtime: str, space_name: str, threads: int, budget_s: float,
            export_dir: Path | None, limit: int | None, calibration_networks: int, resolution: int | None,
            only_missing: bool, force: bool, tables_dir: Path | None) -> None:
    """Measure a latency table for this machine (every block key of a space), or export the blocks."""
    if ctx.invoked_subcommand is not None:
        return
    if not device:
        raise click.UsageError("--device NAME is required (the name of the table to write)")
    from nas.space import load_space

    space = load_space(space_name)
    existing = None
    if only_missing:
        from nas.latency.table import load_table

        existing = load_table(device, tables_dir)
    if export_dir is not None:
        from nas.latency.profile import export_blocks

        runtime = existing.runtime if existing else runtime
        manifest = export_blocks(space, runtime=runtime, out_dir=export_dir, device=device, limit=limit,
                                 resolution=resolution, skip=existing.entries if existing else (),
                                 progress=lambda msg: stderr.print(msg, highlight=False))
        stdout.print(f"wrote {len(manifest['blocks'])} blocks and {export_dir / 'manifest.json'}; time them on "
                     f"the device, then: nas profile import CSV --device {device} --runtime {runtime}")
        return
    if existing is not None:
        _profile_missing(existing, space, resolution, tables_dir)
        return
    from nas.latency.backends import TimingPolicy
    from nas.latency.measure import clock_for
    from nas.latency.profile import prepare_profile, profile_space

    path = prepare_profile(device, runtime=runtime, tables_dir=tables_dir, force=force)
    policy = TimingPolicy(budget_s=budget_s, clock=clock_for(threads))
    if resolution:
        space = dataclasses.replace(space, resolution=resolution)
    stderr.print(f"profiling space '{space.name}' at {space.resolution} px on {runtime} ({threads} thread(s)) "
                 f"into {path}")
    started = time.perf_counter()
    with _ProfileProgress() as progress:
        table = profile_space(space, device=device, path=path, runtime=runtime, threads=threads, policy=policy,
                              calibration_networks=calibration_networks, progress=progress)
    cal = table.provenance.get("calibration", {})
    stdout.print(f"wrote {path}: {len(table.entries)} entries in {time.perf_counter() - started:.0f} s "
                 f"(block timing {table.provenance.get('profile_seconds')} s); calibration networks: MAPE "
                 f"{cal.get('mape_before')}% as plain sums, {cal.get('mape_loo')}% leave-one-out after the fit")


def _profile_missing(table: Any, space: Any, resolution: int | None, tables_dir: Path | None) -> None:
    """`nas profile --only-missing`: the keys of ``space`` at ``resolution`` that ``table`` lacks, timed here."""
    from nas.latency.profile import missing_keys_path, profile_missing

    path = missing_keys_path(table, tables_dir=tables_dir)
    copy = "" if table.path == path else f" (a copy of {table.path}, which it takes precedence over)"
    at = resolution or space.resolution
    stderr.print(f"measuring the keys of space '{space.name}' at {at} px that '{table.device}' lacks, into {path}"
                 f"{copy}", highlight=False)
    started = time.perf_counter()
    with _ProfileProgress() as progress:
        table, measured = profile_missing(table, space, resolution=at, path=path, progress=progress)
    stdout.print(f"wrote {path}: {measured} keys measured in {time.perf_counter() - started:.0f} s, "
                 f"{len(table.entries):,} entries", highlight=False)


class _ProfileProgress:
    """Rich progress bar with ETA on a terminal, a plain line every 25 keys otherwise."""

    def __enter__(self):
        self.tty = sys.stderr.isatty()
        self.started = time.perf_counter()
        self.first: int | None = None
        if self.tty:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("profiling"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                                TextColumn("{task.description}"), console=stderr)
            self.bar.__enter__()
            self.task = self.bar.add_task("", total=None)
        return self

    def __call__(self, done: int, total: int, key: str) -> None:
        if self.first is None:
            self.first = done - 1
        if self.tty:
            self.bar.update(self.task, completed=done, total=total, description=key.split("|")[0])
            return
        if done % 25 == 0 or done == total:
            rate = (time.perf_counter() - self.started) / max(done - self.first, 1)
            stderr.print(f"{done}/{total} keys, {time.perf_counter() - self.started:.0f} s, "
                         f"eta {rate * (total - done):.0f} s ({key.split('|')[0]})", highlight=False)

    def __exit__(self, *exc: Any) -> None:
        if self.tty:
            self.bar.__exit__(*exc)


@profile.command("import")
@click.argument("csv_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--device", required=True, help="Name of the table to write.")
@click.option("--runtime", type=click.Choice(RUNTIMES), default="coreml", show_default=True)
@click.option("--space", "space_name", default=DEFAULT_SPACE, show_default=True)
@click.option("--manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="manifest.json written by --export (its settings go into the provenance).")
@click.option("--compute-unit", default="all", show_default=True)
@click.option("--force", is_flag=True, help="Replace an existing table DEVICE that the CSV does not extend.")
@TABLES_OPTION
def profile_import(csv_path: Path, device: str, runtime: str, space_name: str, manifest: Path | None,
                   compute_unit: str, force: bool, tables_dir: Path | None) -> None:
    """Turn a CSV of key,ms measured on the device into a `measured` table."""
    from nas.latency.profile import import_csv, import_path
    from nas.space import load_space

    path = import_path(device, runtime=runtime, tables_dir=tables_dir, force=force)
    table = import_csv(csv_path, device=device, runtime=runtime, space=load_space(space_name), path=path,
                       manifest=manifest, compute_unit=compute_unit)
    missing = table.provenance.get("keys_missing", 0)
    stdout.print(f"wrote {path}: {len(table.entries)} entries ({missing} keys of the space not in the CSV)")
