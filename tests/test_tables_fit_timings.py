"""`nas tables fit --timings FILE --as NAME`: an estimated table fitted to a device's whole-network timings.

The timings are synthetic: a known cost model (coefficients for every group of :data:`nas.latency.estimate.GROUPS`)
prices 16 presets and 8 seeded members of the default space by their real op features; the fit must recover the
coefficients and predict networks it never saw. Everything runs through the real CLI entry point.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from nas.latency import estimate
from nas.latency.costmodel import CostModel, network_features
from nas.models.presets import PRESETS
from nas.resources import data_dir
from nas.testing.cli import assert_one_line_error, run_cli

TRUTH = {"mac": 2.0e-9, "softmax": 4.0e-7, "act": 3.0e-7, "move": 2.0e-7, "memory": 5.0e-7, "op": 4.0e-3,
         "network": 0.3}
HELD_OUT = 4  # seeded members never fitted, predicted afterwards


def _truth_ms(cfg) -> float:
    return CostModel(estimate.GROUPS, TRUTH).predict_ms(network_features(cfg))


SMALL_SPACE = """name: small
resolution: 160
families:
  vit:
    embed_dim: [96, 160]
    head_dim: 32
    depth: 2
    mlp_ratio: 2.0
    patch_size: 16
    act: gelu
    norm: layernorm
