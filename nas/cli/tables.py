"""`nas tables`: fit, extend and inspect estimated latency tables (iPhone 12 from published latencies, any device
from its own whole-network timings)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from nas.cli.common import emit_json, stderr, stdout
from nas.errors import UnknownNameError, UsageError
from nas.latency.extend import KEYS_LIMIT_NOTE, MAX_KEYS

ESTIMATED_DEVICES = ("iphone12",)


@click.group()
def tables() -> None:
    """Fit estimated latency tables from published latencies (iPhone 12) or your device's own timings."""


PROGRESS_EVERY_S = 10.0  # a plain progress line at most this often (terminal or not)


@tables.command("fit")
@click.option("--device", default=None,
              help="Estimated table: refit (iphone12, the default), or extend with --space/--resolution (any "
                   "estimated table).")
@click.option("--timings", "timings_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Fit a new estimated table (--as NAME) to whole-network timings of your device: a CSV "
                   "arch,latency_ms as `nas latency calibrate --timings` reads (arch: preset name or config JSON).")
@click.option("--as", "new_device", default=None, help="With --timings: the name of the table to write.")
@click.option("--runtime", default=None,
              help="With --timings: the runtime the device ran (default: the CSV's runtime column, else "
                   "'unknown').")
@click.option("--space", "space_name", default=None,
              help="Add the entries of this space (name or YAML) that the table lacks, priced by its cost model "
                   "(with --timings: written into the new table).")
@click.option("--resolution", type=click.IntRange(min=1), default=None,
              help="Resolution of those entries (default: the space's); with --space, or alone for the "
                   "table's space.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default=None,
              help="Refit only: write the table here instead of the shipped latency_tables/<device>.json.")
@click.option("--force", is_flag=True,
              help="Refit: rewrite the shipped table (without --out). --timings: replace table NAME, or write a fit "
                   f"that fails its sanity checks (marked forced). --space: price more than {MAX_KEYS:,} block keys "
                   "(" + KEYS_LIMIT_NOTE + ").")
@click.option("--tables", "tables_dir", type=click.Path(file_okay=False), default=None,
              help="Extra folder searched first for tables (--timings writes the new table there).")
@click.option("--json", "as_json", is_flag=True, help="Print the fit summary as JSON.")
def fit_cmd(device: str | None, timings_path: Path | None, new_device: str | None, runtime: str | None,
            space_name: str | None, resolution: int | None, out_path: str | None, force: bool,
            tables_dir: str | None, as_json: bool) -> None:
    """Refit the iPhone 12 cost model to the published rows, fit a new estimated table to your device's timings
    (--timings FILE --as NAME), or (--space/--resolution) price a whole space's blocks with a table's cost model
    ahead of a search."""
    if timings_path is not None or new_device is not None:
        if timings_path is None or new_device is None:
            raise UsageError("--timings FILE.csv and --as NAME go together: the timings fit a new table of that name")
        if device is not None or out_path is not None:
            raise UsageError(f"--timings fits a new table written as --as {new_device} (into --tables DIR or your "
                             "table folder): --device and --out apply to a refit or an extension")
        _fit_timings(timings_path, new_device, runtime, space_name, resolution, force, tables_dir, as_json)
        return
    if runtime is not None:
        raise UsageError("--runtime applies to --timings")
    device = device or "iphone12"
    if space_name is not None or resolution is not None:
        if out_path is not None:
            raise UsageError("--out applies to a refit; entries added with --space/--resolution are stored beside "
                             "the table (see `nas devices`)")
        _extend(device, space_name, resolution, tables_dir, as_json, force)
        return
    if device not in ESTIMATED_DEVICES:
        raise UnknownNameError("device to refit", device, list(ESTIMATED_DEVICES))
    from nas.latency import iphone

    target = iphone.refit_path(out_path, force=force)
    stderr.print(f"fitting the {device} cost model to {iphone.DATA_CSV.name} ...")
    table, result = iphone.fit_and_write(target, progress=KeyProgress("pricing the table's block keys"))
    summary = {
        "device": device, "path": str(table.path), "entries": len(table.entries), "method": table.method,
        "protocol": table.provenance["protocol"], "protocol_scales": table.provenance["protocol_scales"],
        "coef_ms": table.provenance["coef_ms"], "loo_mape_pct": round(result.loo_mape, 2),
        "rows": result.per_row(),
    }
    if as_json:
        emit_json(summary)
        return
    _print_fit(summary)


