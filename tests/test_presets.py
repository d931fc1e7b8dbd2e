"""Every preset against its published parameter count (3%) and MACs (10%), at its own resolution."""

from __future__ import annotations

import pytest

from nas.models.builder import build_model
from nas.models.presets import PRESETS, get_preset, list_presets
from nas.models.stats import count_macs, count_params

EXPECTED = [
    "deit-tiny", "deit-small", "mobilevit-xxs", "mobilevit-xs", "mobilevit-s", "mobilevitv2-0.5",
    "mobilevitv2-0.75", "mobilevitv2-1.0", "mobilevitv2-1.25", "mobilevitv2-1.5", "mobilevitv2-1.75",
    "mobilevitv2-2.0", "efficientformer-l1", "efficientformer-l3", "efficientformer-l7", "litv2-s",
]


def test_preset_names_are_exactly_the_published_ones():
    assert list_presets() == EXPECTED


@pytest.mark.parametrize("name", EXPECTED)
def test_params_and_macs_match_published(name):
    preset = PRESETS[name]
    cfg = get_preset(name)
    assert cfg.num_classes == 1000
    model = build_model(cfg)
    params_m = count_params(model) / 1e6
    assert params_m == pytest.approx(preset.params_m, rel=0.03)
    if preset.macs_g is not None:
        macs_g = count_macs(model, (1, 3, cfg.resolution, cfg.resolution)) / 1e9
        assert macs_g == pytest.approx(preset.macs_g, rel=0.10)


def test_litv2_says_what_replaced_deformable_merging():
    assert "deformable" in get_preset("litv2-s").notes.lower()


def test_efficientformer_split_matches_vit_num():
    # L1: 3 Meta4D then 1 Meta3D in the last stage; L7: all 8 blocks of the last stage are Meta3D
    l1 = get_preset("efficientformer-l1").stages
    assert [(s.mixer.kind, s.depth) for s in l1[-2:]] == [("pool", 3), ("mhsa", 1)]
    l7 = get_preset("efficientformer-l7").stages
    assert (l7[-1].mixer.kind, l7[-1].depth, l7[-1].downsample.kind) == ("mhsa", 8, "conv")


def test_network_stats_builds_each_network_once(monkeypatch):
    """The proxy and the search's record of a candidate both ask for its counts: one build serves both."""
    import nas.models.builder as builder
    from nas.models.stats import network_stats

    builds = []
    real = builder.build_model
    monkeypatch.setattr(builder, "build_model", lambda *a, **k: builds.append(1) or real(*a, **k))
    cfg = get_preset("mobilevitv2-0.5").replace(name="memo-check", resolution=160)
    first = network_stats(cfg)
    assert network_stats(cfg) == first and len(builds) == 1
    model = real(cfg)
    assert first == (count_params(model), count_macs(model, (1, 3, 160, 160)))
    assert network_stats(cfg, resolution=128) != first and len(builds) == 2  # another input size, counted anew
