"""A run folder's life: created (and removed again if its start fails), kept current as trials finish (run.json,
trials.csv, pareto.json, presets.json, configs/, the space's copy, states/ of candidates in flight), tidied at
the end.

Work per finished trial does not grow with the run: its trials.csv row is appended, its config written
once, and pareto.json / presets.json are rewritten only when the front or a preset changes (both stay
small). ``finish`` rewrites trials.csv once, sorted by trial number. Every whole-file write goes through
a temporary file and a rename, so a killed search leaves complete files behind (at most a torn last
trials.csv row, which the reader skips).
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nas.errors import UsageError
from nas.files import write_atomic, write_json
from nas.run.front import front_of
from nas.run.measured import Measurement, read_measured, with_measured
from nas.run.meta import RunFolderError, RunMeta
from nas.run.record import TRIAL_COLUMNS, PresetRow, TrialRecord

RUN_JSON, STUDY_DB, TRIALS_CSV = "run.json", "study.db", "trials.csv"
PARETO_JSON, PRESETS_JSON, CONFIGS, SPACE_COPY = "pareto.json", "presets.json", "configs", "space.yaml"
STATES = "states"  # saved training states, one per candidate in flight


@contextmanager
def opening(folder: Path) -> Iterator[None]:
    """Create run folder ``folder`` (and its parents) for the block; if the block fails, remove it again when
    it did not exist before (a failed start leaves nothing behind).

    Raises:
        UsageError: the folder cannot be created.
    """
    created = not folder.exists()
    try:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"--out '{folder}': cannot create the folder ({exc.strerror or exc})") from None
        yield
    except BaseException:
        if created:
            shutil.rmtree(folder, ignore_errors=True)
        raise


def keep_space(folder: Path, space_file: Path | None) -> None:
    """Copy the run's space file into the folder once: the run replays its trials' params with this exact
    space, even if the original file changes or moves (``--resume`` and the reader use the copy)."""
    if space_file is not None and not (folder / SPACE_COPY).exists():
        shutil.copyfile(space_file, folder / SPACE_COPY)


def states_dir(folder: Path) -> Path:
    """Where the run's candidates in flight keep their training states (created when one is saved)."""
    return Path(folder) / STATES


def tidy(folder: Path) -> None:
    """The end of a session: an empty states/ folder (no candidate left in flight) is removed."""
    states = states_dir(folder)
    if states.is_dir() and not any(states.iterdir()):
        states.rmdir()


def write_meta(folder: Path, meta: RunMeta) -> None:
    """Write ``folder/run.json``."""
    write_json(Path(folder) / RUN_JSON, meta.to_dict(), default=str)


