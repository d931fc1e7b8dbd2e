"""A front in predicted top-1 (the `top1` proxy) says what each step in size buys: a small real search."""

from __future__ import annotations

import json
import re

import pytest

from nas.report import write_report
from nas.report.write import size_steps
from nas.testing.runs import make_search_run


@pytest.fixture(scope="module")
def top1_run(tmp_path_factory):
    return make_search_run(tmp_path_factory.mktemp("top1-run"), proxy="top1", trials=12)


def _front_rows(markdown: str) -> list[list[str]]:
    section = markdown.split("## Pareto front", 1)[1].split("\n## ", 1)[0]
    return [[c.strip() for c in line.strip("|").split(" | ")] for line in section.splitlines()
            if re.match(r"^\| \d+ \|", line)]


def test_each_front_point_says_what_its_step_over_the_previous_one_buys(top1_run):
    res = write_report(top1_run)
    front = sorted(json.loads((top1_run / "pareto.json").read_text())["points"], key=lambda p: p["latency_ms"])
    assert len(res.front) >= 3 and [p["trial"] for p in res.front] == [p["trial"] for p in front]
    assert res.front[0]["step"] is None
    for prev, point, shown in zip(front, front[1:], res.front[1:]):
        step = shown["step"]
        gain = point["score"] - prev["score"]
        extra_m = (point["params"] - prev["params"]) / 1e6
        extra_ms = point["latency_ms"] - prev["latency_ms"]
        assert step["gain"] == pytest.approx(gain) and gain > 0  # a front fastest first gains at every step
        assert step["params_m"] == pytest.approx(extra_m) and step["ms"] == pytest.approx(extra_ms)
        assert step["per_m_params"] == (pytest.approx(gain / extra_m) if extra_m > 0 else None)
        assert step["per_ms"] == pytest.approx(gain / extra_ms)

    markdown = res.markdown.read_text()
    header = markdown.split("## Pareto front", 1)[1].splitlines()[2]
    assert header.endswith("| last step: predicted top-1 gained | pt per extra M params | pt per extra ms |")
    assert "| architecture |" in header  # the existing columns stay
    rows = _front_rows(markdown)
    assert [int(r[0]) for r in rows] == [p["trial"] for p in front]
    assert rows[0][-3:] == ["- (fastest)", "-", "-"]
    for prev, point, row in zip(front, front[1:], rows[1:]):
        gain = point["score"] - prev["score"]
        extra_m = (point["params"] - prev["params"]) / 1e6
        extra_ms = point["latency_ms"] - prev["latency_ms"]
        assert row[-3] == f"{gain:+.2f} pt for {extra_m:+.2f} M params, {extra_ms:+.3f} ms"
        assert row[-2] == (f"{gain / extra_m:+.3f}" if extra_m > 0 else "-")
        assert row[-1] == f"{gain / extra_ms:+.2f}"
    first, last = front[0], front[-1]
    assert (f"predicted top-1 rises {last['score'] - first['score']:+.2f} pt from the fastest to the slowest front "
            f"point for {(last['params'] - first['params']) / 1e6:+.1f} M params") in markdown


def test_a_step_that_adds_no_parameters_has_no_per_parameter_gain():
    front = [{"score": 70.0, "params": 5_000_000, "latency_ms": 1.0},
             {"score": 71.5, "params": 4_000_000, "latency_ms": 1.5},
             {"score": 72.0, "params": 24_000_000, "latency_ms": 3.5}]
    first, fewer, more = size_steps(front)
    assert first is None
    assert fewer["gain"] == pytest.approx(1.5) and fewer["params_m"] == pytest.approx(-1.0)
    assert fewer["per_m_params"] is None and fewer["per_ms"] == pytest.approx(3.0)
    assert more["per_m_params"] == pytest.approx(0.025) and more["per_ms"] == pytest.approx(0.25)
    assert size_steps([]) == []
