"""`nas export`: write the chosen architecture as config JSON, ONNX, Core ML or TorchScript."""

from __future__ import annotations

import click

from nas.cli.common import emit_json, stderr, stdout
from nas.export.formats import EXPORTERS  # light: torch, onnx and coremltools load inside the exporters


@click.command("export")
@click.argument("source", metavar="RUN_DIR|CONFIG|PRESET")
@click.option("--trial", type=int, default=None, help="Trial number in the run folder.")
@click.option("--pick", type=click.Choice(["best", "fastest"]), default=None,
              help="Pareto point within the budget: highest proxy accuracy or lowest latency (default best).")
@click.option("--format", "fmt", type=click.Choice(list(EXPORTERS)), required=True, help="What to write.")
@click.option("--out", "out_path", type=click.Path(), required=True,
              help="Output file (.json, .onnx, .mlpackage, .pt); replaced if it exists.")
@click.option("--resolution", type=int, default=None, help="Input size (default: the config's).")
@click.option("--device", default=None, help="Latency table to price a config or preset with (JSON format).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def export(source: str, trial: int | None, pick: str | None, fmt: str, out_path: str, resolution: int | None,
           device: str | None, as_json: bool) -> None:
    """Export an architecture from a run (a trial or a Pareto pick), a config JSON or a preset.

    Every export is reloaded and checked: the JSON rebuilds the same parameter count; ONNX runs in
    onnxruntime and TorchScript reloads, both compared with the torch output; the Core ML package's
    spec is loaded and its shapes checked (its prediction is compared on macOS only).
    """
    from pathlib import Path

    from nas.export import check_output, export_model, select_arch

    check_output(Path(out_path), fmt)
    sel = select_arch(source, trial=trial, pick=pick, device=device, resolution=resolution)
    what = f"trial {sel.trial} of {sel.ref}" if sel.trial is not None else f"{sel.source} {sel.ref}"
    stderr.print(f"exporting {what} ({sel.cfg.name}, {sel.cfg.resolution}x{sel.cfg.resolution}) as {fmt}")
    result = export_model(sel.cfg, fmt, out_path, info=sel.info)
    if as_json:
        emit_json({**result.to_dict(), "trial": sel.trial, "source": sel.source, "arch": sel.cfg.name,
                   "latency": sel.info.get("latency")})
        return
    for line in result.checks:
        stdout.print(f"[green]ok[/green] {line}", highlight=False, soft_wrap=True)
