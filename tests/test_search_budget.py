"""Budget and duration parsing, and the front / hypervolume of a run."""

from __future__ import annotations

import pytest

from nas.errors import UsageError
from nas.run import hypervolume, pareto_indices
from nas.search import BudgetError, parse_budget, parse_duration


@pytest.mark.parametrize("text, ms", [("5ms", 5.0), ("5 ms", 5.0), ("500us", 0.5), ("500µs", 0.5),
                                      ("0.005s", 5.0), ("1.5 MS", 1.5), ("2e-3s", 2.0)])
def test_budget_forms(text: str, ms: float) -> None:
    assert parse_budget(text) == pytest.approx(ms)


@pytest.mark.parametrize("text", ["5", "0ms", "-5ms", "0s", "fast", "5 min", "nan ms", "", "5 ms ms"])
def test_bad_budgets_list_the_accepted_forms(text: str) -> None:
    with pytest.raises(BudgetError) as err:
        parse_budget(text)
    message = str(err.value)
    assert "\n" not in message and "5ms, 5 ms, 500us, 0.005s" in message
    assert isinstance(err.value, UsageError)


def test_durations() -> None:
    assert parse_duration(None) is None
    assert [parse_duration(t) for t in ("90", "90s", "10m", "1.5h")] == [90, 90, 600, 5400]
    with pytest.raises(UsageError):
        parse_duration("soon")


def test_front_and_hypervolume() -> None:
    points = [(0.5, 1.0), (0.6, 2.0), (0.55, 3.0), (0.7, 4.0), (0.7, 4.0), (0.4, 6.0)]
    assert pareto_indices(points) == [0, 1, 3]
    # slabs: 0.5 x (5-1) + 0.1 x (5-2) + 0.1 x (5-4); the 6 ms point lies beyond the reference latency
    assert hypervolume(points, ref_score=0.0, ref_latency_ms=5.0) == pytest.approx(2.4)
    assert hypervolume([], ref_score=0.0, ref_latency_ms=5.0) == 0.0
