"""`nas export` on a run folder (a small real search, see nas.testing.runs), a config and a preset; bad input."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from nas.cli import cli, main
from nas.config import ArchConfig
from nas.models.builder import build_model
from nas.models.stats import count_params
from nas.run import NoFeasibleTrialError, NotARunError, UnknownTrialError, load_run
from nas.space import load_space
from nas.testing.runs import cached_search_run, space_path


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return cached_search_run(tmp_path_factory)


def _export(*args: str) -> dict:
    result = CliRunner().invoke(cli, ["export", *args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_pick_best_and_fastest_from_run(run_dir, tmp_path):
    run = load_run(run_dir)
    front = run.front()
    best = _export(str(run_dir), "--pick", "best", "--format", "json", "--out", str(tmp_path / "b.json"))
    fastest = _export(str(run_dir), "--pick", "fastest", "--format", "json", "--out", str(tmp_path / "f.json"))
    assert best["trial"] == max(front, key=lambda r: r.score).trial
    assert fastest["trial"] == min(front, key=lambda r: r.latency_ms).trial
    doc = json.loads((tmp_path / "b.json").read_text())
    point = next(p for p in json.loads((run_dir / "pareto.json").read_text())["points"] if p["trial"] == best["trial"])
    assert doc["latency"]["ms"] == point["latency_ms"]
    assert doc["latency"]["table_hash"] == run.table_hash and doc["latency"]["method"] == "estimated"
    assert doc["optuna_params"] == point["optuna_params"]
    assert doc["score"]["value"] == point["score"] == doc["accuracy"]["value"]
    assert doc["score"]["metric"] == "validation top-1"
    assert doc["source"]["trial"] == best["trial"]
    assert "replay" in doc["replay_check"]  # the run's space is a test YAML: replay it here
    assert load_space(space_path(run_dir)).config_from_params(doc["optuna_params"]) == ArchConfig.load(
        tmp_path / "b.json")
    assert count_params(build_model(ArchConfig.load(tmp_path / "b.json"))) == doc["params"]


def test_trial_off_the_front_reads_optuna_storage(run_dir, tmp_path):
    run = load_run(run_dir)
    off_front = next(r for r in run.records if r.trial not in {f.trial for f in run.front()})
    out = tmp_path / "t.json"
    _export(str(run_dir), "--trial", str(off_front.trial), "--format", "json", "--out", str(out))
    doc = json.loads(out.read_text())
    study = run.load_study()
    assert doc["optuna_params"] == study.trials[off_front.trial].params
    assert doc["latency"]["ms"] == off_front.latency_ms
    assert ArchConfig.load(out) == run.config(off_front.trial)


def test_preset_to_onnx_prints_diff(tmp_path):
    res = _export("deit-tiny", "--resolution", "32", "--format", "onnx", "--out", str(tmp_path / "m.onnx"))
    assert res["max_abs_diff"] < res["tolerance"]["atol"]
    assert (tmp_path / "m.onnx").is_file()


def test_config_file_source(tmp_path):
    from nas.models.presets import get_preset

    src = tmp_path / "cfg.json"
    src.write_text(get_preset("mobilevit-xxs").to_json())
    res = _export(str(src), "--format", "json", "--out", str(tmp_path / "o.json"))
    assert res["source"] == "config"
    assert json.loads((tmp_path / "o.json").read_text())["latency_note"] == "no --device given"


def test_unknown_trial(run_dir, tmp_path):
    with pytest.raises(UnknownTrialError, match="no trial 999; its scored trials are 0-4"):
        CliRunner().invoke(cli, ["export", str(run_dir), "--trial", "999", "--format", "json", "--out",
                                 str(tmp_path / "x.json")], catch_exceptions=False)


def test_run_without_feasible_trial(run_dir, tmp_path):
    tight = tmp_path / "tight"
    shutil.copytree(run_dir, tight)
    meta = json.loads((tight / "run.json").read_text())
    meta["budget_ms"] = 0.01
    (tight / "run.json").write_text(json.dumps(meta))
    with pytest.raises(NoFeasibleTrialError, match="larger --budget "):
        CliRunner().invoke(cli, ["export", str(tight), "--format", "json", "--out", str(tmp_path / "x.json")],
                           catch_exceptions=False)


def test_not_a_run_is_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["export", str(tmp_path), "--format", "json", "--out", str(tmp_path / "x.json")])
    assert exc.value.code == NotARunError.exit_code
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not a search run folder" in err
    assert not (tmp_path / "x.json").exists()


def test_unwritable_output_is_one_line(tmp_path, capsys):
    (tmp_path / "f").write_text("")
    with pytest.raises(SystemExit) as exc:
        main(["export", "deit-tiny", "--format", "onnx", "--out", str(tmp_path / "f" / "m.onnx")])
    assert exc.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_preset_priced_with_a_latency_table(tmp_path):
    from nas.latency.predict import block_keys
    from nas.latency.table import LatencyTable, save_table
    from nas.models.presets import get_preset

    cfg = get_preset("deit-tiny").replace(resolution=32)
    keys = [key for key, _ in block_keys(cfg)]
    entries = {key: {"ms": 0.25} for key in keys}
    table = LatencyTable(device="test-device", runtime="onnxruntime", method="measured", resolution=32,
                         network_overhead_ms=0.5, provenance={"source": "test"}, entries=entries)
    path = save_table(table, tmp_path / "test-device.json")
    out = tmp_path / "a.json"
    _export("deit-tiny", "--resolution", "32", "--device", str(path), "--format", "json", "--out", str(out))
    latency = json.loads(out.read_text())["latency"]
    assert latency == {"ms": pytest.approx(0.5 + 0.25 * len(keys)), "device": "test-device",
                       "method": "measured", "table_hash": table.hash}


def test_exported_config_feeds_arch_show(tmp_path):
    out = tmp_path / "a.json"
    doc = _export("mobilevit-xxs", "--resolution", "64", "--format", "json", "--out", str(out))
    shown = CliRunner().invoke(cli, ["arch", "show", str(out), "--json"], catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["params"] == json.loads(out.read_text())["params"]
    assert doc["arch"] == "mobilevit-xxs"