class KeyProgress:
    """Progress of pricing block keys (or counting networks: ``unit``) as plain lines on stderr, on a terminal or
    not (a CI log): the time per key after the first few with the ETA, then a line every
    :data:`PROGRESS_EVERY_S` seconds and one at the end."""

    FIRST = 5  # keys timed before the first estimate

    def __init__(self, what: str, unit: str = "key") -> None:
        self.what, self.unit = what, unit
        self.start = time.monotonic()
        self.last = self.start

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        elapsed = now - self.start
        per_key = elapsed / done
        if done == min(self.FIRST, total) or done == total or now - self.last >= PROGRESS_EVERY_S:
            self.last = now
            if done == total:
                stderr.print(f"{self.what}: {done:,}/{total:,} done in {_clock(elapsed)} ({per_key:.2f} s per "
                             f"{self.unit})",
                             highlight=False, soft_wrap=True)
            else:
                stderr.print(f"{self.what}: {done:,}/{total:,}, {per_key:.2f} s per {self.unit} so far, about "
                             f"{_clock(per_key * (total - done))} left", highlight=False, soft_wrap=True)


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


def _space_specs(space: Any, at: int, todo: Callable[[dict], int], force: bool) -> dict:
    """The space's block specs at ``at`` px, saying on stderr how many members it walks and how many keys there are
    to price (``todo(specs)``); more than :data:`~nas.latency.extend.MAX_KEYS` to price is refused without
    ``force``."""
    from nas.latency.extend import check_keys_to_price
    from nas.space_members import block_specs

    members = space.size()
    stderr.print(f"space '{space.name}': collecting the block keys of its {members:,} members at {at} px ...",
                 highlight=False, soft_wrap=True)
    last = [time.monotonic()]

    def walked(done: int, total: int) -> None:
        if time.monotonic() - last[0] >= PROGRESS_EVERY_S:
            last[0] = time.monotonic()
            stderr.print(f"  {done:,}/{total:,} members walked", highlight=False)

    specs = block_specs(space, resolution=at, progress=walked)
    count = todo(specs)
    stderr.print(f"space '{space.name}': {len(specs):,} block keys, {count:,} to price", highlight=False)
    check_keys_to_price(space, at, count, force=force)
    return specs


def _extend(device: str, space_name: str | None, resolution: int | None, tables_dir: str | None, as_json: bool,
            force: bool) -> None:
    """`nas tables fit --space S --resolution R`: the space's missing entries, priced by the table's cost model."""
    from nas.latency import extend
    from nas.latency.provenance import table_space
    from nas.latency.table import load_table

    table = load_table(device, tables_dir)
    extend.require_cost_model(table, space=space_name, resolution=resolution)
    space = table_space(table, space_name)
    at = resolution or space.resolution

    def missing(specs: dict) -> int:
        added = extend.load_added(table)
        return sum(key not in table.entries and key not in added for key in specs)

    specs = _space_specs(space, at, missing, force)
    origin = f"nas tables fit --space {space.name} --resolution {at}"
    added = extend.price_blocks(table, specs.values(), origin=origin,
                                progress=KeyProgress(f"pricing the block keys '{device}' lacks"))
    summary = {"device": device, "space": space.name, "resolution": at, "keys": len(specs), "added": len(added),
               "model": extend.model_version(table), "path": str(extend.added_path(table)),
               "table_hash": table.hash}
    if as_json:
        emit_json(summary)
        return
    stdout.print(f"space '{space.name}' at {at} px: {len(specs):,} block keys, {len(added):,} added to '{device}' by "
                 f"its cost model ({summary['model']}), {len(specs) - len(added):,} already priced; stored in "
                 f"{summary['path']}", highlight=False, soft_wrap=True)


