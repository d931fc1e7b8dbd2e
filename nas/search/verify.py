"""``nas search --verify K``: time the front points nearest the budget end to end when the search finishes.

The search picks where the table is least checked (the budget edge), so the points a user would ship are
measured on this machine as the table was timed: its runtime, thread count and clock (the median of the
network timer of ``nas latency measure``). They are written to the run's measured.json: the report and
pareto.json show measured beside predicted, and mark a point measured over the budget.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from nas.run.measured import Measurement
from nas.run.record import TrialRecord


def nearest_budget(front: Sequence[TrialRecord], budget_ms: float, k: int) -> list[TrialRecord]:
    """The ``k`` front points nearest the budget end (the slowest within it first)."""
    return sorted(front, key=lambda r: (budget_ms - (r.latency_ms or 0.0), r.trial))[:k]


def verify_front(front: Sequence[TrialRecord], *, budget_ms: float, k: int, table: Any,
                 config_of: Callable[[dict[str, Any]], Any], log: Callable[[str], None]) -> list[Measurement]:
    """Measure the ``k`` front points nearest the budget on this machine as ``table`` was timed (its runtime,
    threads and clock).

    Args:
        config_of: the run's space replaying a trial's Optuna params to its ArchConfig.
        log: receives one line per measured point.
    """
    from nas.latency.measure import measure_for_table

    out = []
    for record in nearest_budget(front, budget_ms, k):
        cfg = config_of(record.optuna_params)
        timing = measure_for_table(cfg, table)
        ms = float(timing["latency_ms"])
        source = (f"--verify: {timing['runtime']} {timing['runtime_version']}, {timing['threads']} thread(s), "
                  f"{timing['clock']} clock, median")
        out.append(Measurement(record.trial, ms, source))
        over = " (over the budget)" if ms > budget_ms else ""
        log(f"verified trial {record.trial}: measured {ms:.3g} ms, predicted {record.latency_ms:.3g} ms{over}")
    return out
