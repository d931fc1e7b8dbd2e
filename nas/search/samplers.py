"""Optuna samplers by name. Each gets the seed and the budget constraint (latency_ms - budget_ms <= 0).

The objective stores the constraint on the trial (``Trial.set_constraint`` on Optuna >= 5, which the
samplers read; on older Optuna the ``constraints_func`` below reads it back from the trial's user attrs).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from nas.errors import UnknownNameError

ConstraintsFunc = Callable[[Any], Sequence[float]]


def uses_set_constraint() -> bool:
    """True when this Optuna stores constraints with ``Trial.set_constraint`` (>= 5.0)."""
    import optuna

    return hasattr(optuna.trial.Trial, "set_constraint")


def _constraints(func: ConstraintsFunc) -> dict[str, Any]:
    return {} if uses_set_constraint() else {"constraints_func": func}


def _nsga2(*, seed: int, constraints_func: ConstraintsFunc, trials: int) -> Any:
    import optuna

    # a population of ~1/5 of the trained-trial budget (8..50) gives NSGA-II a few generations
    population = max(8, min(50, trials // 5))
    return optuna.samplers.NSGAIISampler(population_size=population, seed=seed, **_constraints(constraints_func))


def _tpe(*, seed: int, constraints_func: ConstraintsFunc, trials: int) -> Any:
    import optuna

    return optuna.samplers.TPESampler(seed=seed, **_constraints(constraints_func),
                                      n_startup_trials=max(5, min(10, trials // 5)), multivariate=True,
                                      group=True)


def _random(*, seed: int, constraints_func: ConstraintsFunc, trials: int) -> Any:
    import optuna

    return optuna.samplers.RandomSampler(seed=seed)


# Samplers that only evolve the parameters every trial shares: NSGA-II's crossover works on the
# intersection of the trials' search spaces, which for a space of families is just "family" (the rest
# would be sampled at random; measured: 30 of 30 trials identical to RandomSampler with the same seed).
# For them the objective asks for every family's choices on every trial (a fixed-length genome; only
# the chosen family's genes build the network). TPE handles the conditional space itself (group=True).
STATIC_GENOME = {"nsga2"}

# name -> factory(seed=, constraints_func=, trials=) -> optuna sampler
SAMPLERS: dict[str, Callable[..., Any]] = {"nsga2": _nsga2, "tpe": _tpe, "random": _random}
DEFAULT_SAMPLER = "nsga2"


def make_sampler(name: str, *, seed: int, constraints_func: ConstraintsFunc, trials: int) -> Any:
    """The Optuna sampler ``name`` (nsga2, tpe, random), seeded, with the budget constraint.

    Raises:
        UnknownNameError: ``name`` is not a known sampler (the message lists them).
    """
    if name not in SAMPLERS:
        raise UnknownNameError("sampler", name, list(SAMPLERS))
    return SAMPLERS[name](seed=seed, constraints_func=constraints_func, trials=trials)


def budget_constraint(trial: Any) -> Sequence[float]:
    """Optuna constraints_func: the trial's stored ``latency_ms - budget_ms`` (feasible when <= 0)."""
    return tuple(trial.user_attrs.get("constraint", (float("inf"),)))
