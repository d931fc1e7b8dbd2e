"""`nas report` on a run folder (a small real search, see nas.testing.runs): files, PNG size, the front table."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from click.testing import CliRunner
from PIL import Image

from nas.cli import cli, main
from nas.report import write_report
from nas.report.plots import PNG_DPI, PNG_SIZE_IN
from nas.run import NotARunError, load_run
from nas.testing.runs import cached_search_run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return cached_search_run(tmp_path_factory)


def _nondominated_feasible(run) -> set[int]:
    """The front recomputed from trials.csv alone: feasible trials no other feasible trial beats."""
    rows = [r for r in run.records if r.state == "COMPLETE" and r.latency_ms <= run.budget_ms]
    return {r.trial for r in rows if not any(
        o.score >= r.score and o.latency_ms <= r.latency_ms and o.trial != r.trial
        and (o.score, o.latency_ms) != (r.score, r.latency_ms) for o in rows)}


def _md_front_trials(markdown: str) -> list[int]:
    section = markdown.split("## Pareto front", 1)[1].split("\n## ", 1)[0]
    return [int(m.group(1)) for m in re.finditer(r"^\| (\d+) \|", section, flags=re.M)]


def test_report_files_and_front_table(run_dir):
    res = write_report(run_dir)
    run = load_run(run_dir)
    for path in (res.markdown, res.png, res.html):
        assert path.is_file() and path.stat().st_size > 0
    with Image.open(res.png) as img:
        img.verify()
    with Image.open(res.png) as img:
        assert img.format == "PNG"
        assert img.size == (int(PNG_SIZE_IN[0] * PNG_DPI), int(PNG_SIZE_IN[1] * PNG_DPI))
    listed = _md_front_trials(res.markdown.read_text())
    assert len(listed) == len(set(listed)) >= 2
    assert len(run.records) > len(listed) and run.presets  # the plot has trials off the front and presets
    pareto = json.loads((run_dir / "pareto.json").read_text())
    assert set(listed) == {r.trial for r in run.front()} == {p["trial"] for p in pareto["points"]} \
        == _nondominated_feasible(run)
    html = res.html.read_text()
    embedded = "Plotly.newPlot" in html and re.search(r"<script[^>]*\bsrc=", html) is None
    assert embedded, "pareto.html must embed plotly.js (no external script) to open offline"
    md = res.markdown.read_text()
    assert "latency (ms, estimated)" in md and all(p.name in md for p in run.presets)
    assert not list(run_dir.glob(".*tmp*"))


def test_cli_json_summary(run_dir):
    result = CliRunner().invoke(cli, ["report", str(run_dir), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    run = load_run(run_dir)
    assert [p["trial"] for p in doc["front"]] == [r.trial for r in run.front()]
    assert doc["n_trials"] == len(run.records) and doc["method"] == "estimated"
    # the training proxy's score is an accuracy: both names; its rung is reported with it
    assert doc["metric"] == {"name": "validation top-1", "kind": "accuracy"} and doc["rungs"] == [1, 3]
    assert all(p["accuracy"] == p["score"] and p["steps"] in (1, 3) for p in doc["front"])
    assert doc["dashboard"] == f"optuna-dashboard sqlite:///{run_dir / 'study.db'}"


def test_front_from_trials_csv_when_pareto_json_is_missing(run_dir, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    (copy / "pareto.json").unlink()
    res = write_report(copy)
    assert {p["trial"] for p in res.front} == _nondominated_feasible(load_run(copy))
    assert {p["trial"] for p in res.front} == {p["trial"] for p in write_report(run_dir).front}


def test_a_torn_last_row_is_skipped(run_dir, tmp_path):
    """A search killed while appending to trials.csv leaves a partial last line: the rest still reads."""
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    text = (copy / "trials.csv").read_text()
    (copy / "trials.csv").write_text(text + "99,COMPL")
    assert [r.trial for r in load_run(copy).records] == [r.trial for r in load_run(run_dir).records]


def test_no_feasible_trial_says_so(run_dir, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    meta = json.loads((copy / "run.json").read_text())
    meta["budget_ms"] = 0.01
    (copy / "run.json").write_text(json.dumps(meta))
    res = write_report(copy)
    assert res.front == [] and res.n_feasible == 0
    assert "larger --budget " in res.markdown.read_text()
    assert res.png.is_file()


def test_not_a_run_is_one_line(tmp_path, capsys):
    with pytest.raises(NotARunError):
        write_report(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(["report", str(tmp_path)])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "has no run.json" in err


def test_a_run_folder_of_the_first_schema_is_still_read(run_dir, tmp_path):
    """run.json without schema/metric/rungs, the first ten trials.csv columns, pareto.json points with
    ``accuracy``: the report and the export read it as before."""
    import csv

    old = tmp_path / "run"
    shutil.copytree(run_dir, old)
    meta = json.loads((old / "run.json").read_text())
    for key in ("schema", "metric", "rungs", "tables_dir", "workers", "train_device"):
        meta.pop(key)
    (old / "run.json").write_text(json.dumps(meta))
    rows = list(csv.DictReader((old / "trials.csv").open()))
    first = ["trial", "state", "feasible", "accuracy", "latency_ms", "params", "macs", "preset", "reason", "seconds"]
    with (old / "trials.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, first, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    pareto = json.loads((old / "pareto.json").read_text())
    pareto["points"] = [{k: p[k] for k in ("trial", "accuracy", "latency_ms", "params", "macs", "preset", "summary",
                                           "optuna_params", "config")} for p in pareto["points"]]
    (old / "pareto.json").write_text(json.dumps(pareto))
    run = load_run(old)
    assert run.meta.metric.is_accuracy
    assert [r.trial for r in run.front()] == [r.trial for r in load_run(run_dir).front()]
    res = write_report(old)
    assert [p["trial"] for p in res.front] == [r.trial for r in run.front()]
    out = tmp_path / "best.json"
    result = CliRunner().invoke(cli, ["export", str(old), "--pick", "best", "--format", "json", "--out", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["optuna_params"]  # lent by pareto.json to the record


def test_a_long_front_labels_a_spread_of_its_points_ends_included():
    from nas.report.plots import MAX_FRONT_LABELS, front_labelled

    short = [{"trial": i} for i in range(MAX_FRONT_LABELS)]
    assert front_labelled(short) == short
    long = [{"trial": i} for i in range(38)]
    picked = [p["trial"] for p in front_labelled(long)]
    assert len(picked) == MAX_FRONT_LABELS and picked[0] == 0 and picked[-1] == 37
    gaps = [b - a for a, b in zip(picked, picked[1:])]
    assert max(gaps) - min(gaps) <= 1  # evenly spread


def test_a_duplicate_proposal_reads_back_from_trials_csv_as_a_duplicate_not_a_failure():
    """Two workers proposing one network at once: the second trial is recorded as a duplicate; trials.csv
    (what the report reads) keeps that, so the report does not count it as a failed trial."""
    from nas.run.census import status_of
    from nas.run.record import TRIAL_COLUMNS, TrialRecord

    dup = TrialRecord(trial=7, state="FAIL", arch="abc", latency_ms=1.0, duplicate_of=3,
                      reason="duplicate of trial 3: not scored again")
    row = dict(zip(TRIAL_COLUMNS, dup.to_row(budget_ms=2.0, metric="score", is_accuracy=False), strict=True))
    back = TrialRecord.from_row(row)
    assert back.duplicate_of == 3 and status_of(back) == "duplicate" and not back.failed
