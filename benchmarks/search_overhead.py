"""Does a search slow down per trial as its trials accumulate? CPU time per trial over a 200-trial search.

A real search on SQLite (one worker, in this process) with the ``params`` proxy, whose scoring is a
parameter count, so what is measured is the rest: proposals and their lookups, the shared study, the
run folder. The CPU time of this process is read as each trial is reported finished; the table gives
the mean per trial in windows of 50 trials. With the random sampler the sampler costs nothing, so a flat
row means the search's own bookkeeping does not grow; TPE and NSGA-II also fit their models on all
trials, which grows by design.

    taskset -c 1 python benchmarks/search_overhead.py --trials 200
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pinning import command_line  # noqa: E402

from nas.files import write_json  # noqa: E402
from nas.search import SearchEvent, SearchSettings, parse_budget, run_search  # noqa: E402

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
WINDOW = 50


def measure(sampler: str, args: argparse.Namespace, root: Path) -> dict:
    """CPU seconds of this process between consecutive finished trials of one search."""
    marks: list[float] = []

    def on_event(event: SearchEvent) -> None:
        if event.message and event.message.startswith("trial "):
            marks.append(time.process_time())

    marks.append(time.process_time())
    run_search(SearchSettings(device=args.device, budget_ms=parse_budget(args.budget), trials=args.trials,
                              proxy="params", sampler=sampler, seed=0, out=root / sampler, workers=1,
                              report=False, enqueue_presets=False, argv=sys.argv), on_event=on_event)
    per_trial = [b - a for a, b in zip(marks, marks[1:])]
    windows = [per_trial[i:i + WINDOW] for i in range(0, len(per_trial), WINDOW)]
    means = [1000 * statistics.mean(w) for w in windows if w]
    return {"sampler": sampler, "trials": len(per_trial), "ms_per_trial_by_window": [round(m, 1) for m in means],
            "last_over_first": round(means[-1] / means[0], 2) if means and means[0] else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="iphone12")
    ap.add_argument("--budget", default="5ms")
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--samplers", nargs="+", default=["random", "tpe", "nsga2"])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [measure(s, args, Path(tmp)) for s in args.samplers]
    command = command_line()
    write_json(RESULTS / "search_overhead.json", {"command": command, "date": time.strftime("%Y-%m-%d %H:%M"),
                                                   "window": WINDOW, "rows": rows})
    windows = len(rows[0]["ms_per_trial_by_window"])
    head = " | ".join(f"trials {i * WINDOW + 1}-{(i + 1) * WINDOW}" for i in range(windows))
    lines = ["# CPU time per trial as trials accumulate", "", f"`{command}` ({time.strftime('%Y-%m-%d')}, one core "
             "of a shared 2-core machine); CPU ms per trial (proposals, lookups, SQLite study, run folder; the "
             "`params` proxy's scoring), mean per window:", "",
             f"| sampler | {head} | last / first |", "|---|" + "---:|" * (windows + 1)]
    for r in rows:
        lines.append(f"| {r['sampler']} | " + " | ".join(f"{m:.1f}" for m in r["ms_per_trial_by_window"])
                     + f" | {r['last_over_first']} |")
    (RESULTS / "search_overhead.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
