"""NSGA-II evolves the whole architecture, not only the family (fixed-length genome over the space)."""

from __future__ import annotations

import warnings

import optuna

from nas.search.samplers import active_params, make_sampler, suggest_every_family
from nas.space import load_space


def _params(sampler, *, static: bool, space, n: int = 24) -> list[dict]:
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)

    def objective(trial):
        if static:
            suggest_every_family(space, trial)
        cfg = space.sample(trial)
        return sum(s.depth for s in cfg.stages), cfg.stages[-1].channels

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study.optimize(objective, n_trials=n)
    return [active_params(t.params) for t in study.trials]


def test_nsga2_needs_the_fixed_genome_to_differ_from_random() -> None:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    space = load_space()

    def nsga2():
        return make_sampler("nsga2", seed=0)  # population 10

    random = _params(optuna.samplers.RandomSampler(seed=0), static=False, space=space)
    # over a space of families, Optuna's NSGA-II only crosses the params all trials share: it is random search
    assert _params(nsga2(), static=False, space=space) == random
    evolved = _params(nsga2(), static=True, space=space)
    assert evolved != random and all(space.config_from_params(p) for p in evolved)
    assert all(set(p) == {"family"} | {k for k in p if k.startswith(p["family"] + ".")} for p in evolved)
