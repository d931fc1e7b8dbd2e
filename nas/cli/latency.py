"""`nas devices`, `nas latency predict|measure|validate`, `nas profile [import]`."""

from __future__ import annotations

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
    """List every latency table found, with method, runtime, entries and provenance."""
    from nas.latency.table import TableError, find_tables, read_table

    rows = []
    for name, path in find_tables(tables_dir).items():
        try:
            rows.append(read_table(path).summary())
        except TableError as exc:
            rows.append({"device": name, "path": str(path), "error": str(exc)})
    if as_json:
        emit_json({"devices": rows})
        return
    from rich.table import Table

    out = Table("device", "method", "runtime", "thr", "entries", "date", "host / source", box=None)
    for r in rows:
        if "error" in r:
            out.add_row(r["device"], "[red]invalid[/red]", r["error"], "", "", "", "")
        else:
            runtime = _short(f"{r['runtime']} {r['runtime_version']}", 20)
            out.add_row(r["device"], r["method"], runtime, str(r["threads"] or "-"), str(r["entries"]),
                        str(r["date"] or "")[:10], _short(r["host"] or r["source"]))
    stdout.print(out)
    for r in rows:
        stdout.print(f"{r['device']}: {r['path']}", highlight=False)


def _short(text: Any, width: int = 24) -> str:
    text = str(text or "")
    return text if len(text) <= width else text[: width - 1] + "…"


# ----------------------------------------------------------------------------- latency
@click.group("latency")
def latency() -> None:
    """Predict, measure and validate network latency."""


@latency.command("predict")
@click.argument("arch")
@click.option("--device", required=True, help="Latency table name (see `nas devices`).")
@click.option("--resolution", type=click.IntRange(min=1), default=None,
              help="Deploy resolution (default: the architecture's; the table has one).")
@TABLES_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def predict(arch: str, device: str, resolution: int | None, tables_dir: Path | None, as_json: bool) -> None:
    """Predicted latency of ARCH (preset name or config JSON) on DEVICE, with per-block breakdown."""
    from nas.latency.predict import predict_latency
    from nas.latency.table import load_table

    table = load_table(device, tables_dir)
    cfg = load_arch(arch)
    pred = predict_latency(cfg.replace(resolution=resolution) if resolution else cfg, table)
    if as_json:
        emit_json(pred.to_dict())
        return
    from rich.table import Table

    out = Table("#", "kind", "ms", "key", title=f"{arch} on {device}")
    for i, (key, kind, ms) in enumerate(pred.per_block):
        out.add_row(str(i), kind, f"{ms:.3f}", key)
    out.add_row("", "overhead", f"{pred.overhead_ms:.3f}", "per network")
    stdout.print(out)
    stdout.print(f"[bold]{pred.total_ms:.2f} ms[/bold] ({pred.method}, {table.runtime}, table {table.hash})")


@latency.command("measure")
@click.argument("arch")
@click.option("--runtime", type=click.Choice(RUNTIMES), default="onnxruntime", show_default=True)
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--resolution", type=click.IntRange(min=1), default=None,
              help="Deploy resolution (default: the architecture's).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def measure(arch: str, runtime: str, threads: int, resolution: int | None, as_json: bool) -> None:
    """End-to-end median latency of ARCH on this machine."""
    from nas.latency.validate import measure_latency

    cfg = load_arch(arch)
    cfg = cfg.replace(resolution=resolution) if resolution else cfg
    result = measure_latency(cfg, runtime=runtime, threads=threads)
    if as_json:
        emit_json(result)
        return
    stdout.print(f"[bold]{result['latency_ms']:.2f} ms[/bold] measured ({runtime} {result['runtime_version']}, "
                 f"{threads} thread(s), median of {result['runs']} runs, {result['clock']} clock)")


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
@TABLES_OPTION
@click.pass_context
def profile(ctx: click.Context, device: str | None, runtime: str, space_name: str, threads: int, budget_s: float,
            export_dir: Path | None, limit: int | None, calibration_networks: int, tables_dir: Path | None) -> None:
    """Measure a latency table for this machine (every block key of a space), or export the blocks."""
    if ctx.invoked_subcommand is not None:
        return
    if not device:
        raise click.UsageError("--device NAME is required (the name of the table to write)")
    from nas.space import load_space

    space = load_space(space_name)
    if export_dir is not None:
        from nas.latency.profile import export_blocks

        manifest = export_blocks(space, runtime=runtime, out_dir=export_dir, device=device, limit=limit,
                                 progress=lambda msg: stderr.print(msg, highlight=False))
        stdout.print(f"wrote {len(manifest['blocks'])} blocks and {export_dir / 'manifest.json'}; time them on "
                     f"the device, then: nas profile import CSV --device {device} --runtime {runtime}")
        return
    from nas.latency.backends import TimingPolicy, get_backend
    from nas.latency.profile import profile_space
    from nas.latency.table import user_tables_dir

    if not get_backend(runtime).can_time:
        raise click.UsageError(f"runtime '{runtime}' cannot time on this machine; use --export DIR")
    path = Path(tables_dir or user_tables_dir()) / f"{device}.json"
    policy = TimingPolicy(budget_s=budget_s, clock="thread" if threads == 1 else "wall")
    stderr.print(f"profiling space '{space.name}' on {runtime} ({threads} thread(s)) into {path}")
    started = time.perf_counter()
    with _ProfileProgress() as progress:
        table = profile_space(space, device=device, path=path, runtime=runtime, threads=threads, policy=policy,
                              calibration_networks=calibration_networks, progress=progress)
    cal = table.provenance.get("calibration", {})
    stdout.print(f"wrote {path}: {len(table.entries)} entries in {time.perf_counter() - started:.0f} s "
                 f"(block timing {table.provenance.get('profile_seconds')} s); calibration networks: MAPE "
                 f"{cal.get('mape_before')}% as plain sums, {cal.get('mape_loo')}% leave-one-out after the fit")


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
@TABLES_OPTION
def profile_import(csv_path: Path, device: str, runtime: str, space_name: str, manifest: Path | None,
                   compute_unit: str, tables_dir: Path | None) -> None:
    """Turn a CSV of key,ms measured on the device into a `measured` table."""
    from nas.latency.profile import import_csv
    from nas.latency.table import user_tables_dir
    from nas.space import load_space

    path = Path(tables_dir or user_tables_dir()) / f"{device}.json"
    table = import_csv(csv_path, device=device, runtime=runtime, space=load_space(space_name), path=path,
                       manifest=manifest, compute_unit=compute_unit)
    missing = table.provenance.get("keys_missing", 0)
    stdout.print(f"wrote {path}: {len(table.entries)} entries ({missing} keys of the space not in the CSV)")
