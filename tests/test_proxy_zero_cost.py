"""Training-free proxies on a tiny model, and the contract every registered proxy keeps."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from test_proxy_train import TINY

from nas.config import ArchConfig
from nas.proxy import DEFAULT_PROXY, PROXIES, SCORE_KINDS, ProxyResult, get_proxy, load_dataset
from nas.proxy.zero_cost import NaswotProxy, ZiCoProxy


@pytest.fixture(scope="module")
def tiny() -> ArchConfig:
    return ArchConfig.from_dict(TINY)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits").subset(max_train=256, max_val=100)


def fast_options(name: str) -> dict:
    """The cheapest options a proxy declares: fewer steps and smaller batches where it has them."""
    options = {"steps": 2, "batch_size": 16}
    return {key: value for key, value in options.items() if key in PROXIES[name].OPTIONS}


@pytest.mark.parametrize("name", list(PROXIES))
def test_every_proxy_keeps_the_contract(name, tiny, digits):
    p = get_proxy(name, **fast_options(name))
    assert p.name == name
    a, b = p.evaluate(tiny, digits, seed=0), p.evaluate(tiny, digits, seed=0)
    assert isinstance(a, ProxyResult) and a.ok and a.proxy == name and a.name == "tiny"
    assert math.isfinite(a.score) and a.score == b.score
    assert (a.final_loss is not None) == p.trains
    assert p.metric and p.kind in SCORE_KINDS and (a.metric, a.kind) == (p.metric, p.kind)
    d = a.to_dict()
    assert (d["metric"], d["kind"]) == (p.metric, p.kind) and d["cpu_seconds"] > 0 and d["details"]["device"] == "cpu"


def test_default_proxy_is_registered():
    assert DEFAULT_PROXY in PROXIES


def test_params_is_the_parameter_count(tiny, digits):
    from nas.models.builder import build_model

    n = sum(p.numel() for p in build_model(tiny, resolution=32, num_classes=10).parameters())
    assert get_proxy("params").evaluate(tiny, digits).score == pytest.approx(n / 1e6)


def test_zico_and_naswot_use_the_data(tiny, digits):
    """Real batches matter: the same network scores differently on different images."""
    for cls in (ZiCoProxy, NaswotProxy):
        a = cls(batch_size=16).evaluate(tiny, digits, seed=0).score
        b = cls(batch_size=16).evaluate(tiny, digits, seed=1).score
        assert a != b


def test_naswot_kernel_of_identical_images_is_singular(tiny, digits):
    """Same image repeated -> identical activation codes -> rank-1 kernel -> no finite log-determinant."""
    same = dataclasses.replace(digits, train_x=digits.train_x[:1].repeat(64, 1, 1, 1),
                               train_y=digits.train_y[:1].repeat(64))
    r = NaswotProxy(batch_size=16).evaluate(tiny, same, seed=0)
    assert not r.ok and "non-finite" in r.reason


def test_naswot_prefers_the_network_that_separates_images(digits):
    """Doubling every width gives more distinct activation codes, hence a larger log|K|."""
    narrow = ArchConfig.from_dict(TINY)
    wide_d = {**TINY, "stem": {**TINY["stem"], "channels": [16]},
              "stages": [{**TINY["stages"][0], "channels": 32}, {**TINY["stages"][1], "channels": 64}]}
    wide = ArchConfig.from_dict(wide_d)
    s_narrow = NaswotProxy(batch_size=16).evaluate(narrow, digits, seed=0).score
    s_wide = NaswotProxy(batch_size=16).evaluate(wide, digits, seed=0).score
    assert s_wide > s_narrow


def test_zico_matches_the_papers_formula_on_two_batches(tiny, digits):
    """Recompute ZiCo by hand for the last linear layer and check it is one term of the sum."""
    from nas.models.builder import build_model
    from nas.proxy.base import real_batches

    torch.manual_seed(0)
    model = build_model(tiny, resolution=32, num_classes=10)
    batches = real_batches(digits, batch_size=16, num_batches=2, resolution=32, seed=0)
    total = ZiCoProxy().score(model, batches)
    fc = model[-1].fc
    grads = []
    for x, y in batches:
        model.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        grads.append(fc.weight.grad.reshape(-1).double().clone())
    g = torch.stack(grads)
    term = math.log(float((g.abs().mean(0) / g.std(0, unbiased=False)).sum()))
    assert math.isfinite(total) and term < total  # one positive term of a larger sum
    assert term > 0


def test_naswot_params_adds_log_deployed_params_to_weighted_naswot(tiny, digits):
    """The capacity-aware default: log10(params of the deployed network, M) + weight x NASWOT, same batch."""
    from nas.models.builder import build_model
    from nas.models.stats import count_params

    combo = get_proxy("naswot+params", batch_size=16, weight=0.01).evaluate(tiny, digits, seed=3)
    naswot = NaswotProxy(batch_size=16).evaluate(tiny, digits, seed=3).score
    deployed = count_params(build_model(tiny))  # 1000 classes at 224 px, not the proxy's 10-class network
    assert combo.ok and combo.kind == "score" and combo.details["naswot"] == naswot
    assert combo.details["deployed_params"] == deployed != combo.details["params"]
    assert combo.score == pytest.approx(math.log10(deployed / 1e6) + 0.01 * naswot, rel=1e-12)
    assert get_proxy("naswot+params").options["weight"] > 0
