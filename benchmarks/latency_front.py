"""Benchmark: does a predicted latency hold where the search goes? (issue 19)

The iPhone 12 table is a cost model fitted to 16 published timings, and the search picks at the budget edge,
where such a table is least checked. This machine can time everything, so the method is checked here:

1. **estimated host table**: the 16 presets are timed end to end here (ONNX Runtime, 1 thread, the deploy
   resolution of the space), and ``nas tables fit --timings --as host-est`` fits the iPhone table's cost model
   to those 16 rows alone, as the iPhone table is fitted to its 16 published rows;
2. it is validated on 30 seeded random networks of the space (error, share within +-10%, coverage of the 90%
   intervals);
3. the default search runs on it (``nas search --device host-est --budget B``, B the median preset time) and its
   whole front is timed end to end: error on the front beside the error on random networks, and the share of
   the front that measures over the budget. The front's points are then read at each confidence level P: the
   points a ``--confidence P`` search would admit (the upper end of the P interval within the budget) and the
   share of them that measure within it; the default confidence is the lowest P whose share is >= 90%, and a
   search with it is run and its front timed to check;
4. the same for the measured table ``x86-2core-ort``: it was profiled on another machine, so it is checked as
   shipped on the random networks, then calibrated here to the same 16 preset timings (``nas latency calibrate
   --timings``: one scale per block kind and the overhead) and checked on the random networks and on its own
   search's whole front (share within +-10%).

Run it pinned to one core, as the tables were profiled (each search runs one worker on that core):

    taskset -c 1 python benchmarks/latency_front.py

Writes benchmarks/results/latency_front.{json,md}; each step's timings are kept in results/latency_front/.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pinning import command_line

RESULTS = Path(__file__).resolve().parent / "results"
LEVELS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
TARGET_WITHIN_BUDGET = 0.90  # share of the front measured within the budget, at the chosen confidence
TARGET_MEASURED_WITHIN_10 = 0.90  # share of the measured table's front within +-10%


def measure(cfg: Any) -> float:
    """End-to-end median ms of ``cfg`` here (ONNX Runtime, 1 thread: how x86-2core-ort was profiled)."""
    from nas.latency.measure import measure_latency

    return float(measure_latency(cfg, runtime="onnxruntime", threads=1)["latency_ms"])


def nas(*args: str) -> dict[str, Any]:
    """Run the real CLI with --json; its parsed output."""
    proc = subprocess.run([sys.executable, "-c", "from nas.cli import main; main()", *args, "--json"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"nas {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()[-600:]}")
    return json.loads(proc.stdout)


def errors(pairs: list[tuple[float, float]]) -> dict[str, Any]:
    """(predicted, measured) pairs -> MAPE, share within +-10%, worst error."""
    ape = [abs(p - m) / m for p, m in pairs]
    return {"n": len(pairs), "mape_pct": round(100 * statistics.mean(ape), 2) if ape else None,
            "within_10pct": round(sum(e <= 0.10 for e in ape) / len(ape), 3) if ape else None,
            "max_err_pct": round(100 * max(ape), 1) if ape else None}


def time_presets(space: Any, path: Path) -> Path:
    """Time the space's presets here at its resolution into a timings CSV (arch = preset config JSON)."""
    rows = []
    folder = path.parent / "presets"
    folder.mkdir(parents=True, exist_ok=True)
    for name in space.presets_in_space():
        cfg = space.config_from_params(space.preset_params(name)).replace(name=name)
        arch = folder / f"{name}.json"
        arch.write_text(cfg.to_json(indent=2))
        ms = measure(cfg)
        rows.append((f"presets/{name}.json", ms))
        print(f"  {name}: {ms:.3f} ms", flush=True)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["arch", "latency_ms", "runtime", "threads"])
        writer.writerows([(a, f"{ms:.4f}", "onnxruntime", 1) for a, ms in rows])
    return path


def validate(space: Any, table: Any, *, samples: int, seed: int) -> dict[str, Any]:
    """Predicted vs measured on ``samples`` seeded random networks, with the 90% intervals' coverage."""
    from nas.latency.interval import estimate_latency
    from nas.space_members import sample_members

    pairs, inside = [], 0
    for _, cfg in sample_members(space, samples=samples, seed=seed):
        est = estimate_latency(cfg, table, level=0.9)
        ms = measure(cfg)
        pairs.append((est.ms, ms))
        inside += est.low_ms <= ms <= est.high_ms
    return {**errors(pairs), "coverage_90": round(inside / len(pairs), 3)}


