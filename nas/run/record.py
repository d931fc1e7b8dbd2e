"""One trial of a search, typed: what it built, what it cost, what it scored at every rung.

A trial's record lives in the Optuna study under one user attribute (``RECORD_ATTR``), as the dict
``TrialRecord.to_attr()``; the trial's number, state and params are Optuna's own. ``trials.csv`` holds
one row per trial (``to_row`` / ``from_row``) and ``pareto.json`` one point per front trial
(``to_point``), so the study, the CSV, the front, the report and the export all read this one record.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from typing import Any

RECORD_ATTR = "nas"

# trials.csv columns; the first ten are the columns of the first run folders (kept for their readers)
TRIAL_COLUMNS = ("trial", "state", "feasible", "accuracy", "latency_ms", "params", "macs", "preset", "reason",
                 "seconds", "score", "metric", "rung", "steps", "rung_scores", "cpu_s", "origin", "arch",
                 "resolution", "retry_of", "worker", "optuna_params", "duplicate_of", "latency_low_ms",
                 "latency_high_ms", "latency_level", "budget_chance", "latency_outside", "device_latencies",
                 "measured_ms")

# where a trial came from
ORIGINS = ("preset", "fastest", "sampler", "retry")


@dataclass(frozen=True)
class Rung:
    """The score of a candidate after ``steps`` training steps (0 for a training-free proxy)."""

    steps: int
    score: float
    cpu_s: float = 0.0  # CPU seconds spent since the previous rung (or the start)

    def to_list(self) -> list[Any]:
        return [self.steps, self.score, round(self.cpu_s, 3)]  # the CSV keeps cpu_s to the millisecond too

    @classmethod
    def from_list(cls, item: Any) -> Rung:
        steps, score, cpu_s = (list(item) + [0.0])[:3]
        return cls(int(steps), float(score), float(cpu_s))


@dataclass(frozen=True)
class TrialRecord:
    """Everything the run knows of one trial.

    Attributes:
        trial: the Optuna trial number.
        state: the Optuna state name (COMPLETE, FAIL, RUNNING, WAITING).
        origin: ``preset``, ``fastest`` (the fastest network of the space), ``sampler`` or ``retry``.
        arch: the network's identity (two trials with the same ``arch`` build the same network).
        latency_ms: the predicted latency on the run's table, at ``resolution`` (None until priced).
        resolution: the deploy resolution the latency was priced at.
        preset: the preset's name when the trial is one.
        rungs: the score at every rung reached, in order; the last one is the trial's score.
        params, macs: of the network at its deploy resolution.
        reason: why it failed or was interrupted, or a note.
        seconds: wall-clock seconds spent scoring it (all rungs).
        worker: ``host:pid`` of the process that ran it.
        retry_of: the interrupted trial this one continues.
        duplicate_of: the trial that holds the same network (two workers proposed it at once); not scored.
        optuna_params: the trial's Optuna params (what replays it through the space).
        latency_low_ms, latency_high_ms, latency_level: the interval of ``latency_ms`` from the table's evidence
            (``nas.latency.interval``), at the run's confidence (else 0.9).
        budget_chance: the chance, under that interval, that the true latency is within the budget.
        latency_outside: where the network lies outside the range the table was fitted or calibrated on.
        device_latencies: predicted latency on each further device of the run (device -> ms).
        measured_ms: the latency measured end to end on the run's device (``--verify``, ``nas report
            --timings``), None when not measured.
    """

    trial: int
    state: str
    origin: str = "sampler"
    arch: str = ""
    latency_ms: float | None = None
    resolution: int | None = None
    preset: str = ""
    rungs: tuple[Rung, ...] = ()
    params: int | None = None
    macs: int | None = None
    reason: str = ""
    seconds: float | None = None
    worker: str = ""
    retry_of: int | None = None
    duplicate_of: int | None = None
    optuna_params: dict[str, Any] = field(default_factory=dict)
    latency_low_ms: float | None = None
    latency_high_ms: float | None = None
    latency_level: float | None = None
    budget_chance: float | None = None
    latency_outside: tuple[str, ...] = ()
    device_latencies: dict[str, float] = field(default_factory=dict)
    measured_ms: float | None = None

    # -- derived --------------------------------------------------------------------------
    @property
    def score(self) -> float | None:
        """The score at the highest rung reached (None when not scored)."""
        return self.rungs[-1].score if self.rungs and self.state == "COMPLETE" else None

    @property
    def rung(self) -> int | None:
        """Index of the highest rung reached (0 = the first), None before any."""
        return len(self.rungs) - 1 if self.rungs else None

    @property
    def steps(self) -> int | None:
        """Training steps at the highest rung reached."""
        return self.rungs[-1].steps if self.rungs else None

    @property
    def cpu_s(self) -> float:
        """CPU seconds spent scoring it, all rungs together."""
        return sum(r.cpu_s for r in self.rungs)

    @property
    def scored(self) -> bool:
        return self.score is not None

    @property
    def interrupted(self) -> bool:
        """Stopped before it finished (Ctrl-C, a killed worker): continued by a retry, not a failure."""
        return self.state == "FAIL" and self.reason.startswith("interrupted")

    @property
    def failed(self) -> bool:
        """Could not be scored (non-finite loss, out of memory...); not an interruption or a duplicate."""
        return self.state == "FAIL" and not self.interrupted and self.duplicate_of is None

    def feasible(self, budget_ms: float) -> bool:
        """Priced within ``budget_ms`` (the one definition of feasibility)."""
        return self.latency_ms is not None and self.latency_ms <= budget_ms

    def with_(self, **changes: Any) -> TrialRecord:
        return replace(self, **changes)

    # -- the Optuna user attribute -----------------------------------------------------------
    def to_attr(self) -> dict[str, Any]:
        """The dict stored under ``RECORD_ATTR`` (number, state and params are Optuna's own)."""
        return {"origin": self.origin, "arch": self.arch, "latency_ms": self.latency_ms,
                "resolution": self.resolution, "preset": self.preset,
                "rungs": [r.to_list() for r in self.rungs], "params": self.params, "macs": self.macs,
                "reason": self.reason, "seconds": self.seconds, "worker": self.worker,
                "retry_of": self.retry_of, "duplicate_of": self.duplicate_of,
                "latency_low_ms": self.latency_low_ms, "latency_high_ms": self.latency_high_ms,
                "latency_level": self.latency_level, "budget_chance": self.budget_chance,
                "latency_outside": list(self.latency_outside), "device_latencies": dict(self.device_latencies),
                "measured_ms": self.measured_ms}

    @classmethod
    def from_trial(cls, trial: Any) -> TrialRecord:
        """The record of an Optuna (frozen) trial."""
        attr = dict(trial.user_attrs.get(RECORD_ATTR) or {})
        return cls(
            trial=trial.number, state=trial.state.name, origin=attr.get("origin") or "sampler",
            arch=attr.get("arch") or "", latency_ms=_float(attr.get("latency_ms")),
            resolution=_int(attr.get("resolution")), preset=attr.get("preset") or "",
            rungs=tuple(Rung.from_list(r) for r in attr.get("rungs") or ()), params=_int(attr.get("params")),
            macs=_int(attr.get("macs")), reason=str(attr.get("reason") or ""), seconds=_float(attr.get("seconds")),
            worker=str(attr.get("worker") or ""), retry_of=_int(attr.get("retry_of")),
            duplicate_of=_int(attr.get("duplicate_of")), optuna_params=dict(trial.params),
            **_interval_fields(attr),
        )

    # -- trials.csv -----------------------------------------------------------------------
    def to_row(self, *, budget_ms: float, metric: str, is_accuracy: bool) -> list[str]:
        """The trials.csv row (columns TRIAL_COLUMNS); ``accuracy`` is filled only for accuracy metrics."""
        return [str(self.trial), self.state, "1" if self.scored and self.feasible(budget_ms) else "0",
                _num(self.score if is_accuracy else None), _num(self.latency_ms), _num(self.params),
                _num(self.macs), self.preset, self.reason, _num(self.seconds), _num(self.score),
                metric if self.scored else "", _num(self.rung), _num(self.steps),
                " ".join(f"{r.steps}:{r.score!r}:{r.cpu_s:.3f}" for r in self.rungs), _num(round(self.cpu_s, 3)),
                self.origin, self.arch, _num(self.resolution), _num(self.retry_of), self.worker,
                json.dumps(self.optuna_params, sort_keys=True) if self.optuna_params else "",
                _num(self.duplicate_of), _num(self.latency_low_ms), _num(self.latency_high_ms),
                _num(self.latency_level), _num(self.budget_chance), " ".join(self.latency_outside),
                json.dumps(self.device_latencies, sort_keys=True) if self.device_latencies else "",
                _num(self.measured_ms)]

    @classmethod
    def from_row(cls, row: dict[str, str]) -> TrialRecord:
        """A record from a trials.csv row (rows of the first run folders too: score from ``accuracy``)."""
        rungs = tuple(Rung.from_list(item.split(":")) for item in (row.get("rung_scores") or "").split())
        score = _float(row.get("score")) if row.get("score") else _float(row.get("accuracy"))
        if not rungs and score is not None:  # a row of the first run folders: one score, no rungs
            rungs = (Rung(0, score),)
        params = row.get("optuna_params") or ""
        return cls(
            trial=int(row["trial"]), state=row.get("state") or "", origin=row.get("origin") or "sampler",
            arch=row.get("arch") or "", latency_ms=_float(row.get("latency_ms")),
            resolution=_int(row.get("resolution")), preset=row.get("preset") or "", rungs=rungs,
            params=_int(row.get("params")), macs=_int(row.get("macs")), reason=row.get("reason") or "",
            seconds=_float(row.get("seconds")), worker=row.get("worker") or "", retry_of=_int(row.get("retry_of")),
            optuna_params=json.loads(params) if params else {}, duplicate_of=_int(row.get("duplicate_of")),
            **_interval_fields({**row, "latency_outside": (row.get("latency_outside") or "").split(),
                                "device_latencies": json.loads(row.get("device_latencies") or "{}")}),
        )

    # -- pareto.json ----------------------------------------------------------------------
    def to_point(self, *, metric: str, is_accuracy: bool) -> dict[str, Any]:
        """A pareto.json point (without its config and summary, which the writer adds)."""
        point = {"trial": self.trial, "score": self.score, "metric": metric, "latency_ms": self.latency_ms,
                 "rung": self.rung, "steps": self.steps, "rung_scores": [r.to_list() for r in self.rungs],
                 "params": self.params, "macs": self.macs, "preset": self.preset or None, "origin": self.origin,
                 "arch": self.arch, "resolution": self.resolution, "optuna_params": self.optuna_params,
                 "latency_interval": (None if self.latency_high_ms is None else
                                      {"low_ms": self.latency_low_ms, "high_ms": self.latency_high_ms,
                                       "level": self.latency_level}),
                 "budget_chance": self.budget_chance, "latency_outside": list(self.latency_outside),
                 "device_latencies": dict(self.device_latencies), "measured_ms": self.measured_ms}
        if is_accuracy:
            point["accuracy"] = self.score
        return point

    @classmethod
    def from_point(cls, point: dict[str, Any]) -> TrialRecord:
        """A record from a pareto.json point (points of the first run folders too)."""
        rungs = tuple(Rung.from_list(r) for r in point.get("rung_scores") or ())
        score = point.get("score", point.get("accuracy"))
        if not rungs and score is not None:
            rungs = (Rung(int(point.get("steps") or 0), float(score)),)
        return cls(trial=int(point["trial"]), state="COMPLETE", origin=point.get("origin") or "sampler",
                   arch=point.get("arch") or "", latency_ms=_float(point.get("latency_ms")),
                   resolution=_int(point.get("resolution")), preset=point.get("preset") or "", rungs=rungs,
                   params=_int(point.get("params")), macs=_int(point.get("macs")),
                   optuna_params=dict(point.get("optuna_params") or {}),
                   **_interval_fields({**(point.get("latency_interval") or {}), **point}))


def _interval_fields(data: dict[str, Any]) -> dict[str, Any]:
    """The interval, further-device and measured fields of a record from a dict of any of its forms (the study
    attribute, a trials.csv row, a pareto.json point); absent in run folders written before them."""
    low = data.get("latency_low_ms", data.get("low_ms"))
    high = data.get("latency_high_ms", data.get("high_ms"))
    level = data.get("latency_level", data.get("level"))
    return {"latency_low_ms": _float(low), "latency_high_ms": _float(high), "latency_level": _float(level),
            "budget_chance": _float(data.get("budget_chance")),
            "latency_outside": tuple(str(a) for a in data.get("latency_outside") or ()),
            "device_latencies": {str(k): float(v) for k, v in (data.get("device_latencies") or {}).items()},
            "measured_ms": _float(data.get("measured_ms"))}


def _num(value: Any) -> str:
    """A CSV cell: floats in their shortest exact form, so a row reads back to the same record."""
    if value is None:
        return ""
    return repr(value) if isinstance(value, float) else str(value)


def _float(value: Any) -> float | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "nan", "null")):
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _int(value: Any) -> int | None:
    number = _float(value)
    return None if number is None else int(number)


@dataclass(frozen=True)
class PresetRow:
    """A published preset of the run's space, priced on the run's table (``presets.json``)."""

    name: str
    latency_ms: float | None
    resolution: int | None = None
    trial: int | None = None
    score: float | None = None
    params: int | None = None
    macs: int | None = None

    def scored_by(self, record: TrialRecord) -> PresetRow:
        """This preset with the result of the trial that scored it."""
        return replace(self, trial=record.trial, score=record.score, params=record.params, macs=record.macs)

    def to_dict(self, *, is_accuracy: bool) -> dict[str, Any]:
        out = {"name": self.name, "latency_ms": self.latency_ms, "resolution": self.resolution,
               "trial": self.trial, "score": self.score, "params": self.params, "macs": self.macs}
        if is_accuracy:
            out["accuracy"] = self.score
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PresetRow:
        return cls(name=str(data["name"]), latency_ms=_float(data.get("latency_ms")),
                   resolution=_int(data.get("resolution")), trial=_int(data.get("trial")),
                   score=_float(data.get("score", data.get("accuracy"))), params=_int(data.get("params")),
                   macs=_int(data.get("macs")))
