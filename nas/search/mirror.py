"""The sampler's study: a per-worker in-memory mirror of the shared study, where proposals are made.

The sampler proposes in the mirror. A proposal over the latency budget, or of a network the shared
study already holds, is told back to the mirror at once (with its latency constraint, and the known
scores of a duplicate), so the sampler learns where the budget boundary lies and what it has already
seen, at the cost of a table lookup; only new networks within the budget become trials of the shared
study. The mirror follows the shared study: other workers' finished trials are added with their values
and constraints, their running ones as pending trials (what TPE's constant liar needs).
"""

from __future__ import annotations

from typing import Any

DIRECTIONS = ("maximize", "minimize")  # score up, latency down
CONSTRAINT = "latency_over_budget_ms"  # latency_ms - budget_ms; feasible when <= 0


class Mirror:
    """One worker's in-memory study for ``sampler``."""

    def __init__(self, sampler: Any):
        import optuna

        self.storage = optuna.storages.InMemoryStorage()
        self.study = optuna.create_study(storage=self.storage, sampler=sampler, directions=list(DIRECTIONS))
        self._study_id = self.storage.get_study_id_from_name(self.study.study_name)
        self._pending: dict[int, int] = {}  # shared trial number -> mirror trial id (a running copy)
        self._own: set[int] = set()  # shared trials proposed here: the mirror already has them

    def ask(self) -> Any:
        """A new mirror trial for the sampler to fill (``space.sample(trial)``)."""
        return self.study.ask()

    def frozen(self, trial: Any) -> Any:
        """The frozen state of mirror ``trial`` (params, distributions, system attrs)."""
        return self.storage.get_trial(self.storage.get_trial_id_from_study_id_trial_number(self._study_id,
                                                                                           trial.number))

    def tell(self, trial: Any, values: tuple[float, float] | None) -> None:
        """Finish a proposal: with (score, latency_ms), or failed (None: the sampler ignores it)."""
        import optuna

        if values is None:
            self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            self.study.tell(trial, list(values))

    def own(self, shared_number: int) -> None:
        """Shared trial ``shared_number`` is a proposal of this mirror: do not copy it back."""
        self._own.add(shared_number)

    def observe(self, shared: Any) -> None:
        """Follow a new or changed trial of the shared study."""
        from optuna.trial import TrialState

        if shared.number in self._own or shared.state == TrialState.WAITING:
            return
        if shared.state == TrialState.RUNNING:
            if shared.number not in self._pending and shared.params:
                self._pending[shared.number] = self._add(shared, TrialState.RUNNING)
            return
        pending = self._pending.pop(shared.number, None)
        if pending is not None:  # retire the running copy; the finished one is added below
            self.storage.set_trial_state_values(pending, TrialState.FAIL)
        if shared.state == TrialState.COMPLETE and shared.params:
            self._add(shared, TrialState.COMPLETE)

    def _add(self, shared: Any, state: Any) -> int:
        import optuna

        template = optuna.trial.create_trial(
            state=state, params=shared.params, distributions=shared.distributions,
            values=shared.values if state == optuna.trial.TrialState.COMPLETE else None,
            system_attrs={k: v for k, v in shared.system_attrs.items() if k != "fixed_params"})
        return self.storage.create_new_trial(self._study_id, template_trial=template)