def search_front(device: str, budget_ms: float, out: Path, *, tables: str | None, trials: int,
                 extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """Run the search on ``device`` and time its whole front end to end."""
    from nas.latency.interval import estimate_latency
    from nas.latency.table import load_table
    from nas.run import load_run

    args = ["search", "--device", device, "--budget", f"{budget_ms:.4f}ms", "--out", str(out), "--no-report",
            "--workers", "1", "--trials", str(trials), *extra]
    if tables:
        args += ["--tables", tables]
    t0 = time.time()
    result = nas(*args)
    seconds = time.time() - t0
    run, table = load_run(out), load_table(device, tables)
    points = []
    for record in run.front():
        cfg = run.config(record.trial)
        ms = measure(cfg)
        point = {"trial": record.trial, "predicted_ms": record.latency_ms, "measured_ms": ms,
                 "outside": list(record.latency_outside)}
        for level in LEVELS:
            point[f"high_{level}"] = estimate_latency(cfg, table, level=level).high_ms
        points.append(point)
    over = [p for p in points if p["measured_ms"] > budget_ms]
    return {"device": device, "budget_ms": budget_ms, "args": args, "search_s": round(seconds, 1),
            "scored": result["scored"], "front": points, "front_size": len(points),
            "errors": errors([(p["predicted_ms"], p["measured_ms"]) for p in points]),
            "measured_over_budget": len(over), "share_within_budget": round(1 - len(over) / len(points), 3)}


def by_confidence(front: dict[str, Any]) -> list[dict[str, Any]]:
    """The front's points a --confidence P search would admit, and the share of them measured within budget;
    the first row (confidence None) is the prediction alone, what a search without --confidence admits."""
    rows = []
    for level in (None, *LEVELS):
        key = "predicted_ms" if level is None else f"high_{level}"
        admitted = [p for p in front["front"] if p[key] <= front["budget_ms"]]
        within = [p for p in admitted if p["measured_ms"] <= front["budget_ms"]]
        rows.append({"confidence": level, "admitted": len(admitted), "within_budget": len(within),
                     "share": round(len(within) / len(admitted), 3) if admitted else None})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="hybrid-vit")
    parser.add_argument("--samples", type=int, default=30, help="random networks to validate each table on")
    parser.add_argument("--trials", type=int, default=300, help="scored candidates of each search (the default)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--measured", default="x86-2core-ort", help="the measured table checked the same way")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite the .md (and the confidence table) from the last run's .json")
    args = parser.parse_args()
    if args.report_only:
        result = json.loads((RESULTS / "latency_front.json").read_text())
        result["estimated"]["by_confidence"] = levels = by_confidence(result["estimated"]["front"])
        result["estimated"]["chosen_confidence"] = next(
            (r["confidence"] for r in levels if r["share"] is not None and r["share"] >= TARGET_WITHIN_BUDGET),
            "none reaches it")
        (RESULTS / "latency_front.json").write_text(json.dumps(result, indent=1, default=str))
        (RESULTS / "latency_front.md").write_text(markdown(result))
        print(markdown(result))
        return

    from nas.latency.table import load_table
    from nas.space import load_space

    work = RESULTS / "latency_front"
    work.mkdir(parents=True, exist_ok=True)
    tables = work / "tables"
    for old_run in [tables, *work.glob("run-*")]:  # every run starts from nothing of the last one
        shutil.rmtree(old_run, ignore_errors=True)
    space = load_space(args.space)
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    print("1. timing the presets here", flush=True)
    timings = time_presets(space, work / "preset_timings.csv")
    fit = nas("tables", "fit", "--timings", str(timings), "--as", "host-est", "--tables", str(tables),
              "--space", args.space)
    estimated = load_table("host-est", str(tables))
    preset_ms = sorted(float(r["latency_ms"]) for r in csv.DictReader(timings.open()))
    budget = round(statistics.median(preset_ms), 2)
    print(f"2. validating host-est on {args.samples} random networks (budget for the searches: {budget} ms)",
          flush=True)
    random_est = validate(space, estimated, samples=args.samples, seed=args.seed)
    print(f"   {random_est}", flush=True)
    print("3. default search on host-est, its front timed", flush=True)
    front_est = search_front("host-est", budget, work / "run-host-est", tables=str(tables), trials=args.trials)
    levels = by_confidence(front_est)
    chosen = next((r["confidence"] for r in levels if r["share"] is not None and r["share"] >= TARGET_WITHIN_BUDGET),
                  "none reaches it")
    confirm = None
    if isinstance(chosen, float):
        print(f"   confidence {chosen}: a search with it, its front timed", flush=True)
        confirm = search_front("host-est", budget, work / f"run-host-est-c{chosen}", tables=str(tables),
                               trials=args.trials, extra=("--confidence", str(chosen)))
    print(f"4. {args.measured} as shipped, then calibrated here to the same preset timings", flush=True)
    shipped = validate(space, load_table(args.measured), samples=args.samples, seed=args.seed)
    print(f"   as shipped: {shipped}", flush=True)
    calibration = nas("latency", "calibrate", "--device", args.measured, "--as", "measured-here", "--timings",
                      str(timings), "--tables", str(tables))
    calibrated = load_table("measured-here", str(tables))
    random_measured = validate(space, calibrated, samples=args.samples, seed=args.seed)
    print(f"   calibrated: {random_measured}", flush=True)
    front_measured = search_front("measured-here", budget, work / "run-measured-here", tables=str(tables),
                                  trials=args.trials)
    result = {
        "command": command_line(), "started": started,
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "load_avg": os.getloadavg(), "space": args.space, "budget_ms": budget, "trials": args.trials,
        "estimated": {"fit": {k: fit.get(k) for k in ("loo_mape_pct", "rows", "path") if k in fit},
                      "random": random_est, "front": front_est, "by_confidence": levels, "chosen_confidence": chosen,
                      "confirm": confirm},
        "measured": {"device": args.measured, "shipped_random": shipped, "calibration": {
            k: calibration.get(k) for k in ("mape_loo", "loo_mape_pct", "scales", "overhead_ms") if k in calibration},
            "random": random_measured, "front": front_measured},
        "targets": {"within_budget_at_chosen": TARGET_WITHIN_BUDGET,
                    "measured_front_within_10pct": TARGET_MEASURED_WITHIN_10},
    }
    (RESULTS / "latency_front.json").write_text(json.dumps(result, indent=1, default=str))
    (RESULTS / "latency_front.md").write_text(markdown(result))
    print(markdown(result))


