"""The shipped estimated iPhone 12 table, its calibration data, validation and CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from nas.cli import cli
from nas.latency import iphone
from nas.latency.costmodel import CostModel, block_features
from nas.latency.predict import predict_ms
from nas.latency.table import load_table
from nas.models.plan import plan


@pytest.fixture(scope="module")
def table():
    return load_table("iphone12")


def test_shipped_table_loads_as_an_estimated_coreml_table(table):
    assert table.method == "estimated"
    assert table.runtime == "coreml"
    assert table.provenance["protocol"] == iphone.REFERENCE_PROTOCOL
    assert set(table.provenance["protocol_scales"]) == set(iphone.PROTOCOLS)


@pytest.mark.slow  # every block key of the default space
def test_shipped_table_covers_every_key_of_the_default_space(table):
    from nas.space import load_space

    space = load_space("hybrid-vit")
    keys = set()
    for params in space.enumerate():
        keys.update(spec.key for spec in plan(space.config_from_params(params)))
    assert len(keys) > 1000
    assert keys <= set(table.entries), sorted(keys - set(table.entries))[:3]


def test_stored_leave_one_out_error_is_consistent_and_under_25pct(table):
    prov = table.provenance
    rows = prov["rows"]
    assert len(rows) >= 10
    apes = [abs(r["loo_ms"] - r["published_ms"]) / r["published_ms"] * 100 for r in rows]
    assert np.mean(apes) == pytest.approx(prov["loo_mape_pct"], abs=0.1)
    assert prov["loo_mape_pct"] < 25


def test_entries_are_the_cost_model_applied_to_block_features(table):
    prov = table.provenance
    model = CostModel({g: tuple(fs) for g, fs in prov["groups"].items()}, prov["coef_ms"])
    for spec in plan(iphone.ARCHS["mobilevitv2-0.5"]()):
        assert table.ms(spec.key) == pytest.approx(model.predict_ms(block_features(spec)), rel=1e-4, abs=1e-6)


def test_hardswish_is_priced_far_above_gelu(table):
    from nas.models.families import build_family

    def ms(act: str) -> float:
        cfg = build_family("vit", {"embed_dim": 192, "depth": 6, "act": act}, name="v", resolution=224)
        return predict_ms(cfg, table)

    assert ms("hardswish") > 2 * ms("gelu")


def test_calibration_rows_carry_sources_and_rebuild():
    rows = iphone.load_rows()
    fit_rows = [r for r in rows if r.role == "fit"]
    assert len(fit_rows) >= 10
    assert all(r.source and r.notes for r in rows)
    assert any(r.protocol == iphone.REFERENCE_PROTOCOL for r in fit_rows)
    assert all("SUSPECT" not in r.notes for r in fit_rows)
    for r in fit_rows:
        cfg = r.config()
        assert r.resolution in (None, cfg.resolution)


def test_validate_published_reports_the_metrics(table):
    rows = [r for r in iphone.load_rows() if r.arch in ("mobilevitv2-0.5", "mobilevitv2-2.0", "efficientformer-l1")]
    out = iphone.validate_published(table, rows)
    for name in ("within_10pct", "mape", "spearman", "kendall", "flops_spearman", "params_spearman", "samples"):
        assert name in out
    assert out["samples"] == 2  # reference-protocol rows of those networks
    assert out["mape"] < 25
    assert {d["arch"] for d in out["rows"]} == {"mobilevitv2-0.5", "mobilevitv2-2.0", "efficientformer-l1"}


def test_unknown_role_in_calibration_csv_names_the_line(tmp_path):
    src = iphone.DATA_CSV.read_text().splitlines()
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join([src[0], src[1].replace(",fit,", ",maybe,")]) + "\n")
    with pytest.raises(iphone.CalibrationError, match="line 2"):
        iphone.load_rows(bad)


def test_cli_tables_show_json():
    result = CliRunner().invoke(cli, ["tables", "show", "--device", "iphone12", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["method"] == "estimated" and data["loo_mape_pct"] < 25
    assert len(data["rows"]) >= 10
