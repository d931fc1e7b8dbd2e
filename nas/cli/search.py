"""`nas search`: multi-fidelity search under a latency budget, on every core, resumable and shareable."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import Any

import click

from nas.cli.common import emit_json, stdout


class _Signals:
    """First SIGINT/SIGTERM: the search stops after the rung it trains. Second: at once (KeyboardInterrupt)."""

    def __init__(self, log: Any):
        self.received: str | None = None
        self.log = log
        self._old: dict[int, Any] = {}

    def __enter__(self) -> _Signals:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)

    def __call__(self) -> str | None:
        return self.received

    def _handle(self, signum: int, frame: Any) -> None:
        if self.received is not None:
            raise KeyboardInterrupt
        self.received = signal.Signals(signum).name
        self.log(f"{self.received}: stopping after the current rung; the candidate is continued on --resume "
                 "(send it again to stop at once)")


@click.command("search")
@click.option("--device", help="Latency table to price candidates with (see `nas devices`).")
@click.option("--budget", help="Latency budget: 5ms, 5 ms, 500us or 0.005s.")
@click.option("--space", default=None, help="Search space name or YAML path  [default: hybrid-vit]")
@click.option("--resolution", default=None,
              help="Deploy resolution instead of the space's, or several to search over: 256 or 224,256")
@click.option("--trials", type=int, default=None,
              help="Candidates to score within the budget (proposals over budget or already scored cost a lookup "
                   "and are not counted)  [default: 40 with a training proxy, 300 with a training-free one]")
@click.option("--timeout", default=None, help="Stop after this long: 600, 600s, 10m, 1.5h.")
@click.option("--proxy", default=None, help="Accuracy proxy: naswot+params, top1, train, sotl, zico, naswot, synflow, "
                                            "params  [default: naswot+params, the best ranking in the proxy "
                                            "benchmark; multi-fidelity rungs apply to train and sotl]")
@click.option("--proxy-opt", "proxy_opt", multiple=True, metavar="KEY=VALUE",
              help="Proxy option, repeatable (e.g. steps=30, resolution=32); `nas proxy --help` lists them.")
@click.option("--train-device", default=None,
              help="Where training proxies train: auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N, mps; workers "
                   "share it  [default: auto]")
@click.option("--data", default=None, help="Proxy data: digits, cifar10:DIR, folder:DIR  [default: digits]")
@click.option("--sampler", default=None, help="nsga2, tpe or random  [default: nsga2]")
@click.option("--seed", type=int, default=None, help="Seed of the sampler, data split and proxy  [default: 0]")
@click.option("--workers", type=int, default=None,
              help="Worker processes on this machine, one training thread each  [default: the cores this process "
                   "may use]")
@click.option("--storage", default=None,
              help="Optuna storage URL shared by workers (e.g. postgresql://user:pw@host/db)  "
                   "[default: sqlite study.db in the run folder]")
@click.option("--study", default=None, help="Study name (workers with the same name share it)  "
                                            "[default: nas-<device>-<budget>]")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Run folder  [default: runs/<timestamp>-<device>-<budget>]")
@click.option("--resume", is_flag=True, help="Continue the run of --out (or --storage/--study), with its settings.")
@click.option("--worker", "worker_index", type=int, default=0, show_default=True,
              help="Index of this machine's workers among a shared study's machines (0, 1, ...): each gets its own "
                   "sampler streams.")
@click.option("--tables", "tables_dir", default=None, help="Extra folder of latency tables.")
@click.option("--no-report", is_flag=True, help="Skip report.md / pareto.png / pareto.html (`nas report` later).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
def search(**opts: Any) -> None:
    """Search architectures for accuracy within a latency budget on a device.

    Every proposal is priced from the device's latency table first: one over the budget, or a network
    already scored, costs a lookup and never becomes a trial. The fastest network of the space and the
    published presets that fit are scored first. A training proxy scores candidates at rungs of
    increasing training; only the best of each latency band go on to the next rung. Ctrl-C or SIGTERM
    stop after the current rung; `--resume --out RUN_DIR` continues with nothing lost.
    """
    from nas.cli.progress import Progress
    from nas.proxy import parse_option_pairs
    from nas.search import SearchSettings, parse_budget, parse_duration, run_search
    from nas.space import parse_resolutions

    settings = SearchSettings(
        device=opts["device"], budget_ms=parse_budget(opts["budget"]) if opts["budget"] else None,
        space=opts["space"], resolutions=parse_resolutions(opts["resolution"]) if opts["resolution"] else None,
        trials=opts["trials"], timeout_s=parse_duration(opts["timeout"]), proxy=opts["proxy"],
        proxy_options=parse_option_pairs(opts["proxy_opt"]) or None, data=opts["data"], sampler=opts["sampler"],
        seed=opts["seed"], storage=opts["storage"], study=opts["study"], out=opts["out"], resume=opts["resume"],
        tables_dir=opts["tables_dir"], worker_index=opts["worker_index"], workers=opts["workers"],
        train_device=opts["train_device"],
        report=not opts["no_report"], argv=["nas", *sys.argv[1:]])
    with Progress() as progress, _Signals(progress.log) as signals:
        try:
            result = run_search(settings, on_event=progress, should_stop=signals)
        except KeyboardInterrupt:
            out = opts["out"] or "RUN_DIR"
            progress.log(f"interrupted; what was scored is kept: nas search --resume --out {out}")
            sys.exit(130)
    if opts["as_json"]:
        emit_json(result.to_dict())
    else:
        _print_front(result)
    if result.stopped_by in ("SIGINT", "SIGTERM"):
        sys.stderr.write(f"stopped by {result.stopped_by}; continue with: nas search --resume --out {result.out}\n")
        sys.exit(130 if result.stopped_by == "SIGINT" else 143)


def _print_front(result: Any) -> None:
    from rich.table import Table

    table = Table(title=f"Pareto front within the budget ({len(result.front)} points; {result.metric.label})")
    rungs = len(result.rungs) > 1
    for col in ("trial", "score", *(["steps (rung)"] if rungs else []), "latency ms", "params (M)", "MMACs",
                "preset"):
        table.add_column(col, justify="left" if col == "preset" else "right")
    for r in result.front:
        steps = [f"{r.steps} ({r.rung + 1}/{len(result.rungs)})"] if rungs else []
        table.add_row(str(r.trial), f"{r.score:.4g}", *steps, f"{r.latency_ms:.3f}",
                      "" if r.params is None else f"{r.params / 1e6:.2f}",
                      "" if r.macs is None else f"{r.macs / 1e6:.0f}", r.preset)
    stdout.print(table)
    verb, work = ("trained", "training") if result.trains else ("scored", "scoring")
    stdout.print(
        f"{verb} {result.scored}/{result.target}; rejected by lookup: {result.over_budget} over budget, "
        f"{result.duplicates} already seen; failed {result.failed}; {result.seconds:.0f} s on {result.workers} "
        f"worker(s) ({result.cpu_s:.0f} CPU-s {work})"
        + (f"; stopped: {result.stopped_by}" if result.stopped_by else ""), highlight=False, soft_wrap=True)
    stdout.print(f"run folder: {result.out}" + (f"; report: {result.report}" if result.report else ""),
                 highlight=False, soft_wrap=True)
