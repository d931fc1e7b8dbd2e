"""Limits besides the budget (sizes, further devices, a confidence), --verify and `nas report --timings`, through
the real CLI on the tiny ViT space (27 networks) and real latency tables written for it."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from nas.run import load_run
from nas.testing.cli import assert_one_line_error, run_cli
from nas.testing.runs import TINY_DEVICE as DEVICE
from nas.testing.runs import write_tiny_setup

OTHER = "tinydev-b"  # a second device: the same blocks, priced three times as slow


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    from nas.space import load_space
    from nas.space_members import block_specs
    from nas.testing import size_price, write_table

    root = tmp_path_factory.mktemp("limits")
    space, tables = write_tiny_setup(root)
    write_table(block_specs(load_space(space)), tables, device=OTHER, price=lambda s: 3 * size_price(s))
    return {"space": str(space), "tables": str(tables)}


def _search(tiny: dict[str, str], out: Path, *args: str) -> dict:
    result = run_cli(["search", "--tables", tiny["tables"], "--space", tiny["space"], "--out", str(out),
                      "--workers", "1", "--proxy", "params", "--sampler", "random", "--json", *args])
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)


def _members(tiny: dict[str, str]) -> list:
    from nas.space import load_space

    space = load_space(tiny["space"])
    return [space.config_from_params(p) for p in space.enumerate()]


def test_planned_counts_equal_the_built_networks(tiny) -> None:
    from nas.models.stats import network_stats, planned_stats

    members = _members(tiny)
    assert len(members) == 18
    assert all(planned_stats(cfg) == network_stats(cfg) for cfg in members)


def test_size_limits_hold_for_every_scored_trial(tiny, tmp_path: Path) -> None:
    from nas.models.stats import planned_stats

    params = sorted(planned_stats(cfg)[0] for cfg in _members(tiny))
    limit = params[len(params) // 2]  # half the space is over it
    out = tmp_path / "run"
    result = _search(tiny, out, "--device", DEVICE, "--budget", "50ms", "--trials", "6",
                     "--max-size-mb", f"{limit * 2 / 1e6}", "--max-macs", "1G")
    run = load_run(out)
    scored = [r for r in run.records if r.scored]
    assert len(scored) == result["scored"] > 0 and result["over_limits"] > 0
    assert all(r.params * 2 / 1e6 <= limit * 2 / 1e6 for r in scored)
    assert run.meta.limits.max_size_mb == pytest.approx(limit * 2 / 1e6) and run.meta.limits.precision == "fp16"
    assert run.meta.limits.max_macs == 10**9
    assert any("weights: at most" in line for line in result["limits"])


def test_two_devices_every_budget_holds_and_every_latency_is_written(tiny, tmp_path: Path) -> None:
    from nas.latency.predict import predict_ms
    from nas.latency.table import load_table

    other = load_table(OTHER, tiny["tables"])
    latencies = sorted(predict_ms(cfg, other) for cfg in _members(tiny))
    budget_b = latencies[len(latencies) // 2]
    out = tmp_path / "run"
    result = _search(tiny, out, "--device", DEVICE, "--budget", "50ms", "--device", OTHER, "--budget",
                     f"{budget_b}ms", "--trials", "5")
    run = load_run(out)
    scored = [r for r in run.records if r.scored]
    assert scored and all(OTHER in r.device_latencies for r in scored)
    assert all(r.device_latencies[OTHER] <= budget_b for r in scored)
    for r in scored:  # the recorded latency is the table's
        cfg = run.config(r.trial)
        assert r.device_latencies[OTHER] == pytest.approx(predict_ms(cfg, other), rel=1e-5)
    assert all(OTHER in p["device_latencies"] for p in result["front"])
    points = json.loads((out / "pareto.json").read_text())["points"]
    assert all(p["device_latencies"][OTHER] <= budget_b for p in points)
    assert [d.device for d in run.meta.limits.devices] == [OTHER]


def test_confidence_never_admits_an_upper_end_over_the_budget(tiny, tmp_path: Path) -> None:
    from nas.latency.interval import estimate_latency
    from nas.latency.predict import predict_ms
    from nas.latency.table import load_table

    table = load_table(DEVICE, tiny["tables"])
    members = _members(tiny)
    points = sorted(predict_ms(cfg, table) for cfg in members)
    budget = points[-4]  # some members fit by their prediction, not by their interval's upper end
    admitted_by_point = [c for c in members if predict_ms(c, table) <= budget]
    by_interval = [c for c in admitted_by_point if estimate_latency(c, table, level=0.9).high_ms <= budget]
    assert len(by_interval) < len(admitted_by_point)
    out = tmp_path / "run"
    result = _search(tiny, out, "--device", DEVICE, "--budget", f"{budget}ms", "--confidence", "0.9",
                     "--trials", "30")
    scored = [r for r in load_run(out).records if r.scored]
    assert scored and all(r.latency_high_ms <= budget and r.latency_level == 0.9 for r in scored)
    assert all(r.budget_chance is not None and r.budget_chance >= 0.95 for r in scored)  # upper end of 90% two-sided
    assert len(scored) <= len(by_interval) and result["over_limits"] > 0


def test_verify_measures_the_front_beside_its_prediction(tiny, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = _search(tiny, out, "--device", DEVICE, "--budget", "50ms", "--trials", "4", "--verify", "2")
    measured = json.loads((out / "measured.json").read_text())["trials"]
    assert len(measured) == min(2, len(result["front"])) > 0
    assert all(v["measured_ms"] > 0 and "onnxruntime" in v["source"] for v in measured.values())
    slowest = sorted(result["front"], key=lambda p: -p["latency_ms"])[:2]
    assert {str(p["trial"]) for p in slowest} == set(measured)  # the points nearest the budget end
    points = {str(p["trial"]): p for p in json.loads((out / "pareto.json").read_text())["points"]}
    assert all(points[t]["measured_ms"] == v["measured_ms"] for t, v in measured.items())
    rows = {r["trial"]: r for r in csv.DictReader((out / "trials.csv").open())}
    assert all(float(rows[t]["measured_ms"]) == v["measured_ms"] for t, v in measured.items())
    assert "measured (ms)" in (out / "report.md").read_text()


def test_report_timings_show_measured_and_mark_over_budget(tiny, tmp_path: Path) -> None:
    out, front_dir = tmp_path / "run", tmp_path / "front"
    _search(tiny, out, "--device", DEVICE, "--budget", "50ms", "--trials", "4")
    assert run_cli(["export", str(out), "--front", "--format", "json", "--out", str(front_dir)]).code == 0
    timings = front_dir / "timings.csv"
    rows = list(csv.DictReader(timings.open()))
    for i, row in enumerate(rows):
        row["latency_ms"] = "99.5" if i == 0 else row["predicted_ms"]  # the first one measured over the budget
    with timings.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    result = run_cli(["report", str(out), "--timings", str(timings), "--json"])
    assert result.code == 0, result.stderr
    report = json.loads(result.stdout)
    measured = {p["trial"]: p["measured_ms"] for p in report["front"]}
    assert measured[int(rows[0]["trial"])] == 99.5 and all(v is not None for v in measured.values())
    assert any("measured over the budget" in note for note in report["notes"])
    assert "✗ over budget" in (out / "report.md").read_text()
    points = json.loads((out / "pareto.json").read_text())["points"]
    assert {p["trial"]: p["measured_ms"] for p in points} == measured
    # a network that is not a trial of the run is named
    stranger = tmp_path / "t.csv"
    stranger.write_text("arch,latency_ms\ndeit-tiny,3.0\n")
    assert_one_line_error(run_cli(["report", str(out), "--timings", str(stranger)]), 2, "no scored trial")


def test_resume_of_a_run_without_report_writes_none(tiny, tmp_path: Path) -> None:
    out = tmp_path / "run"
    _search(tiny, out, "--device", DEVICE, "--budget", "50ms", "--trials", "2", "--no-report")
    result = run_cli(["search", "--resume", "--out", str(out), "--trials", "3", "--workers", "1"])
    assert result.code == 0, result.stderr
    assert not (out / "report.md").exists() and len([r for r in load_run(out).records if r.scored]) == 3


@pytest.mark.slow  # a search on worker processes
def test_workers_beyond_the_cores_are_capped_with_a_note(tiny, tmp_path: Path) -> None:
    from nas.search.plan import default_workers

    result = run_cli(["search", "--tables", tiny["tables"], "--space", tiny["space"], "--out", str(tmp_path / "r"),
                      "--device", DEVICE, "--budget", "50ms", "--trials", "1", "--proxy", "params",
                      "--workers", "64", "--json"])
    assert result.code == 0, result.stderr
    assert "--workers 64 is more than" in result.stderr
    assert json.loads(result.stdout)["workers"] == default_workers()


@pytest.mark.parametrize("args, code, phrase", [
    (["--max-params", "-5"], 2, "--max-params must be a positive count"),
    (["--max-params", "lots"], 2, "--max-params must be a positive count"),
    (["--max-macs", "0"], 2, "--max-macs must be a positive count"),
    (["--max-size-mb", "nan"], 2, "--max-size-mb must be a positive size"),
    (["--max-size-mb", "20", "--precision", "fp8"], 2, "--precision must be one of fp32, fp16, int8"),
    (["--precision", "int8"], 2, "give --max-size-mb too"),
    (["--max-params", "10"], 2, "the smallest has"),
    (["--confidence", "1.5"], 2, "--confidence must be a probability"),
    (["--confidence", "0"], 2, "--confidence must be a probability"),
    (["--device", DEVICE, "--budget", "9ms"], 2, f"--device {DEVICE} is given twice"),
    (["--device", OTHER], 2, "give one --budget for each --device"),
    (["--device", OTHER, "--budget", "0.001ms"], 2, "below the fastest network of space 'tiny-vit' there"),
    (["--verify", "-1"], 2, "--verify must be 1 or more"),
])
def test_bad_limits_are_one_line(tiny, tmp_path: Path, args: list[str], code: int, phrase: str) -> None:
    result = run_cli(["search", "--tables", tiny["tables"], "--space", tiny["space"], "--out", str(tmp_path / "r"),
                      "--device", DEVICE, "--budget", "50ms", "--workers", "1", *args])
    assert_one_line_error(result, code, phrase)
    assert not (tmp_path / "r").exists()  # refused before anything was written


def test_verify_on_a_device_this_machine_cannot_time(tmp_path: Path) -> None:
    from nas.space import load_space
    from nas.space_members import block_specs
    from nas.testing import write_table

    space, tables = write_tiny_setup(tmp_path)
    write_table(block_specs(load_space(space)), tables, device="tinyphone", runtime="coreml")
    result = run_cli(["search", "--tables", str(tables), "--space", str(space), "--out", str(tmp_path / "r"),
                      "--device", "tinyphone", "--budget", "50ms", "--verify", "2"])
    assert_one_line_error(result, 2, "nas report RUN --timings")


def test_report_groups_networks_the_table_cannot_tell_apart(tiny, tmp_path: Path) -> None:
    out = tmp_path / "run"
    _search(tiny, out, "--device", DEVICE, "--budget", "50ms", "--trials", "18")  # the whole space
    report = json.loads(run_cli(["report", str(out), "--json"]).stdout)
    # gelu and relu twins: the tiny table prices blocks by their sizes, so every twin pair is one group
    note = next(n for n in report["notes"] if "cannot tell them apart" in n)
    assert note.startswith("18 scored networks fall in 9 group(s)")
