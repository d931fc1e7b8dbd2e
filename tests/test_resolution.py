"""Resolution as a first-class axis: spaces over several resolutions, --resolution, and what records them."""

from __future__ import annotations

import json

import pytest

from nas.space import RESOLUTION, load_space, parse_space
from nas.testing import write_space
from nas.testing.cli import assert_one_line_error, run_cli

MV2 = {"name": "mv2", "num_classes": 1000,
       "families": {"mobilevitv2": {"width_mult": [0.5, 0.75], "depths": {"per_stage": [[1, 2], [2], [2]]},
                                    "act": "silu", "norm": "layernorm2d"}}}


def test_a_list_of_resolutions_is_searched_over():
    one = parse_space({**MV2, "resolution": 256})
    both = parse_space({**MV2, "resolution": [224, 256]})
    assert one.resolutions == (256,) and both.resolutions == (224, 256) and both.resolution == 224
    assert both.size() == 2 * one.size()
    members = [both.config_from_params(p) for p in both.enumerate()]
    assert {m.resolution for m in members} == {224, 256}
    assert all("mobilevitv2.resolution" in p for p in both.enumerate())
    assert "mobilevitv2.resolution" not in next(one.enumerate())  # a fixed resolution adds no param
    assert RESOLUTION not in both.to_dict()["families"]["mobilevitv2"] and both.to_dict()["resolutions"] == [224, 256]


def test_at_resolution_is_the_space_written_at_that_resolution():
    hybrid = load_space("hybrid-vit")
    assert parse_space({**MV2, "resolution": 224}).at_resolution(256).content_hash == \
        parse_space({**MV2, "resolution": 256}).content_hash
    at256 = hybrid.at_resolution(256)
    assert at256.resolutions == (256,) and at256.size() == hybrid.size()
    assert at256.config_from_params(at256.preset_params("deit-tiny")).resolution == 256
    both = hybrid.at_resolution(224, 256)
    # a preset is priced at its own resolution when the space has it, else at the space's first
    assert both.config_from_params(both.preset_params("mobilevit-s")).resolution == 256
    assert both.config_from_params(both.preset_params("deit-tiny")).resolution == 224
    assert hybrid.at_resolution(224).content_hash == hybrid.content_hash


@pytest.mark.parametrize(("resolution", "phrase"), [
    ([], "must be a positive integer or a list"), ([224, 224], "must be a positive integer or a list"),
    ([224, "x"], "must be a positive integer or a list"), (225, "key 'resolution': 225 does not fit"),
])
def test_bad_resolutions_in_a_space_name_the_key(tmp_path, resolution, phrase):
    path = write_space(tmp_path, {**MV2, "resolution": resolution})
    assert_one_line_error(run_cli(["space", "show", str(path)]), 2, phrase)


def test_bad_resolution_flags_are_one_line():
    assert_one_line_error(run_cli(["spaces", "--resolution", "224,x"]), 2, "--resolution '224,x'")
    assert_one_line_error(run_cli(["space", "show", "hybrid-vit", "--resolution", "225"]), 2,
                          "key 'resolution': 225 does not fit family vit")


@pytest.mark.slow  # an iPhone search at 224/256 px, export and resume
def test_the_deploy_resolution_is_recorded_in_run_json_the_report_and_exports(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # entries the iPhone cost model adds
    space = write_space(tmp_path, {**MV2, "resolution": 256})
    out = tmp_path / "run"
    result = run_cli(["search", "--device", "iphone12", "--budget", "5ms", "--space", str(space), "--resolution",
                      "224,256", "--proxy", "params", "--trials", "4", "--workers", "1", "--out", str(out),
                      "--json"])
    assert result.code == 0, result.stderr
    meta = json.loads((out / "run.json").read_text())
    assert meta["resolutions"] == [224, 256]
    points = json.loads(result.stdout)["front"]
    assert points and all(p["resolution"] in (224, 256) for p in points)
    report = (out / "report.md").read_text()
    assert "at 224, 256 px, searched over" in report and "| deploy px |" in report
    assert "entries priced by its cost model" in report  # the iPhone table priced the 256 px blocks
    exported = tmp_path / "arch.json"
    assert run_cli(["export", str(out), "--pick", "best", "--format", "json", "--out", str(exported)]).code == 0
    doc = json.loads(exported.read_text())
    best = max(points, key=lambda p: p["score"])
    assert doc["resolution"] == doc["arch"]["resolution"] == best["resolution"]
    resumed = run_cli(["search", "--resume", "--out", str(out), "--trials", "5", "--workers", "1", "--json"])
    assert resumed.code == 0, resumed.stderr
    assert json.loads((out / "run.json").read_text())["resolutions"] == [224, 256]
