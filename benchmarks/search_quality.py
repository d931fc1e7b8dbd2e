"""Search quality at equal compute: multi-fidelity search vs each sampler without it vs random search.

Every method gets the same compute budget: CPU seconds spent scoring candidates (process CPU time of the
one worker, training and validation included; lookups and the sampler are not counted). The objective is
the training signal: the ``train`` proxy on the CIFAR-10 dev subset (``--steps`` steps in full, rungs of
``--steps / 3^k`` down to 10 steps for multi-fidelity). Methods:

- ``mf-<sampler>``: the product's search (asynchronous successive halving over latency bands) with that
  sampler; ``mf-<default sampler>`` is the default search;
- ``<sampler>``: every candidate trained at the full budget (no multi-fidelity); ``random`` is random
  search.

Each run's front (feasible, each point at its highest rung) is scored again by a longer training of its
networks (``--long-steps``, scored on the dataset's 1,000 held-out test images, cached by network), and
measured by the hypervolume of that re-scored front (reference: chance accuracy 0.1 and the budget,
normalised by 0.9 x budget) and by the longer-training accuracy of the run's best network (the highest
search score within the budget). Presets are not queued (every method starts from the fastest network of
the space only), so the samplers are compared, not the presets.

Where the two differ, ``paired_cost`` says why: the random sampler proposes the same networks whatever
the scores, so ``mf-random`` and ``random`` of one seed score the same networks, and their CPU-s compare
rung-by-rung scoring with the full budget network by network.

Resumable: each finished run and each longer training is stored in the results JSON as it completes; a run
that was interrupted is run again from its start. Run pinned to one core (one worker):

    taskset -c 1 python benchmarks/search_quality.py --cpu-budget 240 --steps 40 --long-steps 200
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pinning import command_line  # noqa: E402

from nas.config import ArchConfig  # noqa: E402
from nas.files import write_json  # noqa: E402
from nas.proxy import load_dataset  # noqa: E402
from nas.proxy.train import TrainProxy  # noqa: E402
from nas.run import hypervolume, load_run  # noqa: E402
from nas.search import DEFAULT_SAMPLER, SearchSettings, parse_budget, run_search  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = next((p / "shared" for p in (ROOT.parent, ROOT.parent.parent) if (p / "shared").is_dir()),
              ROOT.parent / "shared")  # ../shared of a checkout, or of the worktrees' folder
RESULTS = ROOT / "benchmarks" / "results"
CHANCE = 0.1  # top-1 of a 10-class guess: the hypervolume's reference accuracy
TARGET_HV_RATIO = 1.10


def methods(samplers: list[str]) -> dict[str, dict[str, Any]]:
    """Every sampler with multi-fidelity, random search, then the other samplers without multi-fidelity (in
    the order run: what the verdict needs first)."""
    out = {f"mf-{sampler}": {"sampler": sampler, "multi_fidelity": True} for sampler in samplers}
    order = ["random", *[s for s in samplers if s != "random"]] if "random" in samplers else samplers
    out.update({sampler: {"sampler": sampler, "multi_fidelity": False} for sampler in order})
    return out


def run_one(key: str, method: dict[str, Any], budget: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    """One search of ``method`` at ``budget`` with ``seed``, until the compute budget is spent."""
    out = Path(args.work) / key.replace("/", "-")
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    result = run_search(SearchSettings(
        device=args.device, budget_ms=parse_budget(budget), space=args.space, trials=100_000, proxy="train",
        proxy_options={"steps": args.steps}, data=f"cifar10:{args.cifar}", sampler=method["sampler"], seed=seed,
        out=out, workers=1, multi_fidelity=method["multi_fidelity"], max_cpu_s=args.cpu_budget, report=False,
        enqueue_presets=False, argv=sys.argv))
    run = load_run(out)
    records = run.records
    front = run.front()
    best = max(front, key=lambda r: r.score) if front else None
    configs = {r.arch: run.config(r.trial).to_dict() for r in front}
    wasted = [r for r in records if r.duplicate_of is not None or not run.feasible(r)]
    return {
        "method": key.split("/")[1], "budget": budget, "seed": seed, "seconds": round(time.perf_counter() - start, 1),
        "cpu_s": round(result.cpu_s, 1), "scored": result.scored, "trials": len(records),
        "rungs": list(run.meta.rungs), "scored_per_rung": _per_rung(records),
        "proposals_over_budget": result.over_budget, "proposals_already_seen": result.duplicates,
        "wasted_trials": len(wasted), "stopped_by": result.stopped_by,
        "front": [{"trial": r.trial, "arch": r.arch, "score": r.score, "rung": r.rung, "latency_ms": r.latency_ms}
                  for r in front],
        "best": None if best is None else {"arch": best.arch, "score": best.score, "latency_ms": best.latency_ms},
        "configs": configs,
    }


def _per_rung(records: list[Any]) -> list[int]:
    """How many scored candidates reached each rung."""
    counts: list[int] = []
    for r in records:
        if r.scored:
            for k in range(len(r.rungs)):
                counts.extend([0] * (k + 1 - len(counts)))
                counts[k] += 1
    return counts


def long_accuracy(config: dict[str, Any], data: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Top-1 on the held-out test images after ``--long-steps`` steps (one run, seed 0)."""
    test_view = data.__class__(data.name, data.classes, data.train_x, data.train_y, data.test_x, data.test_y,
                               data.mean, data.std, data.hflip)
    proxy = TrainProxy(steps=args.long_steps, min_steps=args.long_steps)
    result = proxy.evaluate(ArchConfig.from_dict(config), test_view, seed=0)
    return {"accuracy": result.score if result.ok else None, "reason": result.reason,
            "cpu_s": round(result.cpu_seconds or 0.0, 1)}


