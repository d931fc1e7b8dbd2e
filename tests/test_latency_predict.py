"""Block keys, prediction as lookup + sum, missing keys."""

from __future__ import annotations

import random

import pytest

from nas import testing
from nas.latency.predict import predict_latency
from nas.latency.table import LatencyTable, MissingKeysError
from nas.models.builder import build_block
from nas.models.plan import plan
from nas.models.presets import get_preset
from nas.space_members import block_specs


@pytest.fixture(scope="module")
def tiny_space(tmp_path_factory):
    return testing.tiny_space(tmp_path_factory.mktemp("space"))


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
    specs = block_specs(tiny_space)
    table = random_table(specs, overhead_ms=0.3)
    cfg = tiny_space.config_from_params(next(tiny_space.enumerate("mobilevitv2")))
    pred = predict_latency(cfg, table)
    keys = [s.key for s in plan(cfg)]
    assert [k for k, _, _ in pred.per_block] == keys
    assert pred.total_ms == pytest.approx(0.3 + sum(table.entries[k]["ms"] for k in keys))
    assert pred.method == "measured" and pred.to_dict()["latency_ms"] == pytest.approx(pred.total_ms, abs=1e-4)


def test_missing_keys_are_an_error_never_zero(tiny_space):
    specs = block_specs(tiny_space)
    cfg = tiny_space.config_from_params(next(tiny_space.enumerate("vit")))
    drop = {s.key for s in plan(cfg) if s.kind in ("mhsa", "head")}
    table = random_table([k for k in specs if k not in drop])
    with pytest.raises(MissingKeysError) as err:
        predict_latency(cfg, table)
    assert err.value.keys == sorted(drop)
    msg = str(err.value)
    assert f"lacks {len(drop)} block key(s)" in msg and "nas profile --device rand --runtime onnxruntime" in msg
