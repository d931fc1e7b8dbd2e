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
@click.option("--front", is_flag=True,
              help="Export every Pareto point of the run into the folder --out (trial-N.json and model files) "
                   "with a timings.csv to fill in for `nas latency calibrate --timings`.")
@click.option("--format", "fmt", type=click.Choice(list(EXPORTERS)), required=True, help="What to write.")
@click.option("--out", "out_path", type=click.Path(), required=True,
              help="Output file (.json, .onnx, .mlpackage, .pt); replaced if it exists. With --front: a folder.")
@click.option("--resolution", type=int, default=None, help="Input size (default: the config's).")
@click.option("--device", default=None, help="Latency table to price a config or preset with (JSON format).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def export(source: str, trial: int | None, pick: str | None, front: bool, fmt: str, out_path: str,
           resolution: int | None, device: str | None, as_json: bool) -> None:
    """Export an architecture from a run (a trial or a Pareto pick), a config JSON or a preset.

    Every export is reloaded and checked: the JSON rebuilds the same parameter count; ONNX runs in
    onnxruntime and TorchScript reloads, both compared with the torch output; the Core ML package's
    spec is loaded and its shapes checked (its prediction is compared on macOS only).
    """
    from pathlib import Path

    from nas.export import check_output, export_model, select_arch

    if front:
        _export_front(source, trial=trial, pick=pick, fmt=fmt, out_dir=out_path, resolution=resolution,
                      device=device, as_json=as_json)
        return
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
    for line in result.notes:
        stdout.print(line, markup=False, highlight=False, soft_wrap=True)


def _export_front(source: str, *, trial: int | None, pick: str | None, fmt: str, out_dir: str,
                  resolution: int | None, device: str | None, as_json: bool) -> None:
    """`nas export RUN --front`: every Pareto point into ``out_dir`` plus its timings.csv."""
    from pathlib import Path

    from nas.errors import UsageError
    from nas.export.front import export_front

    if trial is not None or pick is not None or resolution is not None or device is not None:
        raise UsageError("--front exports the whole front as the run priced it; drop --trial/--pick/--resolution/"
                         "--device")
    if not Path(source).is_dir():
        raise UsageError(f"--front exports a run's Pareto front; '{source}' is not a run folder")
    written = export_front(source, fmt, out_dir)
    if as_json:
        emit_json({"out": str(written.out_dir), "timings": str(written.timings), "format": fmt,
                   "trials": {str(t): [r.to_dict() for r in rs] for t, rs in written.results.items()}})
        return
    for trial_number, results in written.results.items():
        paths = ", ".join(str(r.path) for r in results)
        stdout.print(f"[green]ok[/green] trial {trial_number}: {paths}", highlight=False, soft_wrap=True)
    stdout.print(f"fill in {written.timings} (latency_ms measured on the device), then `nas latency calibrate "
                 f"--timings {written.timings}`; see {written.out_dir / 'README.txt'}", highlight=False, soft_wrap=True)