def markdown(r: dict[str, Any]) -> str:
    est, mea = r["estimated"], r["measured"]

    def row(name: str, e: dict[str, Any], extra: str = "") -> str:
        return (f"| {name} | {e['n']} | {e['mape_pct']} | {_pct(e['within_10pct'])} | {e['max_err_pct']} |"
                f" {extra} |")

    lines = [
        "# Latency where the search goes (`benchmarks/latency_front.py`)", "",
        f"`{r['command']}`, {r['started']} to {r['finished']}, load {r['load_avg'][0]:.1f}; space {r['space']}, "
        f"budget {r['budget_ms']} ms (the median of the presets' times here), {r['trials']} scored candidates per "
        "search, ONNX Runtime 1 thread.", "",
        "| networks | n | MAPE % | within +-10% | max error % | |", "|---|---:|---:|---:|---:|---|",
        row("host-est (fitted to the 16 presets): 30 random networks", est["random"],
            f"90% intervals cover {_pct(est['random']['coverage_90'])}"),
        row("host-est: its search's front", est["front"]["errors"],
            f"{est['front']['measured_over_budget']} of {est['front']['front_size']} measured over the budget"),
    ]
    if est.get("confirm"):
        c = est["confirm"]
        level = c["args"][c["args"].index("--confidence") + 1]
        lines.append(row(f"host-est, --confidence {level}: its search's front", c["errors"],
                         f"{c['measured_over_budget']} of {c['front_size']} measured over the budget"))
    lines += [
        row(f"{mea['device']} (measured on another machine), as shipped: 30 random networks", mea["shipped_random"],
            f"90% intervals cover {_pct(mea['shipped_random']['coverage_90'])}"),
        row(f"{mea['device']} calibrated to the 16 preset timings: 30 random networks", mea["random"],
            f"90% intervals cover {_pct(mea['random']['coverage_90'])}"),
        row(f"{mea['device']} calibrated: its search's front", mea["front"]["errors"],
            f"{mea['front']['measured_over_budget']} of {mea['front']['front_size']} measured over the budget"),
        "", "The default search's front on host-est, read at each confidence (points a `--confidence P` search would "
        "admit, and how many of them measure within the budget):", "",
        "| confidence | admitted | within budget | share |", "|---:|---:|---:|---:|",
        *[f"| {x['confidence'] or 'the prediction (no --confidence)'} | {x['admitted']} | {x['within_budget']} | "
          f"{_pct(x['share'])} |" for x in est["by_confidence"]],
        "", f"Default for estimated tables, the lowest level whose share is >= {TARGET_WITHIN_BUDGET:.0%}: "
        + ("the prediction (no --confidence)" if est["chosen_confidence"] is None else
           str(est["chosen_confidence"])) + ".", "",
    ]
    return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.0%}"


if __name__ == "__main__":
    main()
