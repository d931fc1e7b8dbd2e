"""Block keys, prediction as lookup + sum, missing keys, and the exact fastest member of a space."""

from __future__ import annotations

import random
import textwrap

import pytest

from nas.latency.predict import min_latency, predict_latency
from nas.latency.profile import space_specs
from nas.latency.table import LatencyTable, MissingKeysError
from nas.models.builder import build_block
from nas.models.plan import plan
from nas.models.presets import get_preset
from nas.space import load_space

TINY_SPACE = textwrap.dedent("""
    name: tiny
    resolution: 64
    num_classes: 10
    families:
      vit:
        embed_dim: [32, 48]
        head_dim: [16]
        depth: [1, 2]
        mlp_ratio: 2.0
        patch_size: [16]
        act: [gelu, relu]
        norm: layernorm
      mobilevitv2:
        width_mult: [0.5]
        depths: {per_stage: [[1, 2], [1, 2], [1]]}
        mixers: {per_stage: [[separable, mobilevit], [separable], [separable, mobilevit]]}
        act: [relu, gelu]
        norm: layernorm2d
""")


@pytest.fixture(scope="module")
def tiny_space(tmp_path_factory):
    path = tmp_path_factory.mktemp("space") / "tiny.yaml"
    path.write_text(TINY_SPACE)
    return load_space(path)


def random_table(keys, seed: int = 0, overhead_ms: float = 0.0) -> LatencyTable:
    rng = random.Random(seed)
    return LatencyTable(device="rand", runtime="onnxruntime", method="measured", resolution=64,
                        network_overhead_ms=overhead_ms, entries={k: {"ms": rng.uniform(0.1, 5.0)} for k in keys})


def test_same_block_same_key_and_module():
    a, b = plan(get_preset("deit-tiny")), plan(get_preset("deit-tiny"))
    assert [s.key for s in a] == [s.key for s in b]
    mhsa = [s for s in a if s.kind == "mhsa"]
    assert len(mhsa) == 12 and len({s.key for s in mhsa}) == 1  # 12 identical blocks, one entry
    m1, m2 = build_block(mhsa[0]), build_block(mhsa[5])
    assert [p.shape for p in m1.parameters()] == [p.shape for p in m2.parameters()]


def test_presets_share_keys_of_shared_blocks():
    xs = {s.key: s for s in plan(get_preset("mobilevit-xs"))}
    s = {s.key: s for s in plan(get_preset("mobilevit-s"))}
    shared = set(xs) & set(s)
    assert any(k.startswith("stem_conv|") for k in shared)
    assert any(k.startswith("mbconv|") for k in shared)
    assert not any(k.startswith("mobilevit|") for k in shared)  # different widths, different keys


def test_key_changes_with_what_sets_cost():
    cfg = get_preset("deit-tiny")
    base = {s.key for s in plan(cfg)}
    assert {s.key for s in plan(cfg, resolution=160)}.isdisjoint(base)


def test_predict_is_the_sum_plus_overhead(tiny_space):
    specs = space_specs(tiny_space)
    table = random_table(specs, overhead_ms=0.3)
    cfg = tiny_space.config_from_params(next(tiny_space.enumerate("mobilevitv2")))
    pred = predict_latency(cfg, table)
    keys = [s.key for s in plan(cfg)]
    assert [k for k, _, _ in pred.per_block] == keys
    assert pred.total_ms == pytest.approx(0.3 + sum(table.entries[k]["ms"] for k in keys))
    assert pred.method == "measured" and pred.to_dict()["latency_ms"] == pytest.approx(pred.total_ms, abs=1e-4)


def test_missing_keys_are_an_error_never_zero(tiny_space):
    specs = space_specs(tiny_space)
    cfg = tiny_space.config_from_params(next(tiny_space.enumerate("vit")))
    drop = {s.key for s in plan(cfg) if s.kind in ("mhsa", "head")}
    table = random_table([k for k in specs if k not in drop])
    with pytest.raises(MissingKeysError) as err:
        predict_latency(cfg, table)
    assert err.value.keys == sorted(drop)
    msg = str(err.value)
    assert f"lacks {len(drop)} block key(s)" in msg and "nas profile --device rand --runtime onnxruntime" in msg


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_min_latency_matches_brute_force(tiny_space, seed, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    table = random_table(space_specs(tiny_space), seed=seed)
    brute = min((predict_latency(tiny_space.config_from_params(p), table).total_ms, p)
                for p in tiny_space.enumerate())
    ms, params = min_latency(tiny_space, table)
    assert ms == pytest.approx(brute[0])
    assert predict_latency(tiny_space.config_from_params(params), table).total_ms == pytest.approx(ms)
    assert list((tmp_path / "nas" / "min_latency").glob("*.json"))  # cached for the next process
