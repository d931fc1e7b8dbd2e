"""The run folder: run.json, trials.csv, pareto.json, presets.json, configs/<trial>.json.

Everything but run.json is derived from the study, so any worker can (re)write it at any time; files
are written atomically (temporary file + rename), so a killed run leaves complete files behind.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nas.search.objective import active_params, summarize
from nas.search.pareto import pareto_indices

TRIAL_COLUMNS = ("trial", "state", "feasible", "accuracy", "latency_ms", "params", "macs", "preset", "reason",
                 "seconds")


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, obj: Any) -> None:
    """Atomically write ``obj`` as indented JSON."""
    write_atomic(path, json.dumps(obj, indent=2, default=str) + "\n")


@dataclass(frozen=True)
class TrialRecord:
    """What the run folder needs of one Optuna trial."""

    trial: int
    state: str
    feasible: bool
    trained: bool
    accuracy: float | None
    latency_ms: float | None
    params: int | None
    macs: int | None
    preset: str
    reason: str
    seconds: float | None
    optuna_params: dict[str, Any]


def records(study: Any) -> list[TrialRecord]:
    """One record per trial of ``study`` (every state), by trial number."""
    out = []
    for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
        ua = t.user_attrs
        complete = t.state.name == "COMPLETE"
        accuracy = ua.get("accuracy") if complete and ua.get("feasible") else None
        reason = ua.get("reason") or ("" if t.state.name != "FAIL" else t.system_attrs.get("fail_reason", ""))
        if complete and ua.get("feasible") is False:
            reason = reason or "over budget: not trained"
        if ua.get("duplicate_of") is not None:
            reason = reason or f"same params as trial {ua['duplicate_of']}: score reused"
        out.append(TrialRecord(
            trial=t.number, state=t.state.name, feasible=bool(complete and ua.get("feasible")),
            trained=bool(ua.get("trained")), accuracy=accuracy, latency_ms=ua.get("latency_ms"),
            params=ua.get("params"), macs=ua.get("macs"), preset=ua.get("preset") or "",
            reason=str(reason), seconds=ua.get("seconds"), optuna_params=active_params(dict(t.params)),
        ))
    return out


def front(recs: list[TrialRecord], budget_ms: float) -> list[TrialRecord]:
    """The Pareto front of the feasible, scored trials (fastest first); every point is within budget."""
    scored = [r for r in recs if r.feasible and r.accuracy is not None and r.latency_ms is not None
              and r.latency_ms <= budget_ms]
    return [scored[i] for i in pareto_indices([(r.accuracy, r.latency_ms) for r in scored])]


def trials_csv(recs: list[TrialRecord]) -> str:
    """trials.csv text: one row per trial, columns TRIAL_COLUMNS."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(TRIAL_COLUMNS)
    for r in recs:
        writer.writerow([r.trial, r.state, int(r.feasible), _num(r.accuracy), _num(r.latency_ms),
                         _num(r.params), _num(r.macs), r.preset, r.reason, _num(r.seconds)])
    return buf.getvalue()


def _num(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:.6g}" if isinstance(value, float) else str(value)


class RunFolder:
    """Writes a run folder from the study; configs are replayed from trial params with the space."""

    def __init__(self, path: Path, *, space: Any, budget_ms: float, meta: dict[str, Any],
                 presets: list[dict[str, Any]]):
        self.path, self.space, self.budget_ms, self.meta = Path(path), space, budget_ms, meta
        self.presets = presets  # [{name, latency_ms, params, macs}] priced at start
        self._configs: dict[int, Any] = {}

    def config(self, rec: TrialRecord) -> Any:
        if rec.trial not in self._configs:
            self._configs[rec.trial] = self.space.config_from_params(rec.optuna_params)
        return self._configs[rec.trial]

    def write(self, study: Any) -> list[TrialRecord]:
        """(Re)write trials.csv, configs/, pareto.json and presets.json; returns the front."""
        recs = records(study)
        write_atomic(self.path / "trials.csv", trials_csv(recs))
        configs = self.path / "configs"
        for r in recs:
            target = configs / f"{r.trial}.json"
            if r.state == "COMPLETE" and not target.exists():
                write_atomic(target, self.config(r).to_json(indent=2) + "\n")
        points = front(recs, self.budget_ms)
        table = self.meta.get("table") or {}
        write_json(self.path / "pareto.json", {
            "device": self.meta.get("device"), "budget_ms": self.budget_ms, "method": table.get("method"),
            "table_hash": table.get("hash"), "proxy": self.meta.get("proxy"),
            "points": [{
                "trial": r.trial, "accuracy": r.accuracy, "latency_ms": r.latency_ms, "params": r.params,
                "macs": r.macs, "preset": r.preset or None, "summary": summarize(self.config(r)),
                "optuna_params": r.optuna_params, "config": self.config(r).to_dict(),
            } for r in points],
        })
        by_preset = {r.preset: r for r in recs if r.preset and r.state == "COMPLETE"}
        write_json(self.path / "presets.json", [
            {**p, **{k: getattr(by_preset.get(p["name"]), k, None) for k in ("params", "macs", "accuracy", "trial")}}
            for p in self.presets
        ])
        return points