def _fit_timings(timings_path: Path, name: str, runtime: str | None, space_name: str | None,
                 resolution: int | None, force: bool, tables_dir: str | None, as_json: bool) -> None:
    """`nas tables fit --timings FILE --as NAME`: a new estimated table fitted to the device's timings."""
    from nas.latency import estimate
    from nas.latency.measure import read_timings, timings_runtime_version
    from nas.latency.store import user_table_path, write_user_table
    from nas.space import DEFAULT_SPACE, load_space

    user_table_path(name, tables_dir=tables_dir, force=force)  # the name and overwrite rules, before any work
    timings = read_timings(timings_path, base=None)
    runtime = estimate.timings_runtime(timings, runtime, where=str(timings_path))
    space = load_space(space_name or DEFAULT_SPACE)
    at = resolution or space.resolution  # the table's: where searches of the space price the presets
    specs = estimate.timings_blocks(timings)
    with_space = space_name is not None or resolution is not None
    if with_space:  # its size and the key limit, before the fit's minute of counting
        specs.update(_space_specs(space, at, lambda found: len(set(found) - set(specs)), force))
    stderr.print(f"fitting the cost model ({len(estimate.GROUPS)} terms) to the {len(timings)} networks of "
                 f"{timings_path} ...", highlight=False, soft_wrap=True)
    result = estimate.fit_timings(timings, where=str(timings_path),
                                  progress=KeyProgress(f"counting the op features of the {len(timings)} networks of "
                                                       f"{timings_path.name}", unit="network"))
    stderr.print(f"leave-one-out error {result.loo_mape:.1f}% mean, {result.loo_max:.1f}% max; recording the range of "
                 f"the {len(timings)} networks for the intervals (building each) and pricing {len(specs):,} block "
                 "keys ...", highlight=False, soft_wrap=True)
    table = estimate.estimated_table(result, specs.values(), device=name, source=timings_path,
                                     csv_rows=sum(len(t.rows) for t in timings), resolution=at, runtime=runtime,
                                     runtime_version=timings_runtime_version(timings) or "",
                                     space=space.name if with_space else None,
                                     progress=KeyProgress(f"pricing the block keys of '{name}'"))
    path = write_user_table(table, tables_dir=tables_dir, force=force, checks=[estimate.fit_checks(result)])
    forced = table.provenance.get("forced")
    if forced:
        stderr.print(f"[yellow]warning:[/yellow] written with --force despite: {'; '.join(forced['problems'])}",
                     highlight=False, soft_wrap=True)
    summary = {"device": name, "path": str(path), "entries": len(table.entries), "method": table.method,
               "runtime": runtime, "resolution": at, "hash": table.hash, "protocol": estimate.PROTOCOL,
               "protocol_scales": {}, "coef_ms": table.provenance["coef_ms"],
               "network_overhead_ms": table.network_overhead_ms, "loo_mape_pct": round(result.loo_mape, 2),
               "loo_max_pct": round(result.loo_max, 2), "networks": result.networks(), "forced": forced,
               "rows": _network_rows(table.provenance)}
    if as_json:
        emit_json(summary)
        return
    _print_fit(summary)


def _network_rows(prov: dict) -> list[dict]:
    """The per-row view `_print_fit` shows, from a timings fit's provenance."""
    return [{"model": n["name"], "protocol": prov.get("protocol"), "published_ms": n["measured_ms"],
             "fit_ms": n["fitted_ms"], "loo_ms": n["loo_ms"], "loo_ape_pct": abs(n["loo_error_pct"])}
            for n in prov.get("calibration", {}).get("networks", [])]


@tables.command("show")
@click.option("--device", default="iphone12", show_default=True,
              help="Estimated table to show (iphone12, or one fitted by --timings).")
@click.option("--tables", "tables_dir", type=click.Path(file_okay=False), default=None,
              help="Extra folder searched first for tables.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def show_cmd(device: str, tables_dir: str | None, as_json: bool) -> None:
    """Show how an estimated table was fitted: protocol, coefficients, leave-one-out errors."""
    from nas.latency.table import load_table

    table = load_table(device, tables_dir)
    if table.method != "estimated":
        raise UsageError(f"table '{device}' is {table.method}: `nas tables show` shows estimated tables (see `nas "
                         "devices` for the others)")
    prov = table.provenance
    summary = {
        "device": device, "path": str(table.path), "entries": len(table.entries), "method": table.method,
        "protocol": prov.get("protocol"), "protocol_scales": prov.get("protocol_scales") or {},
        "coef_ms": prov.get("coef_ms"), "loo_mape_pct": prov.get("loo_mape_pct"),
        "rows": prov.get("rows") or _network_rows(prov), "activation_pricing": prov.get("activation_pricing"),
    }
    if as_json:
        emit_json(summary)
        return
    _print_fit(summary)


def _print_fit(summary: dict) -> None:
    from rich.table import Table

    published = bool(summary["protocol_scales"])  # the iPhone fit: published rows of several protocols
    what, truth = ("published row", "published ms") if published else ("timed network", "measured ms")
    rows = Table(title=f"{summary['device']} ({summary['method']}, protocol {summary['protocol']}): "
                       f"leave-one-network-out error per {what}")
    for col in ("model", "protocol", truth, "fit ms", "LOO ms", "LOO error %"):
        rows.add_column(col, justify="left" if col in ("model", "protocol") else "right")
    for r in summary["rows"]:
        rows.add_row(r["model"], r["protocol"], f"{r['published_ms']:.2f}", f"{r['fit_ms']:.2f}",
                     f"{r['loo_ms']:.2f}", f"{r['loo_ape_pct']:.1f}")
    stdout.print(rows)
    coef = ", ".join(f"{g}={c:.3g}" for g, c in summary["coef_ms"].items())
    stdout.print(f"coefficients (ms per unit): {coef}")
    if published:
        scales = ", ".join(f"{p}={s}" for p, s in summary["protocol_scales"].items())
        stdout.print(f"protocol scales: {scales}")
    stdout.print(f"mean leave-one-out error: {summary['loo_mape_pct']:.1f}%  "
                 f"({summary['entries']} entries in {summary['path']})")
    if summary.get("activation_pricing"):
        stdout.print(f"activations: {summary['activation_pricing']}", highlight=False)
