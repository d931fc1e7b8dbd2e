"""Bad input and edge cases of `nas search`, `nas report` and `nas export`, run through the real CLI.

Each error case is one line on stderr with its exit code (2: usage, 1: everything else); the edge cases
that are not errors (a budget that only the fastest network fits, a resumed --tables run, a rerun after a
failed start, a training-free proxy) check the behaviour the new user should get instead.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from nas.run import load_run
from nas.testing.cli import assert_one_line_error, run_cli
from nas.testing.runs import TINY_DEVICE as DEVICE
from nas.testing.runs import write_tiny_setup


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("bad-input")
    space, tables = write_tiny_setup(root)
    (root / "afile").write_text("")
    return {"space": str(space), "tables": str(tables), "root": str(root)}


def _search(tiny: dict[str, str], out: Path | str, *args: str) -> list[str]:
    return ["search", "--device", DEVICE, "--tables", tiny["tables"], "--space", tiny["space"], "--workers", "1",
            "--no-report", "--out", str(out), *args]


@pytest.fixture(scope="module")
def run_dir(tiny: dict[str, str]) -> Path:
    """A finished run: the params proxy (no training), four candidates."""
    out = Path(tiny["root"]) / "run"
    result = run_cli(_search(tiny, out, "--budget", "0.4ms", "--trials", "4", "--proxy", "params", "--json"))
    assert result.code == 0, result.stderr
    return out


SEARCH_CASES = [
    (["--budget", "0.4ms", "--seed", "-1"], 2, "--seed must be between 0 and 4294967295, got -1"),
    (["--budget", "0.4ms", "--seed", "4294967296"], 2, "--seed must be between 0 and 4294967295"),
    (["--budget", "0.4ms", "--worker", "-1"], 2, "--worker must be 0 or more"),
    (["--budget", "0.4ms", "--workers", "0"], 2, "--workers must be at least 1"),
    (["--budget", "0.4ms", "--trials", "0"], 2, "--trials must be at least 1"),
    (["--budget", "0.4ms", "--proxy", "train", "--proxy-opt", "steps=abc"], 2, "proxy 'train' option steps"),
    (["--budget", "0.4ms", "--proxy", "train", "--proxy-opt", "steps=-3"], 2, "proxy 'train' option steps"),
    (["--budget", "0.4ms", "--train-device", "tpu"], 2, "unknown train device 'tpu'"),
    (["--budget", "0.4ms", "--data", "cifar10:/no/such/folder"], 2, "no such folder"),
]


@pytest.mark.parametrize(("args", "code", "phrase"), SEARCH_CASES, ids=[" ".join(c[0]) for c in SEARCH_CASES])
def test_search_bad_input_is_one_line_and_leaves_nothing(tiny, tmp_path: Path, args, code, phrase) -> None:
    out = tmp_path / "run"
    assert_one_line_error(run_cli(_search(tiny, out, *args)), code, phrase)
    assert not out.exists()  # nothing half-made blocks the next try


@pytest.mark.parametrize(("out", "phrase"), [("/proc/x", "cannot create the folder"),
                                             ("{root}/afile/sub", "is a file, so the folder cannot be created"),
                                             ("{root}/afile", "is a file; give a folder")])
def test_search_out_that_cannot_be_a_folder(tiny, out: str, phrase: str) -> None:
    out = out.format(root=tiny["root"])
    assert_one_line_error(run_cli(_search(tiny, out, "--budget", "0.4ms", "--proxy", "params")), 2, phrase)


def test_a_failed_start_does_not_block_a_rerun(tiny, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert_one_line_error(run_cli(_search(tiny, out, "--budget", "0.4ms", "--data", "folder:/nope")), 2, "/nope")
    result = run_cli(_search(tiny, out, "--budget", "0.4ms", "--trials", "2", "--proxy", "params"))
    assert result.code == 0, result.stderr


def test_a_second_search_into_a_run_folder_is_refused(tiny, run_dir: Path) -> None:
    before = (run_dir / "trials.csv").read_text()
    other = run_cli(["search", "--device", DEVICE, "--tables", tiny["tables"], "--space", tiny["space"], "--budget",
                     "0.3ms", "--proxy", "naswot", "--workers", "1", "--out", str(run_dir)])
    assert_one_line_error(other, 2, "already holds a search run (tinydev, 0.4 ms, params")
    assert "--resume --out" in other.stderr
    same = run_cli(_search(tiny, run_dir, "--budget", "0.4ms", "--proxy", "params"))
    assert_one_line_error(same, 2, "already holds a search run")
    assert (run_dir / "trials.csv").read_text() == before  # nothing mixed in


def test_resume_with_other_settings_is_refused(tiny, run_dir: Path) -> None:
    result = run_cli(["search", "--resume", "--out", str(run_dir), "--budget", "0.3ms", "--workers", "1"])
    assert_one_line_error(result, 2, "this run was started with --budget 0.4, not 0.3")


def test_resume_of_a_truncated_run_json(tiny, run_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    (copy / "run.json").write_text((copy / "run.json").read_text()[:40])
    result = run_cli(["search", "--resume", "--out", str(copy), "--workers", "1"])
    assert_one_line_error(result, 1, "cannot be read as a run's run.json")
    assert_one_line_error(run_cli(["report", str(copy)]), 1, "cannot be read as a run's run.json")


def test_resume_of_a_tables_run_needs_no_tables_again(tiny, run_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    result = run_cli(["search", "--resume", "--out", str(copy), "--trials", "5", "--workers", "1", "--json"])
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["scored"] == 5
    tables = tmp_path / "tables"
    shutil.copytree(tiny["tables"], tables)
    meta = json.loads((copy / "run.json").read_text())
    (copy / "run.json").write_text(json.dumps({**meta, "tables_dir": str(tables),
                                               "settings": {**meta["settings"], "tables_dir": str(tables)}}))
    shutil.rmtree(tables)
    gone = run_cli(["search", "--resume", "--out", str(copy), "--trials", "6", "--workers", "1"])
    assert_one_line_error(gone, 2, "pass --tables DIR")


def test_export_of_a_trial_that_never_ran_names_the_scored_ones(run_dir: Path, tmp_path: Path) -> None:
    scored = load_run(run_dir).scored_trials()
    assert scored == [0, 1, 2, 3]
    result = run_cli(["export", str(run_dir), "--trial", "7", "--format", "json", "--out", str(tmp_path / "a.json")])
    assert_one_line_error(result, 2, "no trial 7; its scored trials are 0-3")


def test_export_suffix_must_match_the_format(tmp_path: Path) -> None:
    result = run_cli(["export", "deit-tiny", "--format", "onnx", "--out", str(tmp_path / "x.txt")])
    assert_one_line_error(result, 2, "--format onnx writes a '.onnx' file")
    assert not (tmp_path / "x.txt").exists()


def test_nothing_scored_exits_1(tiny, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = run_cli(_search(tiny, out, "--budget", "0.4ms", "--trials", "1", "--proxy", "train",
                             "--proxy-opt", "steps=2", "--proxy-opt", "lr=1e12"))
    assert_one_line_error(result, 1, "nothing was scored")
    assert load_run(out).counts().failed >= 10  # every failure is in the run folder, with its reason


def test_a_budget_only_the_fastest_network_fits_has_a_front(tiny, tmp_path: Path) -> None:
    # 0.24ms: what the budget error suggests for this space (its fastest network: 0.2374 ms)
    result = run_cli(_search(tiny, tmp_path / "run", "--budget", "0.24ms", "--trials", "3", "--proxy", "params",
                             "--json"))
    assert result.code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert [p["latency_ms"] for p in doc["front"]] == [pytest.approx(0.23738)]
    assert "budget is very tight" in doc["stopped_by"]


def test_a_training_free_proxy_says_scored_not_trained(tiny, run_dir: Path, tmp_path: Path) -> None:
    text = run_cli(_search(tiny, tmp_path / "run", "--budget", "0.4ms", "--trials", "3", "--proxy", "params"))
    assert text.code == 0, text.stderr
    summary = next(line for line in text.stdout.splitlines() if "3/3" in line)
    assert summary.startswith("scored 3/3") and "CPU-s scoring" in summary and "train" not in summary
    doc = json.loads(run_cli(_search(tiny, tmp_path / "run2", "--budget", "0.4ms", "--trials", "3", "--proxy",
                                     "params", "--json")).stdout)
    assert doc["metric"] == {"name": "parameters (millions)", "kind": "count"} and doc["trained"] == 0
    assert doc["front"] and all("accuracy" not in p and p["metric"] == "parameters (millions)" for p in doc["front"])
    report = json.loads(run_cli(["report", str(run_dir), "--json"]).stdout)
    assert report["front"] and all("accuracy" not in p for p in report["front"] + report["presets"])
    assert "accuracy" not in (run_dir / "report.md").read_text()


def test_exit_codes_are_documented() -> None:
    result = run_cli(["--help"])
    assert result.code == 0
    assert "Exit codes:" in result.stdout and "2    usage error" in result.stdout
    assert "1    the work failed" in result.stdout
