"""``measured.json``: latencies of a run's networks measured end to end, beside their predictions.

Two commands write it: ``nas search --verify K`` (the K front points nearest the budget, timed on this machine)
and ``nas report RUN --timings CSV`` (times measured on the device, e.g. from ``nas export RUN --front``'s
timings.csv). The writer and the reader lend each trial record its ``measured_ms``, so trials.csv, pareto.json
and the report show measured beside predicted.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nas.files import write_json
from nas.run.meta import RunFolderError
from nas.run.record import TrialRecord

MEASURED_JSON = "measured.json"


@dataclass(frozen=True)
class Measurement:
    """One network of a run measured end to end: its trial, the median ms, and how it was measured."""

    trial: int
    measured_ms: float
    source: str


def read_measured(folder: str | Path) -> dict[int, Measurement]:
    """The measurements of the run in ``folder`` by trial ({} when none were taken).

    Raises:
        RunFolderError: measured.json exists but cannot be read.
    """
    path = Path(folder) / MEASURED_JSON
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
        return {int(k): Measurement(int(k), float(v["measured_ms"]), str(v.get("source") or ""))
                for k, v in (data.get("trials") or {}).items() if math.isfinite(float(v["measured_ms"]))}
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise RunFolderError(f"'{path}' cannot be read as the run's measurements ({exc}); move it away to "
                             "read the run without them") from None


def write_measured(folder: str | Path, measurements: Iterable[Measurement]) -> dict[int, Measurement]:
    """Add ``measurements`` to the run's measured.json (a trial measured again takes the new time); returns all."""
    merged = read_measured(folder)
    merged.update({m.trial: m for m in measurements})
    write_json(Path(folder) / MEASURED_JSON,
               {"trials": {str(t): {"measured_ms": m.measured_ms, "source": m.source}
                           for t, m in sorted(merged.items())}})
    return merged


def with_measured(record: TrialRecord, measured: dict[int, Measurement]) -> TrialRecord:
    """``record`` with its measured latency, when it has one."""
    m = measured.get(record.trial)
    return record if m is None else record.with_(measured_ms=m.measured_ms)


def timings_measurements(run: Any, timings_csv: str | Path) -> list[Measurement]:
    """The run's trials timed in ``timings_csv`` (``arch,latency_ms``, as ``nas export RUN --front`` writes it and
    ``nas latency calibrate --timings`` reads it), matched to trials by the network each row builds.

    Raises:
        CalibrationError: the CSV cannot be read (a row is named).
        UsageError: a row's network is no scored trial of the run.
    """
    from nas.config import arch_id
    from nas.errors import UsageError
    from nas.latency.measure import read_timings
    from nas.latency.table import load_table

    base = load_table(run.device, run.meta.tables_dir)
    by_arch = {r.arch: r for r in run.records if r.scored and r.arch}
    out = []
    for timing in read_timings(timings_csv, base=base):
        record = by_arch.get(arch_id(timing.cfg))
        if record is None:
            raise UsageError(f"{timing.where}: this network is no scored trial of run '{run.path}'; give the "
                             "timings of its front (nas export RUN --front writes the list to fill in)")
        out.append(Measurement(record.trial, round(timing.latency_ms, 6), f"timings: {Path(timings_csv).name}"))
    return out
