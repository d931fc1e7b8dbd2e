"""The published-accuracy dataset: every row rebuilds with its published size; bad rows are refused."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
import torch

from nas.models.builder import build_model
from nas.models.stats import count_params
from nas.proxy.accuracy import RECIPES, SHIPPED_CSV, load_accuracy_rows, params_problem
from nas.proxy.accuracy.dataset import dataset_digest
from nas.proxy.accuracy.predictor import FEATURES_FILE
from nas.testing.cli import assert_one_line_error, run_cli

ROWS = load_accuracy_rows()
FAMILIES = {"vit", "mobilevit", "mobilevitv2", "efficientformer", "litv2"}


def test_dataset_spans_the_five_families_with_forty_networks():
    assert len(ROWS) >= 40
    assert {row.family for row in ROWS} == FAMILIES
    assert all(row.recipe in RECIPES and 0 < row.top1 < 100 for row in ROWS)
    assert len({row.name for row in ROWS}) == len(ROWS)


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_every_row_rebuilds_within_three_percent_of_its_published_size(row):
    with torch.device("meta"):  # the real modules, without allocating or initialising 600 M weights
        model = build_model(row.config)
    assert model.cfg.resolution == row.resolution
    assert params_problem(row, count_params(model)) is None


def test_shipped_features_were_computed_from_this_csv():
    payload = json.loads(FEATURES_FILE.read_text())
    assert payload["digest"] == dataset_digest(SHIPPED_CSV), "run: python -m nas.proxy.accuracy"
    assert set(payload["features"]) == {row.name for row in ROWS}


def _bad_copy(tmp_path: Path, change) -> Path:
    """A copy of the shipped dataset (CSV and configs) with ``change(rows)`` applied to its rows."""
    folder = tmp_path / "data"
    shutil.copytree(SHIPPED_CSV.parent / "configs", folder / "configs")
    with SHIPPED_CSV.open(newline="") as f:
        reader = csv.DictReader(f)
        fields, rows = reader.fieldnames, list(reader)
    change(rows, folder)
    path = folder / "published_top1.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return path


def _broken_config(rows, folder):
    config = folder / "configs" / "mobilevit-xs.json"
    data = json.loads(config.read_text())
    data["stages"][0]["depth"] = -1
    config.write_text(json.dumps(data))


def _set(key, value, row_index=3):
    def change(rows, _folder):
        rows[row_index][key] = value
    return change


BAD_ROWS = [
    (_broken_config, "line 27 (mobilevit-xs): config mobilevit-xs.json does not rebuild"),
    (_set("recipe", "imagenet21k"), "line 5 (deit-tiny-distilled): unknown recipe 'imagenet21k'; accepted: deit"),
    (_set("top1", "150"), "line 5 (deit-tiny-distilled): top1 150 is outside 0-100"),
    (_set("top1", "-3"), "top1 -3 is outside 0-100"),
    (_set("distilled", "maybe"), "distilled 'maybe' is not one of: yes, no"),
    (_set("config", "configs/nowhere.json"), "config nowhere.json does not rebuild"),
]


@pytest.mark.parametrize(("change", "phrase"), BAD_ROWS, ids=[p.split(": ")[-1][:30] for _, p in BAD_ROWS])
def test_a_bad_row_is_refused_in_one_line_naming_it(tmp_path, change, phrase):
    path = _bad_copy(tmp_path, change)
    result = run_cli(["proxy", "mobilevit-xxs", "--proxy", "top1", "--proxy-opt", f"dataset={path}"])
    assert_one_line_error(result, 2, phrase)


def test_a_row_at_a_specs_ceiling_is_refused_naming_it(tmp_path):
    from nas.proxy.accuracy import AccuracyDataError, ModelSpec, fit_predictor

    path = _bad_copy(tmp_path, _set("top1", "95"))
    spec = ModelSpec(("log10_params_m", "log10_macs_g"), ceiling=90.0)
    with pytest.raises(AccuracyDataError, match="row deit-tiny-distilled: top1 95 is at or above the predictor's "
                                                "ceiling of 90%"):
        fit_predictor(path, spec=spec)