class RunWriter:
    """Keeps one run folder current from the records of finished trials.

    Args:
        path: the run folder.
        meta: the run's run.json contents.
        presets: the presets of the space, priced on the run's table.
        config_of: replays a trial's Optuna params to its ArchConfig (the run's space).
        summary_of: the one-line summary of an ArchConfig shown in pareto.json.
    """

    def __init__(self, path: Path, meta: RunMeta, *, presets: list[PresetRow],
                 config_of: Callable[[dict[str, Any]], Any], summary_of: Callable[[Any], str]):
        self.path, self.meta = Path(path), meta
        self.presets = {p.name: p for p in presets}
        self.config_of, self.summary_of = config_of, summary_of
        self.front: list[TrialRecord] = []
        self._configs: dict[int, Any] = {}
        self._written: set[int] = set()
        self.measured = read_measured(self.path)

    def start(self, records: Iterable[TrialRecord]) -> None:
        """Write the whole folder from the trials that finished before this session (once per session)."""
        done = sorted((r for r in records if r.state in ("COMPLETE", "FAIL")), key=lambda r: r.trial)
        self._rewrite_csv(done)
        self._written = {r.trial for r in done}
        for r in done:
            self._write_config(r)
            self._note_preset(r)
        self.front = front_of(done, self.meta.budget_ms)
        self._write_pareto()
        self._write_presets()

    def add(self, records: Iterable[TrialRecord]) -> None:
        """Add newly finished trials: append their rows, write their configs, update front and presets."""
        new = [r for r in records if r.state in ("COMPLETE", "FAIL") and r.trial not in self._written]
        if not new:
            return
        with (self.path / TRIALS_CSV).open("a", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            for r in new:
                writer.writerow(self._row(r))
        self._written.update(r.trial for r in new)
        presets_changed = False
        for r in new:
            self._write_config(r)
            presets_changed |= self._note_preset(r)
        front = front_of([*self.front, *new], self.meta.budget_ms)
        if [r.trial for r in front] != [r.trial for r in self.front]:
            self.front = front
            self._write_pareto()
        if presets_changed:
            self._write_presets()

    def finish(self, records: Iterable[TrialRecord]) -> None:
        """Rewrite trials.csv sorted by trial number (the appended rows are in finishing order)."""
        self._rewrite_csv(sorted((r for r in records if r.state in ("COMPLETE", "FAIL")), key=lambda r: r.trial))

    def measure(self, measurements: dict[int, Measurement]) -> None:
        """Take the run's measurements (measured.json, already written): the front shows them (pareto.json);
        the next ``finish`` writes them into trials.csv."""
        self.measured = dict(measurements)
        self._write_pareto()

    # -- files ----------------------------------------------------------------------------
    def _row(self, r: TrialRecord) -> list[str]:
        r = with_measured(r, self.measured)
        return r.to_row(budget_ms=self.meta.budget_ms, metric=self.meta.metric.name,
                        is_accuracy=self.meta.metric.is_accuracy)

    def _rewrite_csv(self, records: list[TrialRecord]) -> None:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(TRIAL_COLUMNS)
        writer.writerows(self._row(r) for r in records)
        write_atomic(self.path / TRIALS_CSV, buf.getvalue())

    def _config(self, r: TrialRecord) -> Any:
        if r.trial not in self._configs:
            self._configs[r.trial] = self.config_of(r.optuna_params)
        return self._configs[r.trial]

    def _write_config(self, r: TrialRecord) -> None:
        target = self.path / CONFIGS / f"{r.trial}.json"
        if r.scored and not target.exists():
            write_atomic(target, self._config(r).to_json(indent=2) + "\n")

    def _note_preset(self, r: TrialRecord) -> bool:
        if not (r.preset and r.scored and r.preset in self.presets):
            return False
        self.presets[r.preset] = self.presets[r.preset].scored_by(r)
        return True

    def _write_pareto(self) -> None:
        metric = self.meta.metric
        points = []
        for r in self.front:
            cfg = self._config(r)
            r = with_measured(r, self.measured)
            points.append({**r.to_point(metric=metric.name, is_accuracy=metric.is_accuracy),
                           "summary": self.summary_of(cfg), "config": cfg.to_dict()})
        write_json(self.path / PARETO_JSON, {"budget_ms": self.meta.budget_ms, "device": self.meta.device,
                                             "metric": {"name": metric.name, "kind": metric.kind},
                                             "points": points})

    def _write_presets(self) -> None:
        write_json(self.path / PRESETS_JSON,
                   [p.to_dict(is_accuracy=self.meta.metric.is_accuracy) for p in self.presets.values()])


def write_pareto_measured(folder: str | Path, measured: dict[int, Measurement]) -> None:
    """Set each pareto.json point's ``measured_ms`` from ``measured`` (the search's writer does the same)."""
    path = Path(folder) / PARETO_JSON
    if not path.is_file():
        return
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise RunFolderError(f"'{path}' cannot be read as JSON: {exc}") from None
    for point in data.get("points") or []:
        m = measured.get(int(point.get("trial", -1)))
        if m is not None:
            point["measured_ms"] = m.measured_ms
    write_json(path, data)
