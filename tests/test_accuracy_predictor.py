"""The top-1 predictor: saturating in size, recipe as an option, an interval that widens outside the data,
and leave-one-paper-out predictions that never see their own paper."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from nas.models.families import build_family
from nas.models.presets import get_preset
from nas.proxy import PROXIES, get_proxy
from nas.proxy.accuracy import SHIPPED_SPEC, ModelSpec, fit_predictor, leave_one_paper_out, load_accuracy_rows
from nas.proxy.accuracy.predictor import RECIPE_MODES, feature_vector, read_features, row_vector, same_network_key

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "accuracy_predictor.json"


def _arch(log10_params_m: float, *, macs_per_param: float = 0.1) -> dict[str, float]:
    """Counts of a made-up hierarchical network with 10 ** log10_params_m M parameters."""
    params = 10 ** log10_params_m * 1e6
    return {"params": params, "macs": params * macs_per_param * 1e3, "stem_stride": 4.0, "blocks": 12.0,
            "attention_tokens": 196.0, "attention_share": 0.5}


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


def _standard(arch: dict[str, float]) -> np.ndarray:
    return feature_vector(arch, distilled=False, epochs=None, recipe="standard", spec=SHIPPED_SPEC)


def test_prediction_rises_with_size_and_saturates(predictor):
    sizes = np.linspace(-1.5, 3.0, 19)  # log10 params 30 k .. 1 B (the data: 1.3 M .. 632 M), MACs in proportion
    preds = [predictor.predict(_standard(_arch(s))).top1 for s in sizes]
    steps = np.diff(preds)
    assert np.all(steps > 0), preds
    assert np.all(np.diff(steps) < 0), f"not concave in log size: {steps}"
    assert 0 < preds[0] and preds[-1] < SHIPPED_SPEC.ceiling <= 100


def test_a_fit_that_would_predict_less_for_a_larger_network_is_told_apart(predictor):
    from nas.proxy.accuracy.predictor import rises_with_size

    assert rises_with_size(predictor.fit)
    flipped = copy.deepcopy(predictor.fit)
    flipped.coef[1] = abs(flipped.coef[1])  # error growing with MACs
    assert not rises_with_size(flipped)


@pytest.mark.parametrize("log10_params_m", [-1.5, 4.0], ids=["30k parameters", "10 billion parameters"])
def test_far_outside_the_data_the_interval_is_wider_and_a_note_says_why(predictor, log10_params_m):
    inside = predictor.predict(_standard(_arch(1.0)))
    far = predictor.predict(_standard(_arch(log10_params_m)))
    assert inside.note == ""
    # the lower half (the upper one stops at the ceiling)
    assert far.top1 - far.low > 2 * (inside.top1 - inside.low)
    assert "outside the published networks' range: parameters" in far.note and "interval widened" in far.note
    assert 0 <= far.low <= far.top1 <= far.high <= 100


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


def test_the_shipped_variant_is_the_one_the_benchmark_chose_on_leave_one_paper_out():
    results = json.loads(RESULTS.read_text())
    assert results["chosen"] == results["shipped"] == SHIPPED_SPEC.label
    assert results["variants_tried"] == len(results["variants"]) and SHIPPED_SPEC.label in results["variants"]


@pytest.mark.parametrize("recipe", RECIPE_MODES)
def test_every_recipe_mode_fits_and_leaves_the_held_out_paper_unseen(recipe):
    rows = load_accuracy_rows()
    spec = ModelSpec(("log10_params_m", "log10_macs_g", "log2_stem_stride"), ridge=1.0, ceiling=90.0, recipe=recipe)
    features = read_features(rows, None)
    x = np.array([row_vector(r, features[r.name], spec) for r in rows])
    top1 = np.array([r.top1 for r in rows])
    papers = np.array([r.paper for r in rows])
    keys = [same_network_key(r.config) for r in rows]
    held = papers == "efficientformer"
    changed = top1.copy()
    changed[held] += 3.0
    before = leave_one_paper_out(x, top1, papers, keys, spec=spec)
    assert np.allclose(before[held], leave_one_paper_out(x, changed, papers, keys, spec=spec)[held])
    assert np.all(before < 90.0) and np.mean(np.abs(before - top1)) < 5.0


def test_a_model_spec_names_known_features_and_modes():
    with pytest.raises(ValueError, match="unknown feature"):
        ModelSpec(("log10_params_m", "log10_macs_g", "log2_depthwise"))
    with pytest.raises(ValueError, match="start with"):
        ModelSpec(("log10_macs_g", "log10_params_m"))
    with pytest.raises(ValueError, match="zero-cost|architecture features only"):
        fit_predictor(spec=ModelSpec(("log10_params_m", "log10_macs_g", "naswot")))


def test_each_recipe_family_is_measured_only_where_one_of_its_networks_has_a_twin_under_another_recipe():
    from nas.proxy.accuracy.predictor import RECIPE_FEATURES

    effects = dict(zip(RECIPE_FEATURES, fit_predictor().fit.recipe, strict=True))
    # ViT-S/16 and B/16 appear under DeiT, DeiT III, AugReg and SAM: DeiT III's recipe lowers the error,
    # AugReg's and SAM's raise it (ViT-B/16: 83.8, 81.8, 79.2, 80.2 published)
    assert effects["deit3_recipe"] < 0 < effects["augreg_recipe"] and effects["sam_recipe"] > 0
    # no LITv2, MobileViT or EfficientFormer network appears under another recipe family
    assert effects["litv2_recipe"] == effects["cvnets_recipe"] == effects["efficientformer_recipe"] == 0.0
