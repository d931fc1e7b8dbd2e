"""Does the `top1` predictor rank and predict published ImageNet-1k top-1 out of sample? (issue 18)

Protocol, on the shipped dataset (nas/proxy/accuracy/data/published_top1.csv), the only numbers reported:

- leave-one-paper-out: every row of a paper is predicted by a fit on the other papers' rows alone; Kendall
  tau of the held-out predictions with the published top-1 over all rows, and their mean absolute error;
- within-paper pairs: pairs of rows of the same paper and training recipe (recipe, distillation, epochs)
  with different top-1, share whose order the signal gets right (ties count half);
- coverage: share of held-out rows inside the 90% interval, its half width calibrated (split-conformal) on
  the other papers' held-out residuals only.

Signals compared on the same protocol: the predictor (at a few ridge penalties), parameter count and MACs
(ranking signals: Kendall and pairs only; no fit, so nothing to hold out). The in-sample fit is never
reported. Run: ``python benchmarks/accuracy_predictor.py`` (a few seconds: the rows' features are shipped).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau

from nas.proxy.accuracy.dataset import load_accuracy_rows
from nas.proxy.accuracy.predictor import (
    RIDGE,
    conformal_half_width,
    leave_one_paper_out,
    read_features,
    row_vector,
    same_network_key,
)

RESULTS = Path(__file__).resolve().parent / "results"
TARGETS = {"kendall": 0.85, "mae": 1.0, "pairs": 0.75, "coverage": 0.85}


def pair_share(signal: np.ndarray, top1: np.ndarray, groups: list[tuple]) -> tuple[float, int]:
    """Share of same-group pairs with different top-1 that ``signal`` orders like the truth (ties count half)."""
    right, pairs = 0.0, 0
    for i, j in itertools.combinations(range(len(top1)), 2):
        if groups[i] != groups[j] or top1[i] == top1[j]:
            continue
        pairs += 1
        d = (signal[i] - signal[j]) * (top1[i] - top1[j])
        right += 1.0 if d > 0 else 0.5 if d == 0 else 0.0
    return (right / pairs if pairs else math.nan), pairs


def held_out_coverage(residuals: np.ndarray, papers: np.ndarray) -> float:
    """Share of rows within a half width calibrated on the other papers' held-out residuals."""
    inside = 0
    for paper in dict.fromkeys(papers):
        held = papers == paper
        half = conformal_half_width(residuals[~held])
        inside += int(np.sum(np.abs(residuals[held]) <= half))
    return inside / len(residuals)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ridges", type=float, nargs="+", default=[1.0, RIDGE, 30.0])
    args = parser.parse_args()

    rows = load_accuracy_rows()
    features = read_features(rows, None)
    x = np.array([row_vector(row, features[row.name]) for row in rows])
    top1 = np.array([row.top1 for row in rows])
    papers = np.array([row.paper for row in rows])
    keys = [same_network_key(row.config) for row in rows]
    groups = [(row.paper, row.recipe, row.distilled, row.epochs) for row in rows]

    results: dict[str, dict] = {}
    for name, signal in (("params", np.array([features[r.name]["params"] for r in rows])),
                         ("MACs", np.array([features[r.name]["macs"] for r in rows]))):
        share, pairs = pair_share(signal, top1, groups)
        results[name] = {"kendall": float(kendalltau(signal, top1)[0]), "mae": None, "pairs": share,
                         "coverage": None, "n_pairs": pairs}
    for ridge in args.ridges:
        held_out = leave_one_paper_out(x, top1, papers, keys, ridge=ridge)
        residuals = top1 - held_out
        share, pairs = pair_share(held_out, top1, groups)
        results[f"top1 (ridge {ridge:g}){' [shipped]' if ridge == RIDGE else ''}"] = {
            "kendall": float(kendalltau(held_out, top1)[0]), "mae": float(np.mean(np.abs(residuals))),
            "pairs": share, "coverage": held_out_coverage(residuals, papers), "n_pairs": pairs,
            "worst_paper": max(dict.fromkeys(papers), key=lambda p: float(np.mean(np.abs(residuals[papers == p])))),
        }

    payload = {"command": "python benchmarks/accuracy_predictor.py", "rows": len(rows),
               "papers": sorted(set(papers.tolist())), "targets": TARGETS, "signals": results}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "accuracy_predictor.json").write_text(json.dumps(payload, indent=1) + "\n")

    def fmt(value: float | None, digits: int = 2) -> str:
        return "" if value is None else f"{value:.{digits}f}"

    lines = [f"# Accuracy predictor, out of sample ({len(rows)} rows, {len(set(papers))} papers)", "",
             f"`{payload['command']}`; leave-one-paper-out; pairs: same paper and recipe "
             f"({next(iter(results.values()))['n_pairs']} pairs).", "",
             "| signal | Kendall | MAE (top-1 points) | within-paper pairs | 90% coverage |", "|---|---|---|---|---|",
             *(f"| {name} | {fmt(r['kendall'])} | {fmt(r['mae'])} | {fmt(r['pairs'])} | {fmt(r['coverage'])} |"
               for name, r in results.items()),
             f"| target | >= {TARGETS['kendall']} | <= {TARGETS['mae']} | >= {TARGETS['pairs']} | "
             f">= {TARGETS['coverage']} |", ""]
    (RESULTS / "accuracy_predictor.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
