"""The scheduler's promotion rule (per latency band, best 1/eta at each rung) and the sampler's mirror study."""

from __future__ import annotations

import optuna
import pytest

from nas.search.mirror import CONSTRAINT, Mirror
from nas.search.scheduler import Bands, RungIndex


def test_bands_split_fastest_to_budget() -> None:
    bands = Bands(fastest_ms=1.0, budget_ms=4.0, count=3)
    assert [bands.of(ms) for ms in (0.5, 1.0, 1.99, 2.0, 3.5, 4.0, 9.0)] == [0, 0, 0, 1, 2, 2, 2]
    assert Bands(fastest_ms=2.0, budget_ms=2.0).of(2.0) == 0


def test_promotion_keeps_the_best_third_of_each_band() -> None:
    index = RungIndex(Bands(fastest_ms=0.0, budget_ms=3.0, count=3), eta=3)
    # band 0: the first result always goes on; later ones only among the best max(1, n // 3)
    assert index.promotes("a", 0.5, 0, 0.30)
    assert not index.promotes("b", 0.5, 0, 0.20)  # 2 in the band: only the best goes on
    assert index.promotes("c", 0.5, 0, 0.40)  # the new best
    assert not index.promotes("d", 0.5, 0, 0.35)
    assert index.promotes("e", 0.5, 0, 0.50)
    assert index.promotes("f", 0.5, 0, 0.45)  # 6 in the band: the best 2 go on, f is second
    # another band is decided among its own networks only
    assert index.promotes("g", 2.5, 0, 0.10)
    # a rung is decided among the networks that reached it
    assert index.promotes("a", 0.5, 1, 0.6) and not index.promotes("c", 0.5, 1, 0.5)
    # a network recorded again (a continuation of an interrupted one) is one entry, not two
    index.add("a", 0.5, [0.30, 0.6])
    assert sorted(index.peers(0, 0)) == [0.2, 0.3, 0.35, 0.4, 0.45, 0.5]


def _shared_study() -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    return optuna.create_study(directions=["maximize", "minimize"])


def test_mirror_follows_the_shared_study() -> None:
    shared = _shared_study()
    x = optuna.distributions.CategoricalDistribution([1, 2, 3])
    done = optuna.trial.create_trial(params={"x": 1}, distributions={"x": x}, values=[0.5, 1.0],
                                     constraints={CONSTRAINT: -1.0})
    shared.add_trial(done)
    running = shared.ask()
    running.suggest_categorical("x", [1, 2, 3])
    mirror = Mirror(optuna.samplers.RandomSampler(seed=0))
    for trial in shared.get_trials():
        mirror.observe(trial)
    copies = mirror.study.get_trials()
    assert [t.state.name for t in copies] == ["COMPLETE", "RUNNING"] and copies[0].params == {"x": 1}
    assert copies[1].params == shared.trials[1].params
    assert copies[0].constraints == {CONSTRAINT: -1.0} and copies[0].values == [0.5, 1.0]
    shared.tell(running, [0.7, 2.0])
    mirror.observe(shared.trials[1])
    states = [t.state.name for t in mirror.study.get_trials()]
    assert states == ["COMPLETE", "FAIL", "COMPLETE"]  # the running copy is retired, the result added


def test_mirror_tells_rejected_proposals_with_their_constraint() -> None:
    mirror = Mirror(optuna.samplers.TPESampler(seed=0, n_startup_trials=2))
    for latency in (1.0, 9.0, 2.0):
        proposal = mirror.ask()
        proposal.suggest_float("w", 0.0, 1.0)
        proposal.set_constraint(CONSTRAINT, latency - 5.0)
        mirror.tell(proposal, (0.0, latency) if latency > 5.0 else (0.5, latency))
    own = mirror.ask()
    own.suggest_float("w", 0.0, 1.0)
    mirror.own(7)
    mirror.tell(own, None)  # a failed proposal: the sampler ignores it
    trials = mirror.study.get_trials()
    assert [t.constraints[CONSTRAINT] for t in trials[:3]] == pytest.approx([-4.0, 4.0, -3.0])
    assert trials[3].state.name == "FAIL"
