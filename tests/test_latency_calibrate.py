"""Calibrating a table from whole-network timings: the fit, the networks it picks, the CLI from a timings CSV."""

from __future__ import annotations

import json
import random

import pytest

from nas.config import ArchConfig
from nas.latency.calibrate import (
    NetworkTiming,
    calibrated_table,
    choose_networks,
    dominant_kinds,
    fit_calibration,
    kind_rows,
    table_kinds,
)
from nas.latency.predict import predict_latency
from nas.latency.table import load_table, read_table, save_table
from nas.space import parse_space
from nas.space_members import block_specs
from nas.testing import write_table
from nas.testing.cli import run_cli

SPACE = {
    "name": "tiny-cal", "resolution": 64, "num_classes": 10,
    "families": {
        "vit": {"embed_dim": [32, 48], "head_dim": 16, "depth": [1, 2, 3], "mlp_ratio": 2.0, "patch_size": 16,
                "act": ["gelu", "relu"], "norm": "layernorm"},
        "mobilevitv2": {"width_mult": 0.5, "depths": {"per_stage": [[1, 2], [1, 2], [1]]},
                        "mixers": {"per_stage": [["separable", "mobilevit"], ["separable"],
                                                 ["separable", "mobilevit"]]},
                        "act": ["relu", "gelu"], "norm": "layernorm2d"},
    },
}
# The target: three kinds change speed on their own, everything else by the same factor, plus 0.7 ms per call.
TRUTH = {"mhsa": 1.3, "separable": 0.8, "mobilevit": 1.1}
REST, OVERHEAD_MS = 1.0, 0.7


@pytest.fixture(scope="module")
def space():
    return parse_space(SPACE)


@pytest.fixture(scope="module")
def base(space, tmp_path_factory):
    """A measured table of the space in the real format, with seeded made-up entries."""
    rng = random.Random(0)
    return write_table(block_specs(space), tmp_path_factory.mktemp("base"), device="tiny", method="measured",
                       price=lambda spec: round(rng.uniform(0.1, 5.0), 4), overhead_ms=0.2)


def synthetic_ms(cfg, table) -> float:
    kinds, (row,) = kind_rows([cfg], table)
    return OVERHEAD_MS + sum(TRUTH.get(k, REST) * ms for k, ms in zip(kinds, row))


def networks(space, count: int, seed: int = 0) -> list:
    cfgs = [space.config_from_params(p) for p in space.enumerate()]
    random.Random(seed).shuffle(cfgs)
    return [c.replace(name=f"net-{i}") for i, c in enumerate(cfgs[:count])]


def test_fit_recovers_known_kind_scales_from_synthetic_timings(space, base):
    timings = [NetworkTiming(c.name, c, synthetic_ms(c, base)) for c in networks(space, 24)]
    fit = fit_calibration(base, timings)
    for kind, scale in TRUTH.items():
        assert fit.scales[kind] == pytest.approx(scale, abs=0.03), kind
    assert fit.mape_loo < 1.0 < fit.mape_base
    table = calibrated_table(base, fit, device="tiny-cal", source="synthetic")
    held_out = networks(space, 40)[30:]  # networks the fit never saw
    for cfg in held_out:
        assert predict_latency(cfg, table).total_ms == pytest.approx(synthetic_ms(cfg, base), rel=0.02)
    assert table.method == "calibrated" and table.provenance["base"]["hash"] == base.hash
    assert table.entries.keys() == base.entries.keys()


def test_too_few_networks_for_the_kinds_to_fit_is_refused(space, base):
    from nas.latency.calibrate import CalibrationError

    timings = [NetworkTiming(c.name, c, synthetic_ms(c, base)) for c in networks(space, 2)]
    with pytest.raises(CalibrationError, match=r"2 network\(s\) cannot fit \d+ block kinds"):
        fit_calibration(base, timings)


def test_chosen_networks_cover_the_kinds_and_the_latency_range(space, base):
    chosen = choose_networks(space, base, count=7)
    assert len(chosen) == 7 and len({c.to_json() for c in chosen}) == 7
    kinds, rows = kind_rows(chosen, base)
    candidates = [space.config_from_params(p) for p in space.enumerate()]
    _, all_rows = kind_rows(candidates, base)
    for kind in dominant_kinds(kinds, all_rows):  # each such kind's heaviest network is among those timed
        i = kinds.index(kind)
        assert max(r[i] / sum(r) for r in rows) == pytest.approx(max(r[i] / sum(r) for r in all_rows)), kind
    totals = sorted(sum(r) for r in all_rows)
    assert sum(rows[0]) == pytest.approx(totals[0]) and sum(rows[-1]) == pytest.approx(totals[-1])
    assert table_kinds(base) == kinds


def test_calibrate_cli_from_a_timings_csv_writes_a_new_table_and_keeps_the_base(space, base, tmp_path):
    tables = tmp_path / "tables"
    save_table(base, tables / "tiny.json")
    before = (tables / "tiny.json").read_bytes()
    lines = ["arch,latency_ms,notes"]
    for cfg in networks(space, 16):
        (tmp_path / f"{cfg.name}.json").write_text(cfg.to_json())
        lines.append(f"{cfg.name}.json,{synthetic_ms(cfg, base):.4f},from a phone")
    (tmp_path / "timings.csv").write_text("\n".join(lines) + "\n")

    result = run_cli(["latency", "calibrate", "--device", "tiny", "--as", "tiny-phone", "--timings",
                      str(tmp_path / "timings.csv"), "--tables", str(tables), "--json"])
    assert result.code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["mape_loo"] < 1.0 and out["base_hash"] == base.hash
    assert len(out["networks"]) == 16 and out["networks"][0]["rows"] == [2]
    assert (tables / "tiny.json").read_bytes() == before
    made = read_table(tables / "tiny-phone.json")
    assert made.method == "calibrated" and made.provenance["base"]["device"] == "tiny"
    assert "fingerprint" not in made.provenance  # timed on the target, not on this host
    cfg = networks(space, 40)[35]
    assert predict_latency(cfg, made).total_ms == pytest.approx(synthetic_ms(cfg, base), rel=0.02)


def test_export_writes_the_networks_to_time_on_a_phone_and_reads_them_back(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    out = tmp_path / "to-time"
    result = run_cli(["latency", "calibrate", "--device", "iphone12", "--as", "my-iphone", "--networks", "8",
                      "--export", str(out)])
    assert result.code == 0, result.stderr
    assert "nas export CONFIG --format coreml" in result.stdout
    lines = [line for line in (out / "timings.csv").read_text().splitlines() if not line.startswith("#")]
    assert lines[0] == "arch,latency_ms" and len(lines) == 9 and all(line.endswith(".json,") for line in lines[1:])
    assert not (tmp_path / "config" / "nas" / "latency_tables" / "my-iphone.json").exists()  # nothing fitted yet
    base = load_table("iphone12")
    filled = [lines[0]]
    for line in lines[1:]:  # "timed on the phone": the estimate, 10% slower
        cfg = ArchConfig.load(out / line.rstrip(","))
        filled.append(f"{line}{predict_latency(cfg, base).total_ms * 1.1:.4f}")
    (out / "timings.csv").write_text("\n".join(filled) + "\n")
    fit = json.loads(run_cli(["latency", "calibrate", "--device", "iphone12", "--as", "my-iphone", "--timings",
                              str(out / "timings.csv"), "--json"]).stdout)
    assert fit["overall_scale"] == pytest.approx(1.1, rel=0.02) and fit["mape_loo"] < 1.0
