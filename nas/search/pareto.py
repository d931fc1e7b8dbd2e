"""The two-objective front (accuracy up, latency down) and its hypervolume."""

from __future__ import annotations

from collections.abc import Sequence


def pareto_indices(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the non-dominated points of (accuracy, latency_ms) pairs, fastest first.

    A point dominates another when it is at least as accurate and at least as fast, and strictly
    better in one. Exact duplicates keep only the first.
    """
    order = sorted(range(len(points)), key=lambda i: (points[i][1], -points[i][0], i))
    front, best_acc = [], float("-inf")
    for i in order:
        if points[i][0] > best_acc:
            front.append(i)
            best_acc = points[i][0]
    return front


def hypervolume(points: Sequence[tuple[float, float]], *, ref_accuracy: float, ref_latency_ms: float) -> float:
    """Area dominated by ``points`` and bounded by the reference point (worst accuracy, worst latency).

    Points no better than the reference in both objectives add nothing.
    """
    pts = [(a, lat) for a, lat in points if a > ref_accuracy and lat < ref_latency_ms]
    area, prev_acc = 0.0, ref_accuracy
    for i in pareto_indices(pts):  # fastest first, accuracy increasing
        acc, lat = pts[i]
        area += (acc - prev_acc) * (ref_latency_ms - lat)
        prev_acc = acc
    return area
