"""Optuna's own samplers, set up for searches of tens of candidates."""

from __future__ import annotations

from typing import Any

from nas.search.samplers import register_sampler

# Searches score tens of candidates, not Optuna's thousands: NSGA-II gets a population of 10 (Optuna's
# default, 50, would never leave its random first generation), TPE Optuna's 10 random start-up trials.
NSGA2_POPULATION = 10
TPE_STARTUP_TRIALS = 10


# static genome: measured without it, 30 of 30 NSGA-II trials were identical to RandomSampler's with the
# same seed (its crossover saw only "family"); with it every trial carries every family's genes and only
# the chosen family's build the network. TPE handles the conditional space itself (group=True).
@register_sampler("nsga2", static_genome=True)
def _nsga2(*, seed: int) -> Any:
    """NSGA-II, population :data:`NSGA2_POPULATION`."""
    import optuna

    return optuna.samplers.NSGAIISampler(population_size=NSGA2_POPULATION, seed=seed)


@register_sampler("tpe")
def _tpe(*, seed: int) -> Any:
    """Multivariate, grouped TPE with a constant liar, after :data:`TPE_STARTUP_TRIALS` random trials."""
    import warnings

    import optuna

    # multivariate + group: TPE models the conditional space of families jointly; constant liar keeps
    # parallel workers from proposing what another one is scoring (as Optuna's AutoSampler sets it up).
    # Optuna flags multivariate and group as experimental: the warning says nothing to a user of nas.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=TPE_STARTUP_TRIALS, multivariate=True,
                                          group=True, constant_liar=True)


@register_sampler("random")
def _random(*, seed: int) -> Any:
    """Independent uniform sampling of every choice."""
    import optuna

    return optuna.samplers.RandomSampler(seed=seed)
