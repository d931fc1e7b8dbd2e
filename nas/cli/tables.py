"""`nas tables`: fit, extend and inspect estimated latency tables (iPhone 12 from published latencies)."""

from __future__ import annotations

import click

from nas.cli.common import emit_json, stderr, stdout
from nas.errors import UnknownNameError, UsageError

ESTIMATED_DEVICES = ("iphone12",)


@click.group()
def tables() -> None:
    """Fit estimated latency tables from published device latencies."""


@tables.command("fit")
@click.option("--device", default="iphone12", show_default=True,
              help="Estimated table: refit (iphone12), or extend with --space/--resolution (any estimated table).")
@click.option("--space", "space_name", default=None,
              help="Add the entries of this space (name or YAML) that the table lacks, priced by its cost model.")
@click.option("--resolution", type=click.IntRange(min=1), default=None,
              help="Resolution of those entries (default: the space's); with --space, or alone for the "
                   "table's space.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default=None,
              help="Refit only: write the table here instead of the shipped latency_tables/<device>.json.")
@click.option("--tables", "tables_dir", type=click.Path(file_okay=False), default=None,
              help="Extra folder searched first for tables.")
@click.option("--json", "as_json", is_flag=True, help="Print the fit summary as JSON.")
def fit_cmd(device: str, space_name: str | None, resolution: int | None, out_path: str | None,
            tables_dir: str | None, as_json: bool) -> None:
    """Refit the cost model to the published rows and rewrite the estimated table, or (--space/--resolution)
    price a whole space's blocks with the table's cost model ahead of a search."""
    import sys

    def progress(done: int, total: int) -> None:
        if sys.stderr.isatty() and (done % 50 == 0 or done == total):
            stderr.print(f"pricing block keys: {done}/{total}", end="\r" if done < total else "\n")

    if space_name is not None or resolution is not None:
        if out_path is not None:
            raise UsageError("--out applies to a refit; entries added with --space/--resolution are stored beside "
                             "the table (see `nas devices`)")
        _extend(device, space_name, resolution, tables_dir, as_json, progress)
        return
    if device not in ESTIMATED_DEVICES:
        raise UnknownNameError("device to refit", device, list(ESTIMATED_DEVICES))
    from nas.latency import iphone

    stderr.print(f"fitting the {device} cost model to {iphone.DATA_CSV.name} ...")
    table, result = iphone.fit_and_write(out_path, progress=progress)
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


def _extend(device: str, space_name: str | None, resolution: int | None, tables_dir: str | None, as_json: bool,
            progress) -> None:
    """`nas tables fit --space S --resolution R`: the space's missing entries, priced by the table's cost model."""
    from nas.latency import extend
    from nas.latency.table import load_table
    from nas.latency.validate import table_space
    from nas.space_members import block_specs

    table = load_table(device, tables_dir)
    if extend.cost_model(table) is None:
        raise UsageError(f"table '{device}' is {table.method} and carries no cost model: only estimated tables "
                         f"are extended; measure its missing keys with: nas profile --device {device} --space "
                         f"{space_name or 'SPACE'} --resolution {resolution or 'R'} --only-missing")
    space = table_space(table, space_name)
    at = resolution or space.resolution
    specs = block_specs(space, resolution=at)
    origin = f"nas tables fit --space {space.name} --resolution {at}"
    added = extend.price_blocks(table, specs.values(), origin=origin, progress=progress)
    summary = {"device": device, "space": space.name, "resolution": at, "keys": len(specs), "added": len(added),
               "model": extend.model_version(table), "path": str(extend.added_path(table)),
               "table_hash": table.hash}
    if as_json:
        emit_json(summary)
        return
    stdout.print(f"space '{space.name}' at {at} px: {len(specs):,} block keys, {len(added):,} added to '{device}' by "
                 f"its cost model ({summary['model']}), {len(specs) - len(added):,} already priced; stored in "
                 f"{summary['path']}", highlight=False, soft_wrap=True)


@tables.command("show")
@click.option("--device", type=click.Choice(ESTIMATED_DEVICES), default="iphone12", show_default=True,
              help="Device whose estimated table to show.")
@click.option("--tables", "tables_dir", type=click.Path(file_okay=False), default=None,
              help="Extra folder searched first for tables.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def show_cmd(device: str, tables_dir: str | None, as_json: bool) -> None:
    """Show how an estimated table was fitted: protocol, coefficients, leave-one-out errors."""
    from nas.latency.table import load_table

    table = load_table(device, tables_dir)
    prov = table.provenance
    summary = {
        "device": device, "path": str(table.path), "entries": len(table.entries), "method": table.method,
        "protocol": prov.get("protocol"), "protocol_scales": prov.get("protocol_scales"),
        "coef_ms": prov.get("coef_ms"), "loo_mape_pct": prov.get("loo_mape_pct"), "rows": prov.get("rows", []),
    }
    if as_json:
        emit_json(summary)
        return
    _print_fit(summary)


def _print_fit(summary: dict) -> None:
    from rich.table import Table

    rows = Table(title=f"{summary['device']} ({summary['method']}, protocol {summary['protocol']}): "
                       f"leave-one-network-out error per published row")
    for col in ("model", "protocol", "published ms", "fit ms", "LOO ms", "LOO error %"):
        rows.add_column(col, justify="left" if col in ("model", "protocol") else "right")
    for r in summary["rows"]:
        rows.add_row(r["model"], r["protocol"], f"{r['published_ms']:.2f}", f"{r['fit_ms']:.2f}",
                     f"{r['loo_ms']:.2f}", f"{r['loo_ape_pct']:.1f}")
    stdout.print(rows)
    coef = ", ".join(f"{g}={c:.3g}" for g, c in summary["coef_ms"].items())
    stdout.print(f"coefficients (ms per unit): {coef}")
    scales = ", ".join(f"{p}={s}" for p, s in summary["protocol_scales"].items())
    stdout.print(f"protocol scales: {scales}")
    stdout.print(f"mean leave-one-out error: {summary['loo_mape_pct']:.1f}%  "
                 f"({summary['entries']} entries in {summary['path']})")
