"""Optuna samplers by name, seeded; each reads the latency constraint its trials carry.

Every proposal is told to the sampler with the constraint ``latency_ms - budget_ms`` (feasible when
<= 0), so the constrained samplers learn where the budget boundary lies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nas.registry import Registry

# Searches score tens of candidates, not Optuna's thousands: NSGA-II gets a population of 10 (Optuna's
# default, 50, would never leave its random first generation), TPE Optuna's 10 random start-up trials.
NSGA2_POPULATION = 10
TPE_STARTUP_TRIALS = 10


def _nsga2(*, seed: int) -> Any:
    import optuna

    return optuna.samplers.NSGAIISampler(population_size=NSGA2_POPULATION, seed=seed)


def _tpe(*, seed: int) -> Any:
    import warnings

    import optuna

    # multivariate + group: TPE models the conditional space of families jointly; constant liar keeps
    # parallel workers from proposing what another one is scoring (as Optuna's AutoSampler sets it up).
    # Optuna flags multivariate and group as experimental: the warning says nothing to a user of nas.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=TPE_STARTUP_TRIALS, multivariate=True,
                                          group=True, constant_liar=True)


def _random(*, seed: int) -> Any:
    import optuna

    return optuna.samplers.RandomSampler(seed=seed)


# Samplers that only evolve the parameters every trial shares: NSGA-II's crossover works on the
# intersection of the trials' search spaces, which for a space of families is just "family" (the rest
# would be sampled at random; measured: 30 of 30 trials identical to RandomSampler with the same seed).
# For them every trial asks for every family's choices (a fixed-length genome; only the chosen family's
# genes build the network). TPE handles the conditional space itself (group=True).
STATIC_GENOME = {"nsga2"}

# name -> factory(seed=) -> optuna sampler
SAMPLERS: Registry[Callable[..., Any]] = Registry("sampler")
SAMPLERS.register("nsga2", _nsga2)
SAMPLERS.register("tpe", _tpe)
SAMPLERS.register("random", _random)
DEFAULT_SAMPLER = "nsga2"


def make_sampler(name: str, *, seed: int) -> Any:
    """The Optuna sampler ``name`` (nsga2, tpe, random), seeded.

    Raises:
        UnknownNameError: ``name`` is not a known sampler (the message lists them).
    """
    return SAMPLERS[name](seed=seed)


def suggest_every_family(space: Any, trial: Any) -> None:
    """Ask ``trial`` for the choices of every family, so all trials share one fixed-length genome;
    ``space.sample`` then reads the chosen family's (already suggested) values."""
    for family, choices in space.families.items():
        for choice in choices:
            for pname, options in zip(choice.param_names(family), choice.options):
                trial.suggest_categorical(pname, list(options))


def active_params(params: dict[str, Any]) -> dict[str, Any]:
    """The params that build the network: ``family`` and the chosen family's choices."""
    family = params.get("family")
    return {k: v for k, v in params.items() if k == "family" or k.startswith(f"{family}.")}
