"""Read a search run folder (written by ``nas search``), for the report and the export.

Contract of a run folder::

    run.json        argv, versions, seed, device, budget_ms, space, proxy, data, sampler, storage, study,
                    table {device, runtime, method, hash}, created
    study.db        the Optuna storage (SQLite by default; the URL is run.json's "storage")
    trials.csv      trial, state, feasible, accuracy, latency_ms, params, macs, preset, reason, seconds
    pareto.json     {device, budget_ms, method, table_hash, proxy,
                    points: [{trial, accuracy, latency_ms, params, macs, preset, summary,
                              optuna_params, config}]}
    presets.json    [{name, latency_ms, params, macs, accuracy, trial}]
    configs/<trial>.json   the ArchConfig of every completed trial

Only ``run.json`` is required to call a folder a run; the other files are read when present, so an
interrupted search can still be inspected.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nas.errors import NasError, UsageError


class NotARunError(UsageError):
    """The folder given is not a search run folder."""


class UnknownTrialError(UsageError):
    """A trial number the run does not have (or whose config was not saved)."""


class NoFeasibleTrialError(NasError):
    """The run has no trial within its latency budget."""


@dataclass(frozen=True)
class TrialRow:
    """One line of ``trials.csv``."""

    trial: int
    state: str
    feasible: bool
    accuracy: float | None
    latency_ms: float | None
    params: int | None
    macs: int | None
    preset: str
    reason: str
    seconds: float | None


@dataclass
class Run:
    """A run folder, parsed. Missing optional files give empty lists / None."""

    path: Path
    meta: dict[str, Any]
    trials: list[TrialRow] = field(default_factory=list)
    pareto: dict[str, Any] | None = None
    presets: list[dict[str, Any]] = field(default_factory=list)

    @property
    def budget_ms(self) -> float | None:
        value = self.meta.get("budget_ms", (self.pareto or {}).get("budget_ms"))
        return None if value is None else float(value)

    @property
    def device(self) -> str | None:
        return (self.meta.get("table") or {}).get("device") or self.meta.get("device")

    @property
    def method(self) -> str | None:
        return (self.meta.get("table") or {}).get("method") or (self.pareto or {}).get("method")

    @property
    def table_hash(self) -> str | None:
        return (self.meta.get("table") or {}).get("hash") or (self.pareto or {}).get("table_hash")

    @property
    def points(self) -> list[dict[str, Any]]:
        """The Pareto points, sorted by latency (fastest first)."""
        points = list((self.pareto or {}).get("points") or [])
        return sorted(points, key=lambda p: (p.get("latency_ms") is None, p.get("latency_ms") or 0.0))

    def feasible_points(self) -> list[dict[str, Any]]:
        """Pareto points within the budget (all of them when the run has no budget)."""
        budget = self.budget_ms
        return [p for p in self.points
                if p.get("latency_ms") is not None and (budget is None or p["latency_ms"] <= budget)]

    def point(self, trial: int) -> dict[str, Any] | None:
        """The Pareto point of ``trial``, or None if that trial is not on the front."""
        return next((p for p in self.points if p.get("trial") == trial), None)

    def row(self, trial: int) -> TrialRow | None:
        """The trials.csv line of ``trial``, or None."""
        return next((r for r in self.trials if r.trial == trial), None)

    def config(self, trial: int):
        """The ArchConfig of ``trial`` (from configs/<trial>.json, else from its Pareto point)."""
        from nas.config import ArchConfig

        path = self.path / "configs" / f"{trial}.json"
        if path.is_file():
            return ArchConfig.load(path)
        point = self.point(trial)
        if point is not None and point.get("config"):
            return ArchConfig.from_dict(point["config"])
        known = sorted(r.trial for r in self.trials if r.state.upper() == "COMPLETE")
        shown = ", ".join(str(t) for t in known[:20]) + (" ..." if len(known) > 20 else "")
        raise UnknownTrialError(
            f"run '{self.path}' has no config for trial {trial}; completed trials: {shown or '(none)'}"
        )

    def optuna_params(self, trial: int) -> dict[str, Any] | None:
        """The Optuna params of ``trial``: from pareto.json, else from the study storage."""
        point = self.point(trial)
        if point is not None and point.get("optuna_params"):
            return dict(point["optuna_params"])
        study = self.load_study()
        if study is None:
            return None
        for t in study.get_trials(deepcopy=False):
            if t.number == trial:
                return dict(t.params)
        return None

    def storage_url(self) -> str | None:
        """The Optuna storage URL (a relative SQLite path is resolved against the run folder)."""
        url = self.meta.get("storage")
        if not url:
            db = self.path / "study.db"
            return f"sqlite:///{db}" if db.is_file() else None
        if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
            rel = url[len("sqlite:///"):]
            if not Path(rel).is_absolute() and not Path(rel).exists():
                return f"sqlite:///{self.path / Path(rel).name}"
        return url

    def load_study(self):
        """The Optuna study of the run, or None when its storage cannot be opened."""
        import optuna

        url = self.storage_url()
        if url is None:
            return None
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        try:
            return optuna.load_study(study_name=self.meta.get("study"), storage=url)
        except Exception:  # noqa: BLE001 - a storage that cannot be opened just means "not available"
            return None


def load_run(path: str | Path) -> Run:
    """Parse the run folder at ``path``.

    Raises:
        NotARunError: ``path`` is not a folder holding a ``run.json``.
    """
    path = Path(path)
    meta_path = path / "run.json"
    if not path.is_dir() or not meta_path.is_file():
        what = "does not exist" if not path.exists() else "is not a folder" if not path.is_dir() else \
            "has no run.json"
        raise NotARunError(f"'{path}' is not a search run folder ({what}); give the folder of `nas search`")
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise NotARunError(f"'{meta_path}' cannot be read as JSON: {exc}") from exc
    run = Run(path=path, meta=meta)
    if (path / "trials.csv").is_file():
        run.trials = _read_trials(path / "trials.csv")
    if (path / "pareto.json").is_file():
        run.pareto = _read_json(path / "pareto.json")
    if (path / "presets.json").is_file():
        run.presets = list(_read_json(path / "presets.json") or [])
    return run


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise NotARunError(f"'{path}' cannot be read as JSON: {exc}") from exc


def _opt(value: str | None, kind: type) -> Any:
    if value is None or value.strip() == "" or value.strip().lower() in ("none", "nan", "null"):
        return None
    number = float(value)
    if math.isnan(number):
        return None
    return int(number) if kind is int else number


def _read_trials(path: Path) -> list[TrialRow]:
    rows = []
    with path.open(newline="") as fh:
        for raw in csv.DictReader(fh):
            rows.append(TrialRow(
                trial=int(raw["trial"]),
                state=raw.get("state") or "",
                feasible=(raw.get("feasible") or "").strip().lower() in ("1", "true", "yes"),
                accuracy=_opt(raw.get("accuracy"), float),
                latency_ms=_opt(raw.get("latency_ms"), float),
                params=_opt(raw.get("params"), int),
                macs=_opt(raw.get("macs"), int),
                preset=raw.get("preset") or "",
                reason=raw.get("reason") or "",
                seconds=_opt(raw.get("seconds"), float),
            ))
    return rows
