"""`nas search`: Optuna search under a latency budget, resumable and shared by many workers."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from nas.cli.common import emit_json, stdout
from nas.errors import UsageError

# options a --resume takes from the run's run.json unless given again
_RESUMED = {"device": "device", "budget": "budget_ms", "space": "space", "proxy": "proxy", "data": "data",
            "sampler": "sampler", "seed": "seed", "study": "study", "trials": "trials"}


def _proxy_options(pairs: tuple[str, ...]) -> dict[str, Any]:
    import yaml

    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--proxy-opt '{pair}' is not KEY=VALUE (e.g. --proxy-opt steps=50)")
        try:
            options[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            options[key.strip()] = yaml.safe_load(value)
    return options


@click.command("search")
@click.option("--device", help="Latency table to price candidates with (see `nas devices`).")
@click.option("--budget", help="Latency budget: 5ms, 5 ms, 500us or 0.005s.")
@click.option("--space", default=None, help="Search space name or YAML path  [default: hybrid-vit]")
@click.option("--trials", type=int, default=None,
              help="Candidates to score within the budget (over-budget ones cost a lookup and are not "
                   "counted)  [default: 24 with the train proxy, 300 with a training-free one]")
@click.option("--timeout", default=None, help="Stop after this long: 600, 600s, 10m, 1.5h.")
@click.option("--proxy", default=None, help="Accuracy proxy: train, synflow, zico, naswot, params  "
                                            "[default: train, the best ranking in the proxy benchmark]")
@click.option("--proxy-opt", "proxy_opt", multiple=True, metavar="KEY=VALUE",
              help="Proxy option, repeatable (e.g. steps=30, resolution=32).  [default for train: steps=40]")
@click.option("--data", default=None, help="Proxy data: digits, cifar10:DIR, folder:DIR  [default: digits]")
@click.option("--sampler", default=None, help="nsga2, tpe or random  [default: nsga2]")
@click.option("--seed", type=int, default=None, help="Seed of the sampler, data split and proxy  [default: 0]")
@click.option("--storage", default=None,
              help="Optuna storage URL shared by workers (e.g. postgresql://user:pw@host/db)  "
                   "[default: sqlite study.db in the run folder]")
@click.option("--study", default=None, help="Study name (workers with the same name share it)  "
                                            "[default: nas-<device>-<budget>]")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Run folder  [default: runs/<timestamp>-<device>-<budget>]")
@click.option("--resume", is_flag=True, help="Continue the study of --out (or --storage/--study).")
@click.option("--worker", "worker_index", type=int, default=0, show_default=True,
              help="Index of this worker among concurrent workers of one study (0, 1, ...): each gets its own "
                   "sampler stream, so they do not propose the same candidates.")
@click.option("--tables", "tables_dir", default=None, help="Extra folder of latency tables.")
@click.option("--no-report", is_flag=True, help="Skip report.md / pareto.png / pareto.html (`nas report` later).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
@click.pass_context
def search(ctx: click.Context, **opts: Any) -> None:
    """Search architectures for accuracy within a latency budget on a device.

    Candidates are priced from the device's latency table before any training: one over the budget
    costs a lookup, never a training run. The published presets that fit are tried first. Ctrl-C or
    SIGTERM stop after the current trial; `--resume --out RUN_DIR` continues with nothing lost.
    """
    from nas.search import SearchSettings, parse_budget, parse_duration, run_search

    if opts["resume"]:
        _fill_from_run(ctx, opts)
    for name in ("device", "budget"):
        if not opts[name]:
            raise UsageError(f"--{name} is required (e.g. nas search --device iphone12 --budget 5ms)")
    budget_ms = opts["budget"] if isinstance(opts["budget"], float) else parse_budget(opts["budget"])
    settings = SearchSettings(
        device=opts["device"], budget_ms=budget_ms, space=opts["space"] or "hybrid-vit",
        trials=opts["trials"], timeout_s=parse_duration(opts["timeout"]),
        proxy=opts["proxy"], proxy_options=_proxy_options(opts["proxy_opt"]), data=opts["data"],
        sampler=opts["sampler"] or "nsga2", seed=0 if opts["seed"] is None else opts["seed"],
        storage=opts["storage"], study=opts["study"], out=opts["out"], resume=opts["resume"],
        tables_dir=opts["tables_dir"], worker_index=opts["worker_index"],
        report=not opts["no_report"], argv=["nas", *sys.argv[1:]],
    )
    try:
        result = run_search(settings)
    except KeyboardInterrupt:
        out = opts["out"] or "RUN_DIR"
        sys.stderr.write(f"interrupted; finished trials are kept: nas search --resume --out {out}\n")
        sys.exit(130)
    if opts["as_json"]:
        emit_json(result.to_dict())
    else:
        _print_front(result, budget_ms)
    if result.stopped_by in ("SIGINT", "SIGTERM"):
        sys.stderr.write(f"stopped by {result.stopped_by}; continue with: nas search --resume --out {result.out}\n")
        sys.exit(130 if result.stopped_by == "SIGINT" else 143)


def _fill_from_run(ctx: click.Context, opts: dict[str, Any]) -> None:
    """--resume: take the settings the run was started with, unless given again."""
    if opts["out"] is None and opts["storage"] is None:
        raise UsageError("--resume needs the run folder: nas search --resume --out RUN_DIR")
    meta_path = Path(opts["out"] or ".") / "run.json"
    if opts["out"] is not None and not meta_path.is_file() and opts["storage"] is None:
        from nas.search.storage import NoStudyError

        raise NoStudyError(f"--resume: no run to resume in '{opts['out']}' (no run.json); start it without --resume")
    if opts["out"] is None or not meta_path.is_file():
        return
    meta = json.loads(meta_path.read_text())
    for option, key in _RESUMED.items():
        if ctx.get_parameter_source(option) != click.core.ParameterSource.COMMANDLINE and key in meta:
            opts[option] = float(meta[key]) if option == "budget" else meta[key]
    if not opts["proxy_opt"] and meta.get("proxy_options"):
        opts["proxy_opt"] = tuple(f"{k}={json.dumps(v)}" for k, v in meta["proxy_options"].items())
    if ctx.get_parameter_source("storage") != click.core.ParameterSource.COMMANDLINE:
        storage = meta.get("storage") or ""
        opts["storage"] = None if storage.startswith("sqlite") or "***" in storage else storage


def _print_front(result: Any, budget_ms: float) -> None:
    from rich.table import Table

    from nas.search import format_ms

    table = Table(title=f"Pareto front within {format_ms(budget_ms)} ({len(result.front)} points)")
    for col in ("trial", "proxy score", "latency ms", "params (M)", "MMACs", "preset"):
        table.add_column(col, justify="left" if col == "preset" else "right")
    for r in result.front:
        table.add_row(str(r.trial), f"{r.accuracy:.4f}", f"{r.latency_ms:.3f}",
                      "" if r.params is None else f"{r.params / 1e6:.2f}",
                      "" if r.macs is None else f"{r.macs / 1e6:.0f}", r.preset)
    stdout.print(table)
    stdout.print(
        f"trained {result.trained}/{result.target}, over budget {result.over_budget} (lookups only), "
        f"reused {result.reused}, failed {result.failed}; {result.seconds:.0f} s "
        f"({result.train_seconds:.0f} s training)" + (f"; stopped: {result.stopped_by}" if result.stopped_by else ""))
    stdout.print(f"run folder: {result.out}" + (f"; report: {result.report}" if result.report else ""))
