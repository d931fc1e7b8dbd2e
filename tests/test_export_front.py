"""`nas export RUN --front`: every front point exported, a timings.csv that `nas latency calibrate` reads; bad input."""

from __future__ import annotations

import csv
import json

import pytest
from click.testing import CliRunner

from nas.cli import cli, main
from nas.config import ArchConfig
from nas.latency.measure import read_timings
from nas.latency.table import load_table
from nas.run import load_run
from nas.testing.runs import REPORT_DEVICE as DEVICE
from nas.testing.runs import cached_search_run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return cached_search_run(tmp_path_factory)


@pytest.fixture(scope="module")
def front_dir(run_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("front") / "front"
    result = CliRunner().invoke(cli, ["export", str(run_dir), "--front", "--format", "onnx", "--out", str(out),
                                      "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out, json.loads(result.stdout)


def test_every_front_point_is_written_and_checked(run_dir, front_dir):
    out, doc = front_dir
    run = load_run(run_dir)
    front = {r.trial: r for r in run.front()}
    assert {int(t) for t in doc["trials"]} == set(front) and len(front) >= 2
    for trial, results in doc["trials"].items():
        assert [r["format"] for r in results] == ["json", "onnx"]
        assert results[1]["max_abs_diff"] < results[1]["tolerance"]["atol"]  # onnxruntime ran it
        assert ArchConfig.load(out / f"trial-{trial}.json") == run.config(int(trial))
        assert (out / f"trial-{trial}.onnx").is_file()
    assert "nas latency calibrate --device" in (out / "README.txt").read_text()


def test_timings_csv_feeds_calibrate(run_dir, front_dir):
    out, _ = front_dir
    run = load_run(run_dir)
    with (out / "timings.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["trial"]) for r in rows] == [r.trial for r in sorted(run.front(), key=lambda r: r.latency_ms)]
    assert all(r["latency_ms"] == "" for r in rows)
    filled = out.parent / "filled" / "timings.csv"
    filled.parent.mkdir()
    for row in rows:
        (filled.parent / row["arch"]).write_text((out / row["arch"]).read_text())
        row["latency_ms"] = f"{float(row['predicted_ms']) * 1.1:.4f}"
    with filled.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    base = load_table(DEVICE, tables_dir=run_dir.parent / "tables")
    timings = read_timings(filled, base=base)
    assert [t.cfg.replace(name="x") for t in timings] == [run.config(int(r["trial"])).replace(name="x")
                                                           for r in rows]
    assert [t.latency_ms for t in timings] == [float(r["latency_ms"]) for r in rows]


def test_filled_timings_are_not_overwritten(run_dir, front_dir, capsys):
    out, _ = front_dir
    text = (out / "timings.csv").read_text().splitlines()
    first = text[1].split(",")
    first[1] = "1.5"
    (out / "timings.csv").write_text("\n".join([text[0], ",".join(first), *text[2:]]) + "\n")
    with pytest.raises(SystemExit) as exc:
        main(["export", str(run_dir), "--front", "--format", "json", "--out", str(out)])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "already holds 1 measured time" in err
    assert "1.5" in (out / "timings.csv").read_text()


@pytest.mark.parametrize("extra, phrase", [(["--trial", "0"], "drop --trial"), ([], "not a run folder")])
def test_front_bad_input_is_one_line(run_dir, tmp_path, capsys, extra, phrase):
    source = str(run_dir) if extra else "deit-tiny"
    with pytest.raises(SystemExit) as exc:
        main(["export", source, "--front", *extra, "--format", "json", "--out", str(tmp_path / "f")])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and phrase in err
    assert not (tmp_path / "f").exists()
