"""Benchmark: does a table calibrated on this machine hold here? (`nas latency calibrate`, issue 11)

Runs the commands a user would, as subprocesses, pinned like the shipped table was profiled:

1. ``nas latency calibrate --device BASE --as here`` (timing ~10 networks here), its wall and CPU time;
2. ``nas latency measure P1..P8 --resolution R --csv timings.csv`` on 8 presets, then
   ``nas latency calibrate --device BASE --as here-csv --timings timings.csv``;
3. ``nas latency validate --device here --samples N`` (seeded networks of the space, never the calibration
   networks), and the predictions of ``here-csv`` and of BASE on the very same measured networks;
4. the published iPhone 12 rows of the reference protocol written as a user's timings CSV, and
   ``nas latency calibrate --device iphone12 --as iphone12-published --timings ...`` (its leave-one-out error).

    taskset -c 0 python benchmarks/latency_calibrate.py --samples 30

Writes benchmarks/results/latency_calibrate.{json,md} and appends every run to latency_calibrate_runs.json
(the machine is shared: runs are kept, with the load average before and after, not overwritten).
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nas.latency.iphone import ARCHS, REFERENCE_PROTOCOL, load_rows
from nas.latency.predict import predict_latency
from nas.latency.provenance import table_space
from nas.latency.table import load_table, read_table
from nas.latency.validate import rank_metrics
from nas.models.presets import PRESETS

RESULTS = Path(__file__).resolve().parent / "results"
CSV_PRESETS = ("deit-tiny", "mobilevit-xxs", "mobilevit-xs", "mobilevitv2-0.5", "mobilevitv2-1.0",
               "efficientformer-l1", "litv2-s", "deit-small")
TARGET_WITHIN_10PCT = 0.90


def nas(*args: str, tables: Path | None = None) -> tuple[str, float, float]:
    """Run `nas ARGS [--tables DIR]`; returns (stdout, wall s, CPU s of the child). Fails loudly."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    where = ["--tables", str(tables)] if tables else []
    proc = subprocess.run([sys.executable, "-c", "from nas.cli import main; main()", *args, *where],
                          capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
        raise SystemExit(f"nas {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return proc.stdout, wall, cpu


def published_timings(folder: Path) -> Path:
    """The reference protocol's fit rows of the published iPhone 12 latencies, as a user's timings CSV."""
    rows = [r for r in load_rows() if r.role == "fit" and r.protocol == REFERENCE_PROTOCOL]
    path = folder / "iphone12_published_timings.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["arch", "latency_ms", "model"])
        for r in rows:
            arch = r.arch
            if arch not in PRESETS or ARCHS[arch]().resolution != PRESETS[arch].config.resolution:
                arch = f"{r.arch.replace('@', '-at-')}.json"  # not a preset as published: its config file
                (folder / arch).write_text(ARCHS[r.arch]().to_json())
            writer.writerow([arch, r.latency_ms, r.model])
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default="x86-2core-ort")
    ap.add_argument("--samples", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--networks", type=int, default=None, help="Networks calibrate times (default: its own).")
    ap.add_argument("--out", default="latency_calibrate")
    ap.add_argument("--quiet-load", type=float, default=None,
                    help="First wait (up to --max-wait) until the 1-minute load average is at most this.")
    ap.add_argument("--max-wait", type=float, default=30, help="Minutes --quiet-load waits at most.")
    args = ap.parse_args()

    if args.quiet_load is not None:
        deadline = time.time() + 60 * args.max_wait
        while os.getloadavg()[0] > args.quiet_load and time.time() < deadline:
            time.sleep(15)
    load_before = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="nas-calibrate-"))
    tables = tmp / "tables"
    tables.mkdir()
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731

    log(f"1/4 nas latency calibrate --device {args.base} --as here (timing networks here)")
    extra = ["--networks", str(args.networks)] if args.networks else []
    out, cal_wall, cal_cpu = nas("latency", "calibrate", "--device", args.base, "--as", "here", *extra, "--json",
                                 tables=tables)
    here_fit = json.loads(out)

    base = load_table(args.base, tables)
    log(f"2/4 nas latency measure {' '.join(CSV_PRESETS)} --resolution {base.resolution} --csv ...")
    timings_csv = tmp / "timings.csv"
    _, measure_wall, measure_cpu = nas("latency", "measure", *CSV_PRESETS, "--resolution", str(base.resolution),
                                       "--csv", str(timings_csv), "--json")
    out, _, _ = nas("latency", "calibrate", "--device", args.base, "--as", "here-csv", "--timings",
                    str(timings_csv), "--json", tables=tables)
    csv_fit = json.loads(out)

    log(f"3/4 nas latency validate --device here --samples {args.samples} --seed {args.seed}")
    out, val_wall, val_cpu = nas("latency", "validate", "--device", "here", "--samples", str(args.samples),
                                 "--seed", str(args.seed), "--json", tables=tables)
    validation = json.loads(out)
    here, here_csv = read_table(tables / "here.json"), read_table(tables / "here-csv.json")
    space = table_space(here)
    measured = [r["measured_ms"] for r in validation["rows"]]
    compared = {}
    for name, table in (("here", here), ("here-csv", here_csv), (args.base, base)):
        predicted = [predict_latency(space.config_from_params(r["params"]), table).total_ms
                     for r in validation["rows"]]
        compared[name] = {k: round(v, 4) for k, v in rank_metrics(predicted, measured).items()}
        compared[name]["hash"] = table.hash

    log("4/4 nas latency calibrate --device iphone12 --as iphone12-published --timings <published rows>")
    out, _, _ = nas("latency", "calibrate", "--device", "iphone12", "--as", "iphone12-published", "--timings",
                    str(published_timings(tmp)), "--json", tables=tables)
    iphone_fit = json.loads(out)

    result = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "host": os.uname().nodename, "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "commands": {
            "calibrate": " ".join(["nas latency calibrate --device", args.base, "--as here", *extra]),
            "measure": f"nas latency measure {' '.join(CSV_PRESETS)} --resolution {base.resolution} --csv timings.csv",
            "calibrate_csv": f"nas latency calibrate --device {args.base} --as here-csv --timings timings.csv",
            "validate": f"nas latency validate --device here --samples {args.samples} --seed {args.seed}",
            "iphone": "nas latency calibrate --device iphone12 --as iphone12-published --timings "
                      "iphone12_published_timings.csv",
        },
        "calibrate_seconds": {"wall": round(cal_wall, 1), "cpu": round(cal_cpu, 1)},
        "measure_csv_seconds": {"wall": round(measure_wall, 1), "cpu": round(measure_cpu, 1)},
        "validate_seconds": {"wall": round(val_wall, 1), "cpu": round(val_cpu, 1)},
        "here": _fit_summary(here_fit), "here_csv": _fit_summary(csv_fit), "iphone12": _fit_summary(iphone_fit),
        "validation": {k: v for k, v in validation.items() if k != "rows"}, "compared": compared,
        "rows": [{"name": r["name"], "family": r["family"], "measured_ms": r["measured_ms"],
                  "here_ms": r["predicted_ms"], "error_pct": r["error_pct"]} for r in validation["rows"]],
        "target": {"within_10pct": TARGET_WITHIN_10PCT,
                   "met": {name: c["within_10pct"] >= TARGET_WITHIN_10PCT for name, c in compared.items()}},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    runs_path = RESULTS / f"{args.out}_runs.json"
    runs = json.loads(runs_path.read_text()) if runs_path.exists() else []
    runs.append({k: result[k] for k in ("date", "load_before", "load_after", "calibrate_seconds", "compared")}
                | {"loo_here": result["here"]["mape_loo"], "loo_here_csv": result["here_csv"]["mape_loo"],
                   "loo_iphone12": result["iphone12"]["mape_loo"], "measured_ms": measured})
    runs_path.write_text(json.dumps(runs, indent=1) + "\n")
    result["runs"] = [{k: v for k, v in r.items() if k != "measured_ms"} for r in runs]
    result["run_to_run"] = run_to_run(runs)
    (RESULTS / f"{args.out}.json").write_text(json.dumps(result, indent=1) + "\n")
    (RESULTS / f"{args.out}.md").write_text(render_md(result))
    print(render_md(result))


