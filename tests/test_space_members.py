"""Enumerating a space: its blocks, its exact cheapest member (cached by content), seeded samples."""

from __future__ import annotations

import random
from functools import partial

import pytest

from nas import testing
from nas.config import arch_id
from nas.latency.predict import predict_latency, predict_ms
from nas.latency.table import LatencyTable
from nas.models.plan import plan
from nas.space import load_space
from nas.space_members import block_specs, calibration_members, fastest_member, sample_members

# Two per-stage groups with several options each (stage 0: depth x mixer, stage 2: mixer), global choices
# on both families: the stage-group decomposition of fastest_member is exercised, not just enumeration.
GROUPS_SPACE = {
    **testing.TINY_SPACE,
    "name": "groups",
    "families": {
        "vit": {**testing.TINY_SPACE["families"]["vit"], "embed_dim": [32, 48]},
        "mobilevitv2": {**testing.TINY_SPACE["families"]["mobilevitv2"], "act": ["relu", "gelu"],
                        "mixers": {"per_stage": [["separable", "mobilevit"], ["separable"],
                                                 ["separable", "mobilevit"]]}},
    },
}


@pytest.fixture(scope="module")
def groups_space(tmp_path_factory):
    return load_space(testing.write_space(tmp_path_factory.mktemp("space"), GROUPS_SPACE))


def random_table(keys, seed: int) -> LatencyTable:
    rng = random.Random(seed)
    return LatencyTable(device="rand", runtime="onnxruntime", method="measured", resolution=64,
                        entries={k: {"ms": rng.uniform(0.1, 5.0)} for k in keys})


def test_block_specs_are_every_planned_block_once_in_kind_order(groups_space):
    specs = block_specs(groups_space)
    planned = {s.key for p in groups_space.enumerate() for s in plan(groups_space.config_from_params(p))}
    assert set(specs) == planned and all(k == s.key for k, s in specs.items())
    assert list(specs) == sorted(specs, key=lambda k: (specs[k].kind, k))
    at_128 = block_specs(groups_space, resolution=128)
    assert set(at_128).isdisjoint(specs) and len(at_128) == len(specs)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fastest_member_matches_brute_force_and_is_cached(groups_space, seed, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    table = random_table(block_specs(groups_space), seed)
    brute = min((predict_latency(groups_space.config_from_params(p), table).total_ms, p)
                for p in groups_space.enumerate())
    cost = partial(predict_ms, table=table)
    ms, params = fastest_member(groups_space, cost, cost_id=table.hash)
    assert ms == pytest.approx(brute[0])
    assert predict_latency(groups_space.config_from_params(params), table).total_ms == pytest.approx(ms)
    assert fastest_member(groups_space, cost)[0] == pytest.approx(ms)  # uncached: the same answer
    cached = list((tmp_path / "nas" / "min_latency").glob(f"groups-{groups_space.content_hash}-*.json"))
    assert len(cached) == 1  # on disk for the next process, keyed by the space's content


def test_content_hash_follows_the_choices_not_the_name(groups_space, tmp_path):
    renamed = load_space(testing.write_space(tmp_path, GROUPS_SPACE, name="other-name"))
    assert renamed.content_hash == groups_space.content_hash
    smaller = {**GROUPS_SPACE, "families": {"vit": GROUPS_SPACE["families"]["vit"]}}
    assert load_space(testing.write_space(tmp_path, smaller, name="smaller")).content_hash != renamed.content_hash
    coarse = {**GROUPS_SPACE, "resolution": 128}
    assert load_space(testing.write_space(tmp_path, coarse, name="coarse")).content_hash != renamed.content_hash


def test_calibration_members_are_presets_then_seeded_members(default_space):
    first = calibration_members(default_space, count=6, seed=3)
    again = calibration_members(default_space, count=6, seed=3)
    presets = default_space.presets_in_space()
    assert [c.name for c in first] == presets + [f"calib-{i}" for i in range(6)]
    assert [c.to_json() for c in first] == [c.to_json() for c in again]
    families = [c.choices["family"] for c in first[len(presets):]]
    assert families == list(default_space.families) + list(default_space.families)[:1]  # one family after another
    assert [c.to_json() for c in calibration_members(default_space, count=6, seed=4)] != [c.to_json() for c in first]


def test_sample_members_are_distinct_seeded_and_skip_excluded(groups_space):
    drawn = sample_members(groups_space, samples=10, seed=0)
    assert [c.name for _, c in drawn] == [f"sample-{i}" for i in range(10)]
    assert len({arch_id(c) for _, c in drawn}) == 10
    assert all(groups_space.config_from_params(p) == c.replace(name=groups_space.config_from_params(p).name)
               for p, c in drawn)
    assert [c.to_json() for _, c in sample_members(groups_space, samples=10, seed=0)] == [c.to_json() for _, c in drawn]
    excluded = [c for _, c in drawn[:3]]
    again = sample_members(groups_space, samples=10, seed=0, exclude=excluded)
    assert not {arch_id(c) for _, c in again} & {arch_id(c) for c in excluded}