def summarize(doc: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """Per budget and method: hypervolume and best network (longer training), mean over seeds."""
    summary: dict[str, Any] = {}
    for budget in args.budgets:
        budget_ms = parse_budget(budget)
        rows: dict[str, Any] = {}
        for method in methods(args.samplers):
            runs = [doc["runs"][k] for k in doc["runs"] if k.startswith(f"{budget}/{method}/")]
            runs = [r for r in runs if r["seed"] in args.seeds]
            if not runs or any(p["arch"] not in doc["long"] for r in runs for p in r["front"]):
                continue
            hvs, bests = [], []
            for r in runs:
                points = [(doc["long"][p["arch"]]["accuracy"], p["latency_ms"]) for p in r["front"]
                          if doc["long"].get(p["arch"], {}).get("accuracy") is not None]
                hvs.append(hypervolume(points, ref_score=CHANCE, ref_latency_ms=budget_ms) /
                           ((1 - CHANCE) * budget_ms))
                best = (r["best"] or {}).get("arch")
                bests.append((doc["long"].get(best) or {}).get("accuracy") or CHANCE)
            rows[method] = {
                "runs": len(runs), "hv_mean": statistics.mean(hvs), "hv_std": statistics.pstdev(hvs), "hv": hvs,
                "best_long_mean": statistics.mean(bests), "best_long": bests,
                "scored_mean": statistics.mean(r["scored"] for r in runs),
                "cpu_s_mean": statistics.mean(r["cpu_s"] for r in runs),
                "wasted_share": sum(r["wasted_trials"] for r in runs) / max(1, sum(r["trials"] for r in runs)),
                "rejected_mean": statistics.mean(r["proposals_over_budget"] + r["proposals_already_seen"]
                                                 for r in runs),
            }
        summary[budget] = rows
    return summary


def paired_cost(work: Path, budgets: list[str], seeds: list[int]) -> list[dict[str, Any]]:
    """What multi-fidelity costs on the same networks: the random sampler proposes the same networks in the
    same order whatever the scores, so ``mf-random`` and ``random`` of one seed score a common first run of
    networks, one rung by rung, the other at the full budget. Read from their run folders in ``work``."""
    rows = []
    for budget in budgets:
        for seed in seeds:
            mf_dir, full_dir = (work / f"{budget}-{m}-{seed}" for m in ("mf-random", "random"))
            if not ((mf_dir / "run.json").is_file() and (full_dir / "run.json").is_file()):
                continue
            mf = [r for r in load_run(mf_dir).records if r.scored]
            full = [r for r in load_run(full_dir).records if r.scored]
            pairs = []
            for a, b in zip(sorted(mf, key=lambda r: r.trial), sorted(full, key=lambda r: r.trial)):
                if a.arch != b.arch:
                    break
                pairs.append((a, b))
            if not pairs:
                continue
            promoted = [(a, b) for a, b in pairs if len(a.rungs) > 1]
            stopped = [(a, b) for a, b in pairs if len(a.rungs) == 1]

            def cpu(records: list[Any]) -> float:
                return sum(g.cpu_s for r in records for g in r.rungs)

            full_cpu = cpu([b for _, b in pairs])

            rows.append({
                "budget": budget, "seed": seed, "networks": len(pairs), "promoted": len(promoted),
                "mf_cpu_s": round(cpu([a for a, _ in pairs]), 1), "full_cpu_s": round(full_cpu, 1),
                "promoted_ratio": round(cpu([a for a, _ in promoted]) / max(1e-9, cpu([b for _, b in promoted])), 2),
                "stopped_ratio": round(cpu([a for a, _ in stopped]) / max(1e-9, cpu([b for _, b in stopped])), 2),
                "promoted_share_of_full_cpu": round(cpu([b for _, b in promoted]) / max(1e-9, full_cpu), 2),
            })
    return rows


def verdict(summary: dict[str, Any]) -> list[str]:
    """Whether the default search meets the targets against random search, per budget, and what falls short."""
    default, lines = f"mf-{DEFAULT_SAMPLER}", []
    for budget, rows in summary.items():
        if default not in rows or "random" not in rows:
            lines.append(f"{budget}: incomplete")
            continue
        d, r = rows[default], rows["random"]
        ratio = d["hv_mean"] / r["hv_mean"] if r["hv_mean"] else float("inf")
        hv_ok, best_ok = ratio >= TARGET_HV_RATIO, d["best_long_mean"] >= r["best_long_mean"]
        short = [] if hv_ok else [f"hypervolume {ratio:.3f}x random's (target {TARGET_HV_RATIO:.2f}x)"]
        short += [] if best_ok else [f"best network {d['best_long_mean']:.4f} vs random's {r['best_long_mean']:.4f}"]
        lines.append(f"{budget}: {default} hypervolume {ratio:.3f}x random's, best network "
                     f"{d['best_long_mean']:.4f} vs {r['best_long_mean']:.4f}: "
                     + ("target met" if not short else "short on " + "; ".join(short)))
    return lines


def write_markdown(doc: dict[str, Any], summary: dict[str, Any], path: Path) -> None:
    meta = doc["meta"]
    lines = [
        "# Search quality at equal compute", "",
        f"`{meta['command']}` (started {meta['date']}; one core of a shared 2-core machine)", "",
        f"Device `{meta['device']}`, space `{meta['space']}`, objective: the `train` proxy on the CIFAR-10 dev "
        f"subset, {meta['steps']} steps in full; {meta['cpu_budget']:g} CPU-s of scoring per run; seeds "
        f"{meta['seeds']}; fronts re-scored by {meta['long_steps']}-step training on the 1,000 test images. "
        "Hypervolume normalised by 0.9 x budget (reference: accuracy 0.1, the budget). `mf-` = multi-fidelity "
        f"(the default search is `mf-{DEFAULT_SAMPLER}`); `random` = random search.", "",
    ]
    for budget, rows in summary.items():
        lines += [f"## Budget {budget}", "",
                  "| method | seeds | hypervolume (mean +- std) | best network, longer training | scored candidates | "
                  "CPU-s | re-proposed or infeasible trials | proposals rejected by lookup |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for method, s in sorted(rows.items(), key=lambda kv: -kv[1]["hv_mean"]):
            lines.append(f"| {method} | {s['runs']} | {s['hv_mean']:.4f} +- {s['hv_std']:.4f} | "
                         f"{s['best_long_mean']:.4f} | "
                         f"{s['scored_mean']:.1f} | {s['cpu_s_mean']:.0f} | {100 * s['wasted_share']:.1f}% | "
                         f"{s['rejected_mean']:.0f} |")
        lines.append("")
    lines += ["## Verdict", "", *[f"- {line}" for line in verdict(summary)], ""]
    if doc.get("paired_cost"):
        lines += ["## What multi-fidelity costs on the same networks", "",
                  "`mf-random` and `random` of one seed propose the same networks in the same order; CPU-s of "
                  "scoring the networks both scored (multi-fidelity: rung by rung; random search: the full "
                  "budget at once):", "",
                  "| budget | seed | networks | promoted past the first rung | CPU-s, multi-fidelity | "
                  "CPU-s, full budget | promoted: MF / full | stopped: MF / full | promoted networks' share of "
                  "the full-budget CPU-s |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        lines += [f"| {r['budget']} | {r['seed']} | {r['networks']} | {r['promoted']} | {r['mf_cpu_s']} | "
                  f"{r['full_cpu_s']} | {r['promoted_ratio']} | {r['stopped_ratio']} | "
                  f"{r['promoted_share_of_full_cpu']} |" for r in doc["paired_cost"]]
        lines.append("")
    path.write_text("\n".join(lines))



def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cifar", default=str(SHARED / "data" / "cifar10-dev"))
    ap.add_argument("--device", default="iphone12")
    ap.add_argument("--space", default="hybrid-vit")
    ap.add_argument("--budgets", nargs="+", default=["3ms", "5ms"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--samplers", nargs="+", default=["tpe", "nsga2", "random"])
    ap.add_argument("--methods", nargs="+", help="run only these methods (default: all, mf-<sampler> and <sampler>)")
    ap.add_argument("--cpu-budget", type=float, default=300.0, help="CPU seconds of scoring per run")
    ap.add_argument("--steps", type=int, default=90, help="the proxy's full budget (last rung)")
    ap.add_argument("--long-steps", type=int, default=400, help="steps of the longer training of front points")
    ap.add_argument("--work", default="/tmp/nas-search-quality", help="run folders (scratch)")
    ap.add_argument("--name", default="search_quality", help="results file stem in benchmarks/results/")
    args = ap.parse_args()
    unknown = set(args.methods or []) - set(methods(args.samplers))
    if unknown:
        ap.error(f"unknown --methods {sorted(unknown)}; accepted: {', '.join(methods(args.samplers))}")
    json_path = RESULTS / f"{args.name}.json"
    doc = json.loads(json_path.read_text()) if json_path.is_file() else {"runs": {}, "long": {}}
    settings = {"device": args.device, "space": args.space, "steps": args.steps, "long_steps": args.long_steps,
                "cpu_budget": args.cpu_budget}
    kept = {k: doc.get("meta", {}).get(k) for k in settings}
    if doc["runs"] and kept != settings:
        sys.exit(f"{json_path} holds runs with other settings {kept}; pass another --name")
    doc["meta"] = {"command": command_line(), **settings, "seeds": args.seeds,
                   "budgets": args.budgets, "date": doc.get("meta", {}).get("date") or time.strftime("%Y-%m-%d %H:%M")}
    data = load_dataset(f"cifar10:{args.cifar}", seed=0)
    for seed in args.seeds:
        for budget in args.budgets:
            for name, method in methods(args.samplers).items():
                if args.methods and name not in args.methods:
                    continue
                key = f"{budget}/{name}/{seed}"
                if key not in doc["runs"]:
                    doc["runs"][key] = run_one(key, method, budget, seed, args)
                    write_json(json_path, doc)
                    r = doc["runs"][key]
                    print(f"{key}: {r['scored']} scored, {r['cpu_s']} CPU-s, front {len(r['front'])}, "
                          f"{r['seconds']} s", file=sys.stderr, flush=True)
                for point in doc["runs"][key]["front"]:
                    if point["arch"] not in doc["long"]:
                        config = doc["runs"][key]["configs"][point["arch"]]
                        doc["long"][point["arch"]] = long_accuracy(config, data, args)
                        write_json(json_path, doc)
    summary = summarize(doc, args)
    doc["summary"] = summary
    doc["paired_cost"] = paired_cost(Path(args.work), args.budgets, args.seeds)
    doc["verdict"] = verdict(summary)
    write_json(json_path, doc)
    write_markdown(doc, summary, RESULTS / f"{args.name}.md")
    print("\n".join(doc["verdict"]))


if __name__ == "__main__":
    main()
