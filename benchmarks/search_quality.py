"""Search quality: hypervolume of the feasible front for NSGA-II and TPE vs random search.

Every sampler gets the same number of evaluated (within-budget) candidates, on several seeds, on the
default space priced by the iPhone 12 table, scored by a cheap deterministic training-free proxy
(NASWOT on the embedded digits data), so the comparison runs in minutes. Presets are not enqueued
here (they would give every sampler the same first trials); ``nas search`` does enqueue them.

Hypervolume: area dominated by the feasible front in (proxy score up, latency down), bounded by the
reference point (lowest score seen in any run, the budget), divided by (score range x budget), so
1.0 would be a single network with the best score at zero latency.

Run pinned to one core (CPU 0 is used by the latency profiler):

    taskset -c 1 python benchmarks/search_quality.py --trials 40 --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from nas.run import hypervolume, load_run
from nas.search import SearchSettings, parse_budget, run_search

RESULTS = Path(__file__).parent / "results"


def run_one(sampler: str, seed: int, args: argparse.Namespace, root: Path) -> dict:
    out = root / f"{sampler}-{seed}"
    start = time.perf_counter()
    result = run_search(SearchSettings(
        device=args.device, budget_ms=parse_budget(args.budget), space=args.space, trials=args.trials,
        proxy=args.proxy, sampler=sampler, seed=seed, out=out, report=False, enqueue_presets=False,
        workers=1, argv=sys.argv))
    if result.stopped_by in ("SIGINT", "SIGTERM"):
        sys.exit(f"stopped by {result.stopped_by}")
    run = load_run(out)
    feasible = [(r.score, r.latency_ms) for r in run.records if r.scored and run.feasible(r)]
    return {"sampler": sampler, "seed": seed, "evaluated": result.scored, "over_budget": result.over_budget,
            "reused": result.duplicates, "failed": result.failed, "seconds": round(time.perf_counter() - start, 1),
            "points": feasible, "front_size": len(result.front)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="iphone12")
    ap.add_argument("--budget", default="3ms")
    ap.add_argument("--space", default="hybrid-vit")
    ap.add_argument("--proxy", default="naswot")
    ap.add_argument("--trials", type=int, default=40)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--samplers", nargs="+", default=["nsga2", "tpe", "random"])
    ap.add_argument("--name", default="search_quality", help="results file stem in benchmarks/results/")
    args = ap.parse_args()
    budget_ms = parse_budget(args.budget)
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            for sampler in args.samplers:
                runs.append(run_one(sampler, seed, args, Path(tmp)))
                print(f"{sampler} seed {seed}: {runs[-1]['evaluated']} evaluated, {runs[-1]['over_budget']} over "
                      f"budget, {runs[-1]['seconds']} s", file=sys.stderr)
    scores = [a for r in runs for a, _ in r["points"]]
    lo, hi = min(scores), max(scores)
    for r in runs:
        r["hypervolume"] = hypervolume(r["points"], ref_score=lo, ref_latency_ms=budget_ms) / \
            ((hi - lo) * budget_ms)
        r["best_score"] = max(a for a, _ in r["points"])
    summary = {}
    for sampler in args.samplers:
        hv = [r["hypervolume"] for r in runs if r["sampler"] == sampler]
        over = [r["over_budget"] for r in runs if r["sampler"] == sampler]
        summary[sampler] = {"hv_mean": statistics.mean(hv), "hv_std": statistics.pstdev(hv), "hv": hv,
                            "over_budget_mean": statistics.mean(over),
                            "seconds_mean": statistics.mean(r["seconds"] for r in runs if r["sampler"] == sampler)}
    meta = {"command": "taskset -c 1 python " + " ".join(sys.argv), "device": args.device, "budget_ms": budget_ms,
            "space": args.space, "proxy": args.proxy, "trials": args.trials, "seeds": args.seeds,
            "reference": {"score": lo, "latency_ms": budget_ms, "score_range": [lo, hi]},
            "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps({"meta": meta, "summary": summary, "runs": runs},
                                                            indent=2) + "\n")
    lines = [
        "# Search quality: hypervolume of the feasible front",
        "",
        f"`{meta['command']}` ({meta['date']})",
        "",
        f"Device `{args.device}`, budget {budget_ms:g} ms, space `{args.space}`, proxy `{args.proxy}` (digits), "
        f"{args.trials} evaluated (within-budget) candidates per run, seeds {args.seeds}, presets not enqueued. "
        "Hypervolume normalised by (score range x budget); reference = lowest score of any run, the budget.",
        "",
        "| sampler | hypervolume mean | std | per seed | over-budget lookups (mean) | seconds (mean) |",
        "|---|---:|---:|---|---:|---:|",
    ]
    for sampler, s in summary.items():
        lines.append(f"| {sampler} | {s['hv_mean']:.4f} | {s['hv_std']:.4f} | "
                     f"{', '.join(f'{v:.4f}' for v in s['hv'])} | {s['over_budget_mean']:.1f} | "
                     f"{s['seconds_mean']:.0f} |")
    (RESULTS / f"{args.name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
