"""Follow a shared study: each poll returns the trials created or changed since the previous one.

Optuna's storage cache reads a study incrementally (the trials created since the last read and the
unfinished ones; finished trials are kept in memory), so a poll costs one query whatever the study's
length; the follower then looks only at the new trials and the unfinished ones it saw (running or
queued: about one per worker, plus the queue).
"""

from __future__ import annotations

from typing import Any


class StudyFollower:
    """The trials of ``study`` as they appear and change."""

    def __init__(self, study: Any):
        self.study = study
        self._next = 0
        self._unfinished: dict[int, Any] = {}  # number -> the frozen trial last seen

    def poll(self) -> list[Any]:
        """The frozen trials that are new or changed since the previous poll, by trial number."""
        trials = self.study.get_trials(deepcopy=False)  # sorted by number; numbers are 0..n-1
        changed = []
        for number, seen in list(self._unfinished.items()):
            trial = trials[number]
            if trial.state != seen.state or trial.user_attrs != seen.user_attrs:
                changed.append(trial)
            self._track(trial)
        for trial in trials[self._next:]:
            changed.append(trial)
            self._track(trial)
        self._next = len(trials)
        return sorted(changed, key=lambda t: t.number)

    def _track(self, trial: Any) -> None:
        if trial.state.is_finished():
            self._unfinished.pop(trial.number, None)
        else:
            self._unfinished[trial.number] = trial
