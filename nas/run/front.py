"""The Pareto front of a run (score up, latency down) among its scored trials within the budget."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from nas.run.record import TrialRecord


def pareto_indices(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the non-dominated (score, latency_ms) pairs, fastest first.

    A point dominates another when it scores at least as high and is at least as fast, and is strictly
    better in one of the two. Of exact duplicates only the first is kept.
    """
    order = sorted(range(len(points)), key=lambda i: (points[i][1], -points[i][0], i))
    front, best = [], float("-inf")
    for i in order:
        if points[i][0] > best:
            front.append(i)
            best = points[i][0]
    return front


def front_of(records: Iterable[TrialRecord], budget_ms: float) -> list[TrialRecord]:
    """The front of the scored, feasible ``records`` (each at its highest rung), fastest first."""
    scored = [r for r in records if r.scored and r.feasible(budget_ms)]
    return [scored[i] for i in pareto_indices([(r.score, r.latency_ms) for r in scored])]  # type: ignore[misc]


def hypervolume(points: Sequence[tuple[float, float]], *, ref_score: float, ref_latency_ms: float) -> float:
    """Area dominated by (score, latency_ms) ``points`` up to the reference point (worst score, worst latency),
    computed by Optuna's hypervolume (the one its multi-objective samplers use). Points no better than the
    reference in both objectives add nothing."""
    import numpy as np
    from optuna._hypervolume import compute_hypervolume

    inside = [(-score, latency) for score, latency in points if score > ref_score and latency < ref_latency_ms]
    losses = np.array(inside)
    if not len(losses):
        return 0.0
    return float(compute_hypervolume(losses, np.array([-ref_score, ref_latency_ms])))
