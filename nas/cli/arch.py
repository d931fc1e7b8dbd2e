"""Commands that show architectures and spaces: presets, spaces, space show, arch show."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from nas.cli.common import emit_json, load_arch, stdout
from nas.space import DEFAULT_SPACE


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def presets(as_json: bool) -> None:
    """List the published reference networks (names usable wherever a config is accepted)."""
    from nas.models.presets import PRESETS

    rows = [
        {"name": p.name, "family": p.family, "resolution": p.resolution, "params_m": p.params_m,
         "macs_g": p.macs_g, "source": p.source}
        for p in PRESETS.values()
    ]
    if as_json:
        emit_json({"presets": rows})
        return
    table = Table(title="Published presets (numbers as published)")
    for col in ("name", "family", "resolution", "params (M)", "MACs (G)", "source"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["name"], r["family"], str(r["resolution"]), f"{r['params_m']:.1f}",
                      "-" if r["macs_g"] is None else f"{r['macs_g']:.1f}", r["source"])
    stdout.print(table)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--resolution", default=None, help="Deploy resolution(s) instead of each space's: 256 or 224,256.")
def spaces(as_json: bool, resolution: str | None) -> None:
    """List the search spaces found (at --resolution: their sizes there)."""
    from nas.space import list_spaces, load_space, parse_resolutions

    rows = []
    for name, path in list_spaces().items():
        space = load_space(path)
        if resolution:
            space = space.at_resolution(*parse_resolutions(resolution))
        rows.append({"name": name, "path": str(path), "families": list(space.families), "size": space.size(),
                     "resolution": space.resolution, "resolutions": list(space.resolutions),
                     "description": space.description})
    if as_json:
        emit_json({"spaces": rows})
        return
    table = Table(title="Search spaces")
    for col in ("name", "families", "architectures", "resolution", "path"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["name"], ", ".join(r["families"]), f"{r['size']:,}", ", ".join(map(str, r["resolutions"])),
                      r["path"])
    stdout.print(table)


@click.group()
def space() -> None:
    """Inspect a search space."""


@space.command("show")
@click.argument("name", default=DEFAULT_SPACE)
@click.option("--resolution", default=None, help="Deploy resolution(s) instead of the space's: 256 or 224,256.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def space_show(name: str, resolution: str | None, as_json: bool) -> None:
    """Show the choices of space NAME (a shipped name or a YAML path)."""
    from nas.space import load_space, parse_resolutions

    sp = load_space(name)
    if resolution:
        sp = sp.at_resolution(*parse_resolutions(resolution))
    info = sp.to_dict()
    if as_json:
        emit_json(info)
        return
    stdout.print(f"[bold]{sp.name}[/bold]: {sp.description}")
    at = ", ".join(map(str, sp.resolutions)) + (" (searched over)" if len(sp.resolutions) > 1 else "")
    stdout.print(f"deploy resolution {at}, {sp.size():,} architectures, presets: "
                 f"{', '.join(info['presets']) or 'none'}")
    for fam, choices in info["families"].items():
        table = Table(title=f"family {fam}", title_justify="left")
        table.add_column("choice")
        table.add_column("options")
        for cname, opts in choices.items():
            text = " | ".join(str(o) for o in opts["per_stage"]) if isinstance(opts, dict) else str(opts)
            table.add_row(cname + (" (per stage)" if isinstance(opts, dict) else ""), text)
        stdout.print(table)


@click.group()
def arch() -> None:
    """Inspect an architecture (preset name or config JSON)."""


def _stage_rows(model: Any, stats: list[tuple[int, int]]) -> list[dict[str, Any]]:
    cfg = model.cfg
    rows: dict[int, dict[str, Any]] = {}
    for spec, (params, macs) in zip(model.specs, stats):
        row = rows.setdefault(spec.stage, {"stage": spec.stage, "params": 0, "macs": 0, "blocks": 0})
        row["params"] += params
        row["macs"] += macs
        row["blocks"] += 1
        row["out_shape"] = list(spec.out_shape)
    out = []
    for idx in sorted(rows):
        row = rows[idx]
        if idx == -1:
            row.update(name="stem", mixer=cfg.stem.kind, depth=len(cfg.stem.channels), channels=cfg.stem.channels[-1])
        elif idx == len(cfg.stages):
            row.update(name="head", mixer=cfg.head.pool, depth=1, channels=cfg.num_classes)
        else:
            st = cfg.stages[idx]
            row.update(name=f"stage {idx + 1}", mixer=st.mixer.kind, depth=st.depth, channels=st.channels,
                       downsample=st.downsample.kind, act=st.act, norm=st.norm)
        out.append(row)
    return out


@arch.command("show")
@click.argument("ref")
@click.option("--resolution", type=int, default=None, help="Input size (default: the config's deploy resolution).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def arch_show(ref: str, resolution: int | None, as_json: bool) -> None:
    """Params, MACs and per-stage summary of REF (a preset name or a config JSON file)."""
    from nas.models.builder import build_model
    from nas.models.stats import block_stats

    cfg = load_arch(ref)
    if resolution is not None:
        cfg = cfg.replace(resolution=resolution)  # validates divisibility, one-line error otherwise
    model = build_model(cfg)
    stats = block_stats(model, (1, cfg.in_chans, cfg.resolution, cfg.resolution))
    params, macs = sum(p for p, _ in stats), sum(m for _, m in stats)
    stages = _stage_rows(model, stats)
    if as_json:
        emit_json({"name": cfg.name, "params": params, "macs": macs, "resolution": cfg.resolution,
                   "total_stride": cfg.total_stride, "blocks": len(model.specs), "stages": stages,
                   "config": cfg.to_dict()})
        return
    stdout.print(f"[bold]{cfg.name}[/bold]  params {params / 1e6:.2f} M   MACs {macs / 1e9:.3f} G   "
                 f"resolution {cfg.resolution}   total stride {cfg.total_stride}   blocks {len(model.specs)}")
    if cfg.notes:
        stdout.print(f"note: {cfg.notes}")
    table = Table()
    for col in ("", "mixer", "depth", "ch", "down", "act", "norm", "output", "params M", "MACs M"):
        table.add_column(col, justify="right" if col in ("depth", "ch", "params M", "MACs M") else "left")
    for r in stages:
        table.add_row(r["name"], r["mixer"], str(r["depth"]), str(r["channels"]), r.get("downsample", ""),
                      r.get("act", ""), r.get("norm", ""), "x".join(map(str, r["out_shape"])),
                      f"{r['params'] / 1e6:.3f}", f"{r['macs'] / 1e6:.1f}")
    stdout.print(table)
