"""Estimated tables extend themselves: a key the iPhone 12 table lacks is priced by its cost model, marked, kept."""

from __future__ import annotations

import dataclasses
import json

import pytest

from nas.latency.extend import added_path, cost_model, model_version
from nas.latency.table import load_table
from nas.models.presets import get_preset
from nas.testing import write_space
from nas.testing.cli import run_cli

SPACE_256 = {
    "name": "mv2-256", "resolution": 256, "num_classes": 1000,
    "families": {"mobilevitv2": {"width_mult": [0.5, 0.75], "depths": {"per_stage": [[1, 2], [2], [2]]},
                                 "act": "silu", "norm": "layernorm2d"}},
}


@pytest.fixture(autouse=True)
def own_config(tmp_path, monkeypatch):
    """Entries the cost model adds are stored under the user's config folder: a fresh one per test."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("NAS_TABLES_DIR", raising=False)


def cli_json(argv: list[str]) -> dict:
    result = run_cli(argv)
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)


def mobilevit_s_patch4(folder) -> str:
    """MobileViT-S with patch size 4 in its MobileViT stages, at its published 256 px (issue 14)."""
    cfg = get_preset("mobilevit-s")
    stages = tuple(dataclasses.replace(st, mixer=dataclasses.replace(st.mixer, patch_size=4))
                   if st.mixer.kind == "mobilevit" else st for st in cfg.stages)
    path = folder / "mobilevit-s-p4.json"
    path.write_text(cfg.replace(name="mobilevit-s-p4", stages=stages).to_json())
    return str(path)


def test_a_missing_key_is_priced_by_the_cost_model_and_marked(tmp_path):
    table = load_table("iphone12")
    arch = mobilevit_s_patch4(tmp_path)
    out = cli_json(["latency", "predict", arch, "--device", "iphone12", "--json"])
    priced = [b for b in out["blocks"] if b["source"] == "cost model"]
    assert out["on_demand_blocks"] == len(priced) == 2 and out["cost_model"] == model_version(table)
    assert out["latency_ms"] == pytest.approx(sum(b["ms"] for b in out["blocks"]), abs=1e-3)
    assert all(b["ms"] > 0 for b in priced)
    stored = json.loads(added_path(table).read_text())
    assert set(stored["entries"]) == {b["key"] for b in priced} and stored["model"] == out["cost_model"]
    assert load_table("iphone12").hash == table.hash  # the file and its hash do not change
    text = run_cli(["latency", "predict", arch, "--device", "iphone12"]).stdout
    assert "2 of 12 blocks are not in the table's file: priced by its cost model" in text


def test_on_demand_entries_equal_tables_fit_entries(tmp_path):
    table = load_table("iphone12")
    space_path = write_space(tmp_path, SPACE_256)
    from nas.space import load_space

    space = load_space(space_path)
    cfg = space.config_from_params(next(space.enumerate()))
    (tmp_path / "net.json").write_text(cfg.to_json())
    cli_json(["latency", "predict", str(tmp_path / "net.json"), "--device", "iphone12", "--json"])
    on_demand = json.loads(added_path(table).read_text())["entries"]
    assert on_demand
    added_path(table).unlink()

    fit = cli_json(["tables", "fit", "--space", str(space_path), "--resolution", "256", "--json"])
    ahead = json.loads(added_path(table).read_text())["entries"]
    assert fit["added"] == len(ahead) >= len(on_demand) and fit["model"] == model_version(table)
    for key, entry in on_demand.items():
        assert ahead[key]["ms"] == entry["ms"], key
    assert cli_json(["tables", "fit", "--space", str(space_path), "--resolution", "256", "--json"])["added"] == 0
    rows = {r["device"]: r for r in cli_json(["devices", "--json"])["devices"]}
    assert rows["iphone12"]["added"]["entries"] == len(ahead)
    assert rows["iphone12"]["added"]["model"] == model_version(table)
    assert rows["x86-2core-ort"]["added"] is None  # measured tables are never extended


def test_only_estimated_tables_carry_a_cost_model():
    assert cost_model(load_table("iphone12")) is not None
    assert cost_model(load_table("x86-2core-ort")) is None
