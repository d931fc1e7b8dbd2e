"""`nas search`: multi-fidelity search under a latency budget, on every core, resumable and shareable."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import Any

import click

from nas.cli.choices import ProxyOption, SamplerOption
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
@click.option("--device", "devices", multiple=True,
              help="Latency table to price candidates with (see `nas devices`); repeat with a --budget each to "
                   "search for networks that fit every device (the front is drawn against the first).")
@click.option("--budget", "budgets", multiple=True,
              help="Latency budget: 5ms, 5 ms, 500us or 0.005s; one per --device.")
@click.option("--max-params", default=None, help="At most this many parameters: 5000000, 5M, 600k.")
@click.option("--max-macs", default=None, help="At most this many multiply-accumulates: 2G, 800M.")
@click.option("--max-size-mb", default=None, help="Weights at most this many MB (10^6 bytes) at --precision.")
@click.option("--precision", default=None, help="Bytes per weight of --max-size-mb: fp32, fp16 or int8  "
                                                 "[default: fp16]")
@click.option("--confidence", default=None,
              help="A candidate fits a budget when the upper end of its latency interval at this level does "
                   "(e.g. 0.9), not only its prediction  [default: the prediction]")
@click.option("--verify", type=int, default=None,
              help="When the search ends, time this many front points nearest the budget end to end on this "
                   "machine (devices it can time) and show measured beside predicted.")
@click.option("--space", default=None, help="Search space name or YAML path  [default: hybrid-vit]")
@click.option("--resolution", default=None,
              help="Deploy resolution instead of the space's, or several to search over: 256 or 224,256")
@click.option("--trials", type=int, default=None,
              help="Candidates to score within the budget (proposals over budget or already scored cost a lookup "
                   "and are not counted)  [default: 40 with a training proxy, 300 with a training-free one]")
@click.option("--timeout", default=None, help="Stop after this long: 600, 600s, 10m, 1.5h.")
@click.option("--proxy", cls=ProxyOption, default=None,
              help="Accuracy proxy: {names}  [default: {default}, the best ranking in the proxy benchmark; "
                   "multi-fidelity rungs apply to {training}]")
@click.option("--proxy-opt", "proxy_opt", multiple=True, metavar="KEY=VALUE",
              help="Proxy option, repeatable (e.g. steps=30, resolution=32); `nas proxy --help` lists them.")
@click.option("--train-device", default=None,
              help="Where training proxies train: auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N, mps; workers "
                   "share it  [default: auto]")
@click.option("--data", default=None, help="Proxy data: digits, cifar10:DIR, folder:DIR  [default: digits]")
@click.option("--sampler", cls=SamplerOption, default=None, help="Sampler: {names}  [default: {default}]")
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

    pairs = _device_budgets(opts["devices"], opts["budgets"], parse_budget)
    limits = _limits(opts)
    settings = SearchSettings(
        device=pairs[0][0] if pairs else None, budget_ms=pairs[0][1] if pairs else None, also=tuple(pairs[1:]) or None,
        **limits, verify=opts["verify"],
        space=opts["space"], resolutions=parse_resolutions(opts["resolution"]) if opts["resolution"] else None,
        trials=opts["trials"], timeout_s=parse_duration(opts["timeout"]), proxy=opts["proxy"],
        proxy_options=parse_option_pairs(opts["proxy_opt"]) or None, data=opts["data"], sampler=opts["sampler"],
        seed=opts["seed"], storage=opts["storage"], study=opts["study"], out=opts["out"], resume=opts["resume"],
        tables_dir=opts["tables_dir"], worker_index=opts["worker_index"], workers=opts["workers"],
        train_device=opts["train_device"],
        report=False if opts["no_report"] else None, argv=("nas", *sys.argv[1:]))
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


def _device_budgets(devices: tuple[str, ...], budgets: tuple[str, ...], parse_budget: Any) -> list[tuple[str, Any]]:
    """(device, budget ms) pairs from repeated --device/--budget, in order; one alone may be left for --resume."""
    from nas.errors import UsageError

    if len(devices) > 1 or len(budgets) > 1:
        if len(devices) != len(budgets):
            raise UsageError(f"{len(devices)} --device and {len(budgets)} --budget given: give one --budget for "
                             "each --device, in order (e.g. --device iphone12 --budget 5ms --device x86-2core-ort "
                             "--budget 20ms)")
    if len(devices) <= 1 and len(budgets) <= 1:
        return [(devices[0] if devices else None, parse_budget(budgets[0]) if budgets else None)] \
            if devices or budgets else []
    return [(d, parse_budget(b)) for d, b in zip(devices, budgets)]


def _limits(opts: dict[str, Any]) -> dict[str, Any]:
    """The size limits and confidence of the command line, parsed (None: not given)."""
    from nas.run.limits import BYTES_PER_WEIGHT, LimitError, parse_count, parse_megabytes

    precision = opts["precision"]
    if precision is not None and precision not in BYTES_PER_WEIGHT:
        raise LimitError(f"--precision must be one of {', '.join(BYTES_PER_WEIGHT)} (bytes per weight of "
                         f"--max-size-mb), got {precision!r}")
    if precision is not None and opts["max_size_mb"] is None:
        raise LimitError("--precision sets the bytes per weight of --max-size-mb: give --max-size-mb too")
    confidence = opts["confidence"]
    if confidence is not None:
        from nas.latency.interval import check_level

        confidence = check_level(confidence, flag="--confidence")
    return {"max_params": parse_count(opts["max_params"], flag="--max-params"),
            "max_macs": parse_count(opts["max_macs"], flag="--max-macs"),
            "max_size_mb": parse_megabytes(opts["max_size_mb"]), "precision": precision, "confidence": confidence}


def _print_front(result: Any) -> None:
    from rich.table import Table

    table = Table(title=f"Pareto front within the budget ({len(result.front)} points; {result.metric.label})")
    rungs = len(result.rungs) > 1
    level = next((r.latency_level for r in result.front if r.latency_high_ms is not None), None)
    measured = any(r.measured_ms is not None for r in result.front)
    devices = sorted({d for r in result.front for d in r.device_latencies})
    extra = ([f"{level:.0%} interval", "P(fit)"] if level else []) + (["measured ms"] if measured else []) \
        + [f"{d} ms" for d in devices]
    for col in ("trial", "score", *(["steps (rung)"] if rungs else []), "latency ms", *extra, "params (M)", "MMACs",
                "preset"):
        table.add_column(col, justify="left" if col == "preset" else "right")
    for r in result.front:
        steps = [f"{r.steps} ({r.rung + 1}/{len(result.rungs)})"] if rungs else []
        cells = []
        if level:
            cells += [f"{r.latency_low_ms:.2f}-{r.latency_high_ms:.2f}" if r.latency_high_ms is not None else "",
                      "" if r.budget_chance is None else ">99%" if r.budget_chance >= 0.995 else
                      f"{r.budget_chance:.0%}"]
        if measured:
            cells.append("" if r.measured_ms is None else f"{r.measured_ms:.3f}")
        cells += [f"{r.device_latencies[d]:.3f}" if d in r.device_latencies else "" for d in devices]
        table.add_row(str(r.trial), f"{r.score:.4g}", *steps, f"{r.latency_ms:.3f}", *cells,
                      "" if r.params is None else f"{r.params / 1e6:.2f}",
                      "" if r.macs is None else f"{r.macs / 1e6:.0f}", r.preset)
    stdout.print(table)
    verb, work = ("trained", "training") if result.trains else ("scored", "scoring")
    stdout.print(
        f"{verb} {result.scored}/{result.target}; rejected by lookup: {result.over_budget} over budget, "
        + (f"{result.over_limits} over the other limits, " if result.limits else "")
        + f"{result.duplicates} already seen; failed {result.failed}; {result.seconds:.0f} s on {result.workers} "
        f"worker(s) ({result.cpu_s:.0f} CPU-s {work})"
        + (f"; stopped: {result.stopped_by}" if result.stopped_by else ""), highlight=False, soft_wrap=True)
    stdout.print(f"run folder: {result.out}" + (f"; report: {result.report}" if result.report else ""),
                 highlight=False, soft_wrap=True)
