"""Export every point of a run's Pareto front (``nas export RUN --front``), with a timings.csv to fill in.

Each front point is written twice: its config JSON (``trial-N.json``, what ``nas latency calibrate --timings``
reads as ``arch``) and, for another format, the model itself (``trial-N.onnx`` / ``trial-N.mlpackage``).
``timings.csv`` lists one row per point (``arch,latency_ms,trial,predicted_ms``) with ``latency_ms`` empty, to be
filled in with times measured on the device.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from nas.export.errors import OutputPathError
from nas.export.formats import EXPORTERS, ExportResult, export_model
from nas.export.source import select_arch
from nas.latency.measure import TIMINGS_COLUMNS
from nas.run import NoFeasibleTrialError, load_run

TIMINGS_FILE = "timings.csv"
# the columns every timings CSV has (what calibrate and report --timings read), then what helps fill it in
TIMINGS_HEADER = (*TIMINGS_COLUMNS, "trial", "predicted_ms")
README_FILE = "README.txt"


@dataclass
class FrontExport:
    """What ``export_front`` wrote: one result per front point and the timings CSV."""

    out_dir: Path
    timings: Path
    results: dict[int, list[ExportResult]] = field(default_factory=dict)


def export_front(run_dir: str | Path, fmt: str, out_dir: str | Path) -> FrontExport:
    """Export every Pareto point of the run in ``run_dir`` as ``fmt`` into ``out_dir``, plus ``timings.csv``.

    Raises:
        NotARunError, NoFeasibleTrialError, OutputPathError (``out_dir`` is a file, or holds a filled-in
        timings.csv that would be overwritten), ExportError, CoremlMissingError.
    """
    run = load_run(Path(run_dir))
    front = sorted(run.front(), key=lambda r: r.latency_ms)  # type: ignore[arg-type, return-value]
    if not front:
        raise NoFeasibleTrialError(f"run '{run.path}' has no trial within {run.budget_ms:g} ms on {run.device}; "
                                   "nothing to export")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise OutputPathError(f"--front writes a folder; '{out}' is a file")
    timings = out / TIMINGS_FILE
    _refuse_filled_timings(timings)
    written = FrontExport(out_dir=out, timings=timings)
    for record in front:
        sel = select_arch(run.path, trial=record.trial)
        stem = f"trial-{record.trial}"
        results = [export_model(sel.cfg, "json", out / f"{stem}.json", info=sel.info)]
        if fmt != "json":
            results.append(export_model(sel.cfg, fmt, out / f"{stem}{EXPORTERS[fmt].suffix}", info=sel.info))
        written.results[record.trial] = results
    with timings.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(TIMINGS_HEADER)
        for record in front:
            writer.writerow([f"trial-{record.trial}.json", "", record.trial, f"{record.latency_ms:.4f}"])
    model = "the trial-N.json" if fmt == "json" else f"each trial-N{EXPORTERS[fmt].suffix}"
    (out / README_FILE).write_text(
        f"Front of run {run.path} ({len(front)} points, predicted on {run.device}, budget {run.budget_ms:g} ms).\n"
        f"Time {model} on the device (median end-to-end ms), write it into the latency_ms column of "
        f"{TIMINGS_FILE}, then fit a table to the device: "
        f"nas latency calibrate --device {run.device} --as NEW --timings {timings}\n")
    return written


def _refuse_filled_timings(path: Path) -> None:
    """Refuse to overwrite a timings CSV that already holds measured times."""
    if not path.is_file():
        return
    with path.open(newline="") as fh:
        filled = [row for row in csv.DictReader(fh) if (row.get("latency_ms") or "").strip()]
    if filled:
        raise OutputPathError(f"'{path}' already holds {len(filled)} measured time(s); export the front into "
                              "another folder or move that file first")