"""
NOISE = 0.05  # the noisy copy of the timings: each time x exp(N(0, 5%)), seeded


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """Two timings CSVs (presets by name, seeded members as config JSONs beside them): exact ones and a noisy
    copy, the tables fitted to them (my-npu, my-npu-noisy), and the held-out members."""
    from nas.space import load_space
    from nas.space_members import sample_members

    root = tmp_path_factory.mktemp("fit-timings")
    samples = [cfg for _, cfg in sample_members(load_space("hybrid-vit"), samples=4 + HELD_OUT, seed=7)]
    rows = [(name, _truth_ms(preset.config)) for name, preset in PRESETS.items()]
    for cfg in samples[:4]:
        (root / f"{cfg.name}.json").write_text(cfg.to_json(indent=2))
        rows.append((f"{cfg.name}.json", _truth_ms(cfg)))
    noise = np.exp(np.random.default_rng(11).normal(0, NOISE, size=len(rows)))
    (root / "timings.csv").write_text("arch,latency_ms\n" + "".join(f"{a},{ms:.6g}\n" for a, ms in rows))
    (root / "noisy.csv").write_text("arch,latency_ms\n" + "".join(f"{a},{ms * f:.6g}\n"
                                                                  for (a, ms), f in zip(rows, noise)))
    tables = root / "tables"
    mp = pytest.MonkeyPatch()
    mp.setenv("XDG_CONFIG_HOME", str(root / "config"))
    mp.delenv("NAS_TABLES_DIR", raising=False)
    result = run_cli(["tables", "fit", "--timings", str(root / "timings.csv"), "--as", "my-npu", "--runtime",
                      "tflite", "--tables", str(tables), "--json"])
    (root / "small.yaml").write_text(SMALL_SPACE)
    noisy = run_cli(["tables", "fit", "--timings", str(root / "noisy.csv"), "--as", "my-npu-noisy", "--tables",
                     str(tables), "--space", str(root / "small.yaml"), "--json"])
    yield {"root": root, "tables": tables, "result": result, "noisy": noisy, "held_out": samples[4:],
           "summary": json.loads(result.stdout) if result.code == 0 else None}
    mp.undo()


def test_fit_recovers_the_coefficients(fitted):
    assert fitted["result"].code == 0, fitted["result"].stderr
    summary = fitted["summary"]
    assert len(summary["networks"]) == len(PRESETS) + 4
    for group, truth in TRUTH.items():
        assert summary["coef_ms"][group] == pytest.approx(truth, rel=0.02), group
    assert summary["network_overhead_ms"] == pytest.approx(TRUTH["network"], rel=0.02)
    assert summary["loo_mape_pct"] < 1.0 and summary["protocol_scales"] == {}


def test_written_table_is_estimated_with_provenance_and_interval_evidence(fitted):
    table = json.loads((fitted["tables"] / "my-npu.json").read_text())
    assert table["method"] == "estimated" and table["runtime"] == "tflite"
    assert table["resolution"] == 224  # the default space's, where its searches price the presets
    prov = table["provenance"]
    assert prov["timings_file"].endswith("timings.csv") and prov["timings_rows"] == len(PRESETS) + 4
    assert prov["loo_mape_pct"] == fitted["summary"]["loo_mape_pct"] and "loo_max_pct" in prov
    interval = prov["interval"]
    assert interval["rows"] == len(PRESETS) + 4 and len(interval["log_residuals"]) == interval["rows"]
    assert set(interval["ranges"]) == {"macs", "params", "latency", "resolution"} and interval["kinds"]


def test_space_blocks_go_into_the_new_table(fitted):
    from nas.space import load_space
    from nas.space_members import block_specs

    table = json.loads((fitted["tables"] / "my-npu-noisy.json").read_text())
    keys = set(block_specs(load_space(str(fitted["root"] / "small.yaml"))))
    assert table["resolution"] == 160 and keys <= set(table["entries"])
    assert "space 'small' at 160 px" in table["provenance"]["keys"]


def test_devices_lists_it(fitted):
    rows = json.loads(run_cli(["devices", "--tables", str(fitted["tables"]), "--json"]).stdout)["devices"]
    row = next(r for r in rows if r["device"] == "my-npu")
    assert row["method"] == "estimated" and row["loo_error_pct"] == fitted["summary"]["loo_mape_pct"]


def _predict(fitted, cfg, device: str) -> dict:
    path = fitted["root"] / f"held-{cfg.name}.json"
    path.write_text(cfg.to_json(indent=2))
    result = run_cli(["latency", "predict", str(path), "--device", device, "--tables", str(fitted["tables"]),
                      "--json"])
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)


def test_predicts_held_out_networks(fitted):
    for cfg in fitted["held_out"]:
        assert _predict(fitted, cfg, "my-npu")["latency_ms"] == pytest.approx(_truth_ms(cfg), rel=0.03)


def test_noisy_timings_give_an_interval_that_holds_the_truth(fitted):
    assert fitted["noisy"].code == 0, fitted["noisy"].stderr
    assert json.loads(fitted["noisy"].stdout)["runtime"] == "unknown"  # no --runtime, no runtime column
    covered = 0
    for cfg in fitted["held_out"]:
        out = _predict(fitted, cfg, "my-npu-noisy")
        truth, interval = _truth_ms(cfg), out["interval"]
        assert out["latency_ms"] == pytest.approx(truth, rel=4 * NOISE)
        assert interval["method"] == "estimated" and "timed networks" in interval["evidence"]
        assert interval["low_ms"] < out["latency_ms"] < interval["high_ms"]
        covered += interval["low_ms"] <= truth <= interval["high_ms"]
    assert covered >= HELD_OUT - 1  # 90% intervals


def test_an_interval_widens_outside_the_fitted_range(fitted):
    """A ViT wider than every timed network lies outside the MACs range: its interval is wider, relatively."""
    from nas.latency.interval import estimate_latency
    from nas.latency.table import load_table
    from nas.models.families import build_family

    table = load_table("my-npu", fitted["tables"])
    inside = estimate_latency(PRESETS["deit-small"].config, table)
    big = build_family("vit", {"embed_dim": 1024, "head_dim": 64, "depth": 24, "mlp_ratio": 4.0, "patch_size": 16},
                       name="vit-large", resolution=224)
    outside = estimate_latency(big, table)
    assert "macs" in outside.outside and outside.widen > 1
    assert outside.high_ms / outside.ms > inside.high_ms / inside.ms


def test_show_prints_the_fit(fitted):
    result = run_cli(["tables", "show", "--device", "my-npu", "--tables", str(fitted["tables"]), "--json"])
    assert result.code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["protocol"] == estimate.PROTOCOL and len(data["rows"]) == len(PRESETS) + 4


def test_existing_table_is_kept_without_force(fitted):
    path = fitted["tables"] / "my-npu.json"
    before = path.read_bytes()
    result = run_cli(["tables", "fit", "--timings", str(fitted["root"] / "timings.csv"), "--as", "my-npu",
                      "--tables", str(fitted["tables"])])
    assert_one_line_error(result, 2, "my-npu.json exists (an estimated table): pass --force to replace it")
    assert path.read_bytes() == before


# ----------------------------------------------------------------------------- bad CSVs
def _csv(root: Path, name: str, text: str) -> str:
    (root / name).write_text(text)
    return str(root / name)


FEW = "arch,latency_ms\n" + "".join(f"{n},{i + 1}\n" for i, n in enumerate(list(PRESETS)[:5]))
BAD = [
    ("few.csv", FEW, f"5 network(s) cannot fit the cost model's 7 terms (mac, softmax, act, move, memory, op, "
                     f"network) with a leave-one-out error: give at least {estimate.MIN_NETWORKS} distinct networks"),
    ("dup.csv", "arch,latency_ms\ndeit-tiny,0.5\nmobilevit-xs,3\ndeit-tiny,7.5\n",
     "rows 2 and 4 (deit-tiny): the same network timed 0.5 and 7.5 ms"),
    ("unknown.csv", "arch,latency_ms\ndeit-tiny,3\nno-such-net,2\n", "row 3 (no-such-net): arch 'no-such-net' is "
                                                                       "neither a preset"),
    ("zero.csv", "arch,latency_ms\ndeit-tiny,3\nmobilevit-xs,0\n", "row 3 (mobilevit-xs): latency_ms 0 must be a "
                                                                     "finite number of ms > 0"),
    ("negative.csv", "arch,latency_ms\ndeit-tiny,-2\n", "row 2 (deit-tiny): latency_ms -2 must be"),
    ("bom.csv", "\ufeffarch,latency_ms\ndeit-tiny,3\n", "1 network(s) cannot fit"),  # the BOM is read
    ("extra.csv", "arch,latency_ms\ndeit-tiny,3,4\n", "row 2: 3 fields, but the header names 2"),
]


@pytest.mark.parametrize(("name", "text", "phrase"), BAD, ids=[b[0] for b in BAD])
def test_bad_timings_are_refused_in_one_line(tmp_path, monkeypatch, name, text, phrase):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    result = run_cli(["tables", "fit", "--timings", _csv(tmp_path, name, text), "--as", "t", "--tables",
                      str(tmp_path / "tables")])
    assert_one_line_error(result, 2, phrase)
    assert not (tmp_path / "tables").exists()


def test_timings_no_fit_explains_are_refused(tmp_path, monkeypatch):
    """Random times over five orders of magnitude: the leave-one-out check refuses them, nothing is written."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    rng = np.random.default_rng(3)
    times = 10 ** rng.uniform(-2, 3, size=len(PRESETS))
    text = "arch,latency_ms\n" + "".join(f"{n},{t:.4g}\n" for n, t in zip(PRESETS, times))
    result = run_cli(["tables", "fit", "--timings", _csv(tmp_path, "random.csv", text), "--as", "t", "--tables",
                      str(tmp_path / "tables")])
    assert_one_line_error(result, 2, "leave-one-out error")
    assert not (tmp_path / "tables" / "t.json").exists()


