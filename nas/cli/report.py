"""`nas report RUN_DIR`: write report.md, pareto.png, pareto.html and show the front."""

from __future__ import annotations

import click

from nas.cli.common import emit_json, stderr, stdout


@click.command("report")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--timings", "timings_csv", type=click.Path(dir_okay=False), default=None,
              help="Times measured on the device (arch,latency_ms; e.g. the timings.csv of nas export RUN --front, "
                   "filled in): shown beside the predictions, points over the budget marked.")
@click.option("--json", "as_json", is_flag=True, help="Print the report summary as JSON.")
def report(run_dir: str, timings_csv: str | None, as_json: bool) -> None:
    """Write the Pareto report of a search run (also written at the end of every search)."""
    from rich.table import Table

    from nas.report import write_report

    if timings_csv is not None:
        _take_timings(run_dir, timings_csv)

    res = write_report(run_dir)
    if as_json:
        emit_json(res.to_dict())
        return
    lat = f"ms ({res.method or '?'})"
    budget = "-" if res.budget_ms is None else f"{res.budget_ms:g} ms"
    table = Table(title=f"Pareto front of {res.run_dir.name}: {res.device}, budget {budget}, "
                        f"{res.n_feasible}/{res.n_trials} trials within budget")
    presets = Table(title="Reference presets")
    score = res.metric["name"]
    for t, first in ((table, "trial"), (presets, "preset")):
        t.add_column(first, justify="right" if t is table else "left", no_wrap=True)
        for col in (score, lat, "params M", "MACs M"):
            t.add_column(col, justify="right", no_wrap=True)
    rungs = len(res.rungs) > 1
    interval = any(p.get("latency_interval") for p in res.front)
    measured = any(p.get("measured_ms") is not None for p in res.front)
    if interval:
        table.add_column("interval ms", justify="right", no_wrap=True)
    if measured:
        table.add_column("measured ms", justify="right", no_wrap=True)
    if rungs:
        table.add_column("steps (rung)", justify="right")
    table.add_column("architecture", overflow="fold")
    presets.add_column("trial", justify="right")
    for p in res.front:
        steps = [f"{p['steps']} ({p['rung'] + 1}/{len(res.rungs)})"] if rungs else []
        iv = p.get("latency_interval") or {}
        extra = [f"{_f(iv.get('low_ms'), 1, 3)}-{_f(iv.get('high_ms'), 1, 3)}"] if interval else []
        if measured:
            m = p.get("measured_ms")
            extra.append("-" if m is None else f"{m:.3f}" + (" over" if m > res.budget_ms else ""))
        table.add_row(str(p["trial"]), _f(p["score"], 1, 4), _f(p["latency_ms"], 1, 3), _f(p["params"], 1e6, 2),
                      _f(p["macs"], 1e6, 1), *extra, *steps,
                      p["summary"] + (f" ({p['preset']})" if p.get("preset") else ""))
    for p in res.presets:
        presets.add_row(p["name"], _f(p.get("score"), 1, 4), _f(p.get("latency_ms"), 1, 3),
                        _f(p.get("params"), 1e6, 2), _f(p.get("macs"), 1e6, 1),
                        "-" if p.get("trial") is None else str(p["trial"]))
    stdout.print(table)
    if res.presets:
        stdout.print(presets)
    for note in res.notes:
        stderr.print(f"[yellow]note[/yellow] {note}")
    stdout.print(f"wrote {res.markdown}, {res.png}, {res.html}", highlight=False, soft_wrap=True)
    dash = res.to_dict()["dashboard"]
    if dash:
        stdout.print(f"browse all trials: {dash}", highlight=False, soft_wrap=True)


def _take_timings(run_dir: str, timings_csv: str) -> None:
    """Record the measured times of ``timings_csv`` in the run (measured.json, pareto.json's points)."""
    from nas.run import load_run
    from nas.run.folder import write_pareto_measured
    from nas.run.measured import timings_measurements, write_measured

    run = load_run(run_dir)
    measured = write_measured(run.path, timings_measurements(run, timings_csv))
    write_pareto_measured(run.path, measured)
    stderr.print(f"{len(measured)} trial(s) of {run.path} measured ({timings_csv}); to fit a table to the device: "
                 f"nas latency calibrate --device {run.device} --as NAME --timings {timings_csv}",
                 highlight=False, soft_wrap=True)


def _f(value: float | None, scale: float, digits: int) -> str:
    return "-" if value is None else f"{value / scale:.{digits}f}"
