"""How many trials of a run are in each status, kept current one record at a time.

The search keeps a census while it runs (each update is O(1)); the reader takes one of the records it
read. Both classify a trial with ``status_of``, the one definition of scored, failed and interrupted.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from nas.run.record import TrialRecord

STATUSES = ("scored", "failed", "interrupted", "duplicate", "running", "waiting")


def status_of(record: TrialRecord) -> str:
    """One of STATUSES ("failed" also for a COMPLETE trial without a score, which no search writes)."""
    if record.state == "RUNNING":
        return "running"
    if record.state == "WAITING":
        return "waiting"
    if record.scored:
        return "scored"
    if record.interrupted:
        return "interrupted"
    if record.duplicate_of is not None:
        return "duplicate"
    return "failed"


@dataclass(frozen=True)
class RunCounts:
    """Trials per status, and the scored ones within the budget."""

    scored: int = 0
    feasible: int = 0
    failed: int = 0
    interrupted: int = 0
    duplicate: int = 0
    running: int = 0
    waiting: int = 0

    @property
    def trials(self) -> int:
        """Trials that ran or run (queued ones are not trials yet, duplicates never ran)."""
        return self.scored + self.failed + self.interrupted + self.running


class Census:
    """The latest record of every trial and the counts per status."""

    def __init__(self, budget_ms: float):
        self.budget_ms = budget_ms
        self.records: dict[int, TrialRecord] = {}
        self._counts: Counter[str] = Counter()
        self.waiting: set[int] = set()
        self.running: set[int] = set()

    def update(self, record: TrialRecord) -> TrialRecord | None:
        """Take ``record`` as the latest of its trial; returns the one it replaces."""
        old = self.records.get(record.trial)
        if old is not None:
            self._counts.subtract(self._keys(old))
        self.records[record.trial] = record
        self._counts.update(self._keys(record))
        status = status_of(record)
        for members, name in ((self.waiting, "waiting"), (self.running, "running")):
            (members.add if status == name else members.discard)(record.trial)
        return old

    def counts(self) -> RunCounts:
        return RunCounts(**{k: self._counts[k] for k in (*STATUSES, "feasible")})

    def _keys(self, record: TrialRecord) -> list[str]:
        status = status_of(record)
        return [status, "feasible"] if status == "scored" and record.feasible(self.budget_ms) else [status]
