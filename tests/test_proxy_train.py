"""The short-training proxy through its real training loop: determinism, budget, failures."""

from __future__ import annotations

import dataclasses
import math

import pytest

from nas.config import ArchConfig
from nas.models.presets import get_preset
from nas.proxy import TrainProxy, load_dataset, proxy_resolution

TINY = {
    "name": "tiny",
    "stem": {"kind": "conv", "channels": [8], "act": "relu", "norm": "batchnorm"},
    "stages": [
        {"depth": 1, "channels": 16, "mixer": {"kind": "conv", "expand_ratio": 2.0}, "act": "relu",
         "norm": "batchnorm"},
        {"depth": 1, "channels": 32, "mixer": {"kind": "mhsa", "num_heads": 2},
         "downsample": {"kind": "conv", "stride": 2}, "mlp_ratio": 2.0},
    ],
    "resolution": 224, "num_classes": 1000,
}


@pytest.fixture(scope="module")
def tiny() -> ArchConfig:
    return ArchConfig.from_dict(TINY)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits").subset(max_train=256, max_val=100)


def test_same_seed_same_result_other_seed_differs(tiny, digits):
    p = TrainProxy(steps=6, batch_size=32)
    a, b, c = (p.evaluate(tiny, digits, seed=s) for s in (0, 0, 1))
    assert a.ok and a.proxy == "train" and a.name == "tiny" and a.reason == ""
    assert 0.0 <= a.score <= 1.0 and math.isfinite(a.final_loss) and a.seconds > 0
    assert (a.score, a.final_loss) == (b.score, b.final_loss)
    assert c.final_loss != a.final_loss
    assert a.details["steps"] == 6 and a.details["resolution"] == 32


def test_training_learns_on_digits(tiny, digits):
    short = TrainProxy(steps=2, batch_size=32, lr=3e-3).evaluate(tiny, digits, seed=0)
    longer = TrainProxy(steps=60, batch_size=32, lr=3e-3).evaluate(tiny, digits, seed=0)
    assert longer.final_loss < short.final_loss
    assert longer.score > 0.3  # chance is 0.1


def test_non_finite_inputs_give_a_failed_result_not_an_exception(tiny, digits):
    broken = dataclasses.replace(digits, std=(0.0, 0.0, 0.0))  # normalisation divides by zero -> inf/nan
    r = TrainProxy(steps=5, batch_size=32).evaluate(tiny, broken, seed=0)
    assert not r.ok and r.score is None and "non-finite loss" in r.reason and r.proxy == "train"


def test_huge_learning_rate_fails_cleanly(tiny, digits):
    r = TrainProxy(steps=30, batch_size=32, lr=1e12, weight_decay=0.0).evaluate(tiny, digits, seed=0)
    assert not r.ok and "non-finite" in r.reason


def test_wall_clock_cap_stops_early_and_says_so(tiny, digits):
    r = TrainProxy(steps=1000, batch_size=32, max_seconds=0.0).evaluate(tiny, digits, seed=0)
    assert r.ok and "wall-clock cap" in r.reason and r.details["steps"] == 1


def test_epochs_set_the_step_budget(digits):
    from nas.proxy.train import epochs_to_steps

    assert epochs_to_steps(2, train_images=len(digits.train_y), batch_size=64) == math.ceil(2 * 256 / 64)
    assert TrainProxy(steps=7).rungs[-1] == 7


def test_proxy_resolution_rounds_up_to_the_stride():
    cfg = get_preset("mobilevit-xxs")  # stride 32
    assert proxy_resolution(cfg, 32) == 32 and proxy_resolution(cfg, 40) == 64 and proxy_resolution(cfg, 8) == 32
    assert proxy_resolution(get_preset("deit-tiny"), 40) == 48


@pytest.mark.parametrize("name", ["train", "zico"])
def test_a_network_beyond_the_limits_at_the_proxy_resolution_gives_a_failed_result(tiny, digits, name):
    """A 65536 x 65536 input (a ~0.8 TB batch) is beyond the config limits: the proxy fails that candidate
    with the reason instead of raising, so a search goes on."""
    from nas.proxy import get_proxy

    options = {"steps": 2, "batch_size": 16} if name == "train" else {"batch_size": 16}
    r = get_proxy(name, resolution=1 << 16, **options).evaluate(tiny, digits, seed=0)
    assert not r.ok and r.score is None and "cannot be built at the proxy's resolution" in r.reason
    assert "MAX_RESOLUTION" in r.reason