def run_to_run(runs: list[dict]) -> dict | None:
    """How much the same validation networks' timings moved between runs, vs the first (%)."""
    same = [r for r in runs if len(r["measured_ms"]) == len(runs[-1]["measured_ms"])]
    if len(same) < 2:
        return None
    first = same[0]["measured_ms"]
    diffs = [100 * (b - a) / a for run in same[1:] for a, b in zip(first, run["measured_ms"])]
    return {"runs": len(same), "mean_pct": round(statistics.mean(diffs), 2),
            "sd_pct": round(statistics.pstdev(diffs), 2), "min_pct": round(min(diffs), 2),
            "max_pct": round(max(diffs), 2)}


def _fit_summary(fit: dict) -> dict:
    keep = ("device", "base", "base_hash", "hash", "scales", "c0_ms", "overall_scale", "fitted_kinds", "mape_base",
            "mape_fit", "mape_loo", "max_ape_loo")
    out = {k: fit[k] for k in keep if k in fit}
    out["networks"] = [{k: n[k] for k in ("name", "measured_ms", "base_ms", "loo_ms", "loo_error_pct")}
                       for n in fit["networks"]]
    return out


def render_md(r: dict) -> str:
    c, v = r["compared"], r["validation"]
    lines = [
        "# Calibrating a latency table on this machine", "",
        f"Run {r['date']} on `{r['host']}` (shared 2-core machine; load average {r['load_before'][0]} before, "
        f"{r['load_after'][0]} after), pinned with `taskset -c 0`.", "",
        f"1. `{r['commands']['calibrate']}`: {len(r['here']['networks'])} networks timed here, "
        f"{r['calibrate_seconds']['wall']} s wall ({r['calibrate_seconds']['cpu']} s CPU); leave-one-out error "
        f"{r['here']['mape_loo']}% (max {r['here']['max_ape_loo']}%), the base table as it was: "
        f"{r['here']['mape_base']}%.",
        f"2. `{r['commands']['measure']}` ({r['measure_csv_seconds']['wall']} s wall), then "
        f"`{r['commands']['calibrate_csv']}`: leave-one-out error {r['here_csv']['mape_loo']}% "
        f"(max {r['here_csv']['max_ape_loo']}%).",
        f"3. `{r['commands']['validate']}` ({v['samples']} networks, {r['validate_seconds']['wall']} s wall), "
        "and the other tables' predictions of the same measured networks:", "",
        "| table | within +-10% | MAPE | Spearman | Kendall | target >= 90% |", "|---|---|---|---|---|---|",
    ]
    for name, m in c.items():
        lines.append(f"| {name} | {m['within_10pct']:.0%} | {m['mape']:.2f}% | {m['spearman']:.3f} | "
                     f"{m['kendall']:.3f} | {'met' if r['target']['met'][name] else 'not met'} |")
    ip = r["iphone12"]
    lines += [
        "", f"4. `{r['commands']['iphone']}` (the {len(ip['networks'])} networks of the published iPhone 12 rows "
        f"of the reference protocol): leave-one-out error {ip['mape_loo']}% (max {ip['max_ape_loo']}%; the "
        f"estimated table as it was: {ip['mape_base']}%).", "",
        "| published network | published ms | iphone12 ms | left out ms | left-out error |", "|---|---|---|---|---|",
    ]
    for n in ip["networks"]:
        lines.append(f"| {n['name']} | {n['measured_ms']} | {n['base_ms']:.2f} | {n['loo_ms']:.2f} | "
                     f"{n['loo_error_pct']:+.1f}% |")
    lines += ["", "Every run (`latency_calibrate_runs.json`):", "",
              "| date (UTC) | load before/after | calibrate wall s | here | here-csv | base | LOO here/csv/iphone |",
              "|---|---|---|---|---|---|---|"]
    for run in r["runs"]:
        cmp = run["compared"]
        names = list(cmp)
        lines.append(f"| {run['date']} | {run['load_before'][0]} / {run['load_after'][0]} | "
                     f"{run['calibrate_seconds']['wall']} | "
                     + " | ".join(f"{cmp[n]['within_10pct']:.0%} ({cmp[n]['mape']:.1f}%)" for n in names) + " | "
                     f"{run['loo_here']}% / {run['loo_here_csv']}% / {run['loo_iphone12']}% |")
    rr = r.get("run_to_run")
    if rr:
        lines += ["", f"The same validation networks measured again in {rr['runs'] - 1} later run(s), vs the first "
                  f"run: mean {rr['mean_pct']:+.1f}%, sd {rr['sd_pct']:.1f}%, from {rr['min_pct']:+.1f}% to "
                  f"{rr['max_pct']:+.1f}% (the noise of this shared machine)."]
    lines += ["", "Validation networks (`here`):", "", "| network | family | measured ms | here ms | error |",
              "|---|---|---|---|---|"]
    for row in r["rows"]:
        lines.append(f"| {row['name']} | {row['family']} | {row['measured_ms']:.2f} | {row['here_ms']:.2f} | "
                     f"{row['error_pct']:+.1f}% |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
