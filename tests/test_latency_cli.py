"""CLI: nas profile / devices / latency predict|measure|validate, read through --json."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from nas import testing
from nas.cli import cli
from nas.errors import UnknownNameError
from nas.latency.table import MissingKeysError


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    testing.write_space(root, families=["vit"])  # root / "tiny.yaml": the tiny space's ViT family
    tables = root / "tables"
    result = CliRunner().invoke(cli, ["profile", "--device", "tiny-ort", "--space", str(root / "tiny.yaml"),
                                      "--tables", str(tables), "--budget-s", "0.005",
                                      "--calibration-networks", "1"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    from nas.space import load_space

    space = load_space(root / "tiny.yaml")
    cfg = space.config_from_params(next(space.enumerate()))
    (root / "arch.json").write_text(cfg.to_json())
    return root, tables


def run_json(args):
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_devices_json_lists_the_profiled_table(setup):
    root, tables = setup
    rows = {r["device"]: r for r in run_json(["devices", "--tables", str(tables), "--json"])["devices"]}
    row = rows["tiny-ort"]
    assert row["method"] == "measured" and row["runtime"] == "onnxruntime" and row["entries"] == 4
    assert row["threads"] == 1 and row["statistic"] == "median" and row["date"]


def test_predict_json_total_method_and_blocks(setup):
    root, tables = setup
    out = run_json(["latency", "predict", str(root / "arch.json"), "--device", "tiny-ort",
                    "--tables", str(tables), "--json"])
    assert out["method"] == "measured" and out["device"] == "tiny-ort"
    assert [b["kind"] for b in out["blocks"]] == ["stem_patch", "mhsa", "head"]
    assert out["latency_ms"] == pytest.approx(out["overhead_ms"] + sum(b["ms"] for b in out["blocks"]), abs=1e-3)


def test_predict_errors_unknown_device_and_missing_keys(setup):
    root, tables = setup
    with pytest.raises(UnknownNameError, match="tiny-ort"):
        CliRunner().invoke(cli, ["latency", "predict", "deit-tiny", "--device", "nope", "--tables", str(tables)],
                           catch_exceptions=False)
    with pytest.raises(MissingKeysError, match="nas profile --device tiny-ort"):
        CliRunner().invoke(cli, ["latency", "predict", "deit-tiny", "--device", "tiny-ort",
                                 "--tables", str(tables)], catch_exceptions=False)


def test_measure_and_validate_json(setup):
    root, tables = setup
    out = run_json(["latency", "measure", str(root / "arch.json"), "--json"])
    assert out["latency_ms"] > 0 and out["runtime"] == "onnxruntime" and out["threads"] == 1
    val = run_json(["latency", "validate", "--device", "tiny-ort", "--tables", str(tables),
                    "--space", str(root / "tiny.yaml"), "--samples", "3", "--seed", "1", "--json"])
    for name in ("within_10pct", "mape", "spearman", "kendall", "flops_spearman", "params_spearman"):
        assert name in val
    assert val["samples"] == 3 and 0 <= val["within_10pct"] <= 1 and val["mape"] >= 0
    assert all(r["measured_ms"] > 0 and r["predicted_ms"] > 0 for r in val["rows"])
