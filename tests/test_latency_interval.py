"""Latency intervals from a table's own evidence: width, widening outside the fitted range, the record's fields."""

from __future__ import annotations

import copy
import math

import pytest

from nas.latency.interval import (
    ConfidenceError,
    check_level,
    estimate_latency,
    evidence_record,
    held_out_coverage,
    table_evidence,
)
from nas.latency.table import load_table
from nas.models.presets import get_preset
from nas.testing.cli import assert_one_line_error, run_cli


@pytest.fixture(autouse=True)
def own_config_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def _with_evidence(base, record, *, device="evidence-test"):
    table = copy.deepcopy(base)
    table.device = device
    table.provenance = {**table.provenance, "interval": record}
    return table


SMALL = ["mobilevit-xxs", "mobilevitv2-0.5", "mobilevit-xs"]


@pytest.fixture(scope="module")
def small_fit_record():
    """Evidence of a fit on three small networks: residuals of +-10%, their MACs / params / latency range."""
    from nas.latency.predict import predict_ms

    cfgs = [get_preset(n) for n in SMALL]
    measured = [predict_ms(c, load_table("iphone12")) for c in cfgs]
    loo = [m * f for m, f in zip(measured, (1.1, 0.9, 1.05))]
    return evidence_record(cfgs, measured, loo, source="test fit")


def test_interval_holds_the_point_and_widens_with_the_level(small_fit_record):
    table = _with_evidence(load_table("iphone12"), small_fit_record)
    cfg = get_preset("mobilevit-xs")
    e90, e50 = estimate_latency(cfg, table, level=0.9), estimate_latency(cfg, table, level=0.5)
    assert e90.low_ms < e50.low_ms < e90.ms < e50.high_ms < e90.high_ms
    # symmetric in log space: ms is the geometric mean of the ends
    assert math.isclose(math.sqrt(e90.low_ms * e90.high_ms), e90.ms, rel_tol=1e-9)
    assert e90.chance_within(e90.high_ms) == pytest.approx(0.95, abs=1e-6)
    assert e90.chance_within(e90.low_ms) == pytest.approx(0.05, abs=1e-6)
    assert e90.chance_within(e90.ms) == pytest.approx(0.5, abs=1e-9)


def test_interval_widens_outside_the_fitted_range_and_says_where(small_fit_record):
    table = _with_evidence(load_table("iphone12"), small_fit_record)
    inside = estimate_latency(get_preset("mobilevit-xs"), table)
    assert inside.outside == () and inside.widen == 1.0
    big = estimate_latency(get_preset("deit-small"), table)  # 4.6 GMACs, 22M params, mhsa blocks: none fitted
    assert "macs" in big.outside and "params" in big.outside and any(a.startswith("kinds:") for a in big.outside)
    assert big.widen > 2.0
    assert math.log(big.high_ms / big.ms) / math.log(inside.high_ms / inside.ms) == pytest.approx(big.widen, rel=1e-6)


def test_a_tighter_table_has_a_narrower_interval(small_fit_record):
    loose = dict(small_fit_record, log_residuals=[3 * r for r in small_fit_record["log_residuals"]])
    cfg = get_preset("mobilevit-xs")
    base = load_table("iphone12")
    tight_e = estimate_latency(cfg, _with_evidence(base, small_fit_record, device="tight"))
    loose_e = estimate_latency(cfg, _with_evidence(base, loose, device="loose"))
    assert loose_e.high_ms - loose_e.low_ms > 2.5 * (tight_e.high_ms - tight_e.low_ms)


def test_shipped_tables_have_evidence():
    x86 = table_evidence(load_table("x86-2core-ort"))
    assert x86.rows == 56 and 0.03 < x86.spread < 0.06  # the profile's calibration: LOO 3.42% over 56 networks
    iphone = table_evidence(load_table("iphone12"))
    assert iphone.rows == 16 and len(iphone.log_residuals) == 16  # the cost model's leave-one-network-out rows
    assert "mhsa" in iphone.kinds and "hilo" not in iphone.kinds


@pytest.mark.parametrize("bad", [0, 1, -0.5, 1.5, float("nan"), "x"])
def test_levels_outside_zero_one_are_refused(bad):
    with pytest.raises(ConfidenceError):
        check_level(bad)


@pytest.mark.parametrize("level", ["0", "1", "1.5"])
def test_predict_level_out_of_range_is_one_line(level):
    result = run_cli(["latency", "predict", "deit-tiny", "--device", "x86-2core-ort", "--level", level])
    assert_one_line_error(result, 2, "--level must be a probability strictly between 0 and 1")


def test_predict_json_has_the_interval():
    import json

    result = run_cli(["latency", "predict", "deit-tiny", "--device", "x86-2core-ort", "--json"])
    assert result.code == 0, result.stderr
    interval = json.loads(result.stdout)["interval"]
    assert interval["level"] == 0.9 and interval["low_ms"] < interval["latency_ms"] < interval["high_ms"]


def test_iphone12_intervals_cover_the_published_rows_held_out():
    """Issue 19: 90% intervals cover >= 85% of the published iPhone 12 rows left out of the fit (each row's
    residual is its leave-one-network-out error, its interval is built from the other 15 rows)."""
    coverage = held_out_coverage(table_evidence(load_table("iphone12")), 0.9)
    assert coverage is not None and coverage >= 0.85
    assert held_out_coverage(table_evidence(load_table("iphone12")), 0.5) < coverage
