"""The top-1 predictor: saturating in size, recipe as an option, an interval that widens outside the data,
and leave-one-paper-out predictions that never see their own paper."""

from __future__ import annotations

import numpy as np
import pytest

from nas.models.families import build_family
from nas.models.presets import get_preset
from nas.proxy import PROXIES, get_proxy
from nas.proxy.accuracy import fit_predictor, leave_one_paper_out, load_accuracy_rows
from nas.proxy.accuracy.predictor import read_features, row_vector, same_network_key


@pytest.fixture(scope="module")
def predictor():
    return fit_predictor()


def test_top1_is_a_registered_accuracy_proxy_in_percent():
    proxy = get_proxy("top1")
    assert "top1" in PROXIES and proxy.kind == "accuracy" and proxy.metric == "predicted top-1 (%)"
    result = proxy.evaluate(get_preset("mobilevitv2-1.0"), None)
    assert result.ok and 60 < result.score < 90
    assert result.details["interval_low"] < result.score < result.details["interval_high"]
    assert result.details["note"] == ""


def test_prediction_rises_with_size_and_saturates(predictor):
    sizes = np.linspace(0.0, 2.0, 9)  # log10 params 1 M .. 100 M, MACs in proportion
    preds = [predictor.predict(np.array([s, s - 1.0, 0.0, 0.0, 0.0])).top1 for s in sizes]
    steps = np.diff(preds)
    assert np.all(steps > 0), preds
    assert np.all(np.diff(steps) < 0), f"not concave in log size: {steps}"
    assert preds[-1] < 100


def test_interval_widens_outside_the_published_range_and_says_so(predictor):
    inside = get_proxy("top1").evaluate(get_preset("mobilevitv2-1.0"), None)
    tiny = build_family("vit", {"embed_dim": 32, "head_dim": 16, "depth": 2}, name="tiny-vit", resolution=224)
    outside = get_proxy("top1").evaluate(tiny, None)
    width = lambda r: r.details["interval_high"] - r.details["interval_low"]  # noqa: E731
    assert width(outside) > 1.5 * width(inside)
    assert "outside the published networks' range" in outside.details["note"]
    assert outside.reason == outside.details["note"]


def test_recipe_is_an_option_of_the_prediction():
    cfg = get_preset("deit-small")
    standard = get_proxy("top1").evaluate(cfg, None).score
    assert get_proxy("top1", recipe="distilled").evaluate(cfg, None).score > standard
    assert get_proxy("top1", epochs=1000).evaluate(cfg, None).score > standard


def test_leave_one_paper_out_never_sees_the_held_out_paper():
    rows = load_accuracy_rows()
    features = read_features(rows, None)
    x = np.array([row_vector(r, features[r.name]) for r in rows])
    top1 = np.array([r.top1 for r in rows])
    papers = [r.paper for r in rows]
    keys = [same_network_key(r.config) for r in rows]
    held = np.array([p == "litv2" for p in papers])
    changed = top1.copy()
    changed[held] -= 10.0  # the held-out paper's own numbers must not move its predictions
    before = leave_one_paper_out(x, top1, papers, keys)
    after = leave_one_paper_out(x, changed, papers, keys)
    assert np.allclose(before[held], after[held])
    assert not np.allclose(before[~held], after[~held])