def test_times_near_zero_are_refused_by_the_floor(tmp_path, monkeypatch):
    """Every network timed 1e-300 ms (issue 21): the fit prices them as timed, the floor refuses the table."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    text = "arch,latency_ms\n" + "".join(f"{n},1e-300\n" for n in PRESETS)
    result = run_cli(["tables", "fit", "--timings", _csv(tmp_path, "tiny.csv", text), "--as", "t", "--tables",
                      str(tmp_path / "tables")])
    assert_one_line_error(result, 2, "below the floor of 0.01 ms per network")
    assert not (tmp_path / "tables" / "t.json").exists()


def test_a_shipped_name_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    result = run_cli(["tables", "fit", "--timings", _csv(tmp_path, "few.csv", FEW), "--as", "iphone12"])
    assert_one_line_error(result, 2, "is a table shipped with nas of that name")


# ----------------------------------------------------------------------------- the shipped folder (issue 21)
def _digest(folder: Path) -> str:
    sha = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            sha.update(path.name.encode() + path.read_bytes())
    return sha.hexdigest()


def test_refit_without_out_needs_force_and_leaves_the_shipped_tables(tmp_path, monkeypatch):
    shipped = data_dir("latency_tables")
    before = _digest(shipped)
    assert_one_line_error(run_cli(["tables", "fit"]), 2, "a table shipped with nas: pass --force to rewrite it")
    assert_one_line_error(run_cli(["tables", "fit", "--out", str(shipped / "iphone12.json")]), 2, "pass --force")
    assert _digest(shipped) == before
