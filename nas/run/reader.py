"""Read a run folder back: its meta, the record of every trial, the presets, and what derives from them.

The front, the feasibility of a trial and the counts are derived here, from the records, by the same
functions the writer uses; the report and the export read runs only through ``load_run``.
Run folders of the first schema (trials.csv without optuna_params, pareto.json with ``accuracy``) are
read too: their front points lend the records their params.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nas.errors import NasError, UsageError
from nas.run.census import Census, RunCounts
from nas.run.folder import CONFIGS, PARETO_JSON, PRESETS_JSON, RUN_JSON, SPACE_COPY, STUDY_DB, TRIALS_CSV
from nas.run.front import front_of
from nas.run.measured import read_measured, with_measured
from nas.run.meta import RunFolderError, RunMeta, read_meta
from nas.run.record import PresetRow, TrialRecord


class NotARunError(UsageError):
    """The folder given is not a search run folder."""


class UnknownTrialError(UsageError):
    """A trial number the run does not have (or one that was never scored)."""


class NoFeasibleTrialError(NasError):
    """The run has no scored trial within its latency budget."""


@dataclass
class Run:
    """A run folder, parsed."""

    path: Path
    meta: RunMeta
    records: list[TrialRecord] = field(default_factory=list)
    presets: list[PresetRow] = field(default_factory=list)

    @property
    def budget_ms(self) -> float:
        return self.meta.budget_ms

    @property
    def device(self) -> str:
        return self.meta.table.device

    @property
    def method(self) -> str:
        return self.meta.table.method

    @property
    def table_hash(self) -> str:
        return self.meta.table.hash

    def feasible(self, record: TrialRecord) -> bool:
        return record.feasible(self.budget_ms)

    def front(self) -> list[TrialRecord]:
        """The Pareto front within the budget, fastest first (each trial at its highest rung)."""
        return front_of(self.records, self.budget_ms)

    def counts(self) -> RunCounts:
        census = Census(self.budget_ms)
        for r in self.records:
            census.update(r)
        return census.counts()

    def record(self, trial: int) -> TrialRecord | None:
        return next((r for r in self.records if r.trial == trial), None)

    def scored_trials(self) -> list[int]:
        return [r.trial for r in self.records if r.scored]

    def config(self, trial: int) -> Any:
        """The ArchConfig of scored ``trial`` (configs/<trial>.json, else replayed from its params)."""
        from nas.config import ArchConfig

        path = self.path / CONFIGS / f"{trial}.json"
        if path.is_file():
            return ArchConfig.load(path)
        record = self.record(trial)
        if record is not None and record.optuna_params:
            return self.space().config_from_params(record.optuna_params)
        raise UnknownTrialError(f"run '{self.path}' has no config for trial {trial}; its scored trials are "
                                f"{describe_numbers(self.scored_trials())}")

    def space(self) -> Any:
        """The run's search space: the copy in the folder, else the file it was read from, else by name (at the
        --resolution the run was started with)."""
        from nas.space import load_space

        copy = self.path / SPACE_COPY
        original = self.meta.space_path
        if copy.is_file():
            space = load_space(copy)
        else:
            space = load_space(original if original and Path(original).is_file() else self.meta.space)
        return space.at_resolution(*self.meta.resolutions) if self.meta.resolutions else space

    def storage_url(self) -> str | None:
        """The Optuna storage URL of the run (its own study.db when the study is local)."""
        url = self.meta.storage
        if url.startswith("sqlite") or not url:
            db = self.path / STUDY_DB
            return f"sqlite:///{db}" if db.is_file() else None
        return url

    def load_study(self) -> Any:
        """The run's Optuna study, or None when its storage cannot be opened."""
        import optuna

        url = self.storage_url()
        if url is None:
            return None
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        try:
            return optuna.load_study(study_name=self.meta.study, storage=url)
        except Exception:  # noqa: BLE001 - a storage that cannot be opened just means "not available"
            return None


def describe_numbers(numbers: list[int]) -> str:
    """``0-3, 7, 9-12``: sorted numbers as ranges (``(none)`` when empty)."""
    if not numbers:
        return "(none)"
    ranges: list[list[int]] = []
    for n in sorted(set(numbers)):
        if ranges and n == ranges[-1][1] + 1:
            ranges[-1][1] = n
        else:
            ranges.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in ranges)


def load_run(path: str | Path) -> Run:
    """Parse the run folder at ``path``.

    Raises:
        NotARunError: ``path`` is not a folder holding a ``run.json``.
        RunFolderError: one of its files cannot be read.
    """
    path = Path(path)
    if not path.is_dir() or not (path / RUN_JSON).is_file():
        what = "does not exist" if not path.exists() else "is not a folder" if not path.is_dir() else \
            "has no run.json"
        raise NotARunError(f"'{path}' is not a search run folder ({what}); give the folder of `nas search`")
    run = Run(path=path, meta=read_meta(path / RUN_JSON))
    if (path / TRIALS_CSV).is_file():
        measured = read_measured(path)
        run.records = [with_measured(r, measured) for r in _read_trials(path / TRIALS_CSV)]
    if (path / PRESETS_JSON).is_file():
        run.presets = [PresetRow.from_dict(p) for p in _read_json(path / PRESETS_JSON) or []]
    if (path / PARETO_JSON).is_file():
        _lend_params(run, _read_json(path / PARETO_JSON) or {})
    return run


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise RunFolderError(f"'{path}' cannot be read as JSON: {exc}") from None


def _read_trials(path: Path) -> list[TrialRecord]:
    """The records of trials.csv; a torn last row (a search killed mid-write) is skipped."""
    records: dict[int, TrialRecord] = {}
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    for i, row in enumerate(rows):
        try:
            if None in row.values():  # fewer fields than the header: a torn row
                raise ValueError("torn row")
            record = TrialRecord.from_row(row)
        except (ValueError, TypeError, KeyError):
            if i == len(rows) - 1:
                continue
            raise RunFolderError(f"'{path}' line {i + 2} cannot be read as a trial row") from None
        records[record.trial] = record
    return sorted(records.values(), key=lambda r: r.trial)


def _lend_params(run: Run, pareto: dict[str, Any]) -> None:
    """First-schema folders: trials.csv has no params; take them from the front's points."""
    by_trial = {int(p["trial"]): p for p in pareto.get("points") or [] if "trial" in p}
    for i, r in enumerate(run.records):
        point = by_trial.get(r.trial)
        if point and not r.optuna_params and point.get("optuna_params"):
            run.records[i] = r.with_(optuna_params=dict(point["optuna_params"]))
    if not run.records:  # only pareto.json survived: its points are the records known
        run.records = [TrialRecord.from_point(p) for p in by_trial.values()]
