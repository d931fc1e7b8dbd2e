"""Run a search: open or join the study, enqueue the presets that fit, optimise, keep the run folder current."""

from __future__ import annotations

import datetime as dt
import math
import platform
import shutil
import signal
import sys
import time
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from nas.errors import NasError, UsageError
from nas.search.budget import BudgetError, format_ms
from nas.search.objective import CandidateFailed, Counters, Objective, model_stats
from nas.search.outputs import RunFolder, TrialRecord, write_json
from nas.search.progress import Progress, Snapshot
from nas.search.samplers import SAMPLERS, STATIC_GENOME, budget_constraint, make_sampler
from nas.search.storage import (
    NoStudyError,
    default_storage_url,
    open_storage,
    recover_interrupted,
    redact,
    study_exists,
    worker_id,
)

# Defaults sized so a search on the embedded digits data takes minutes on a 2-core CPU (measured,
# see the search issue's report): short training costs ~15 CPU-s per candidate, so 24 candidates
# (~6 min); a training-free proxy ~1 s with the MAC count, so 300 candidates.
DEFAULT_TRIALS = 300
TRIALS_DEFAULTS: dict[str, int] = {"train": 24}
# proxy options the search uses unless --proxy-opt overrides them
PROXY_DEFAULTS: dict[str, dict[str, Any]] = {"train": {"steps": 40}}  # the budget benchmarked
# settings a joining worker must share with the study (else its trials would not be comparable)
SHARED_SETTINGS = ("device", "budget_ms", "space", "proxy", "proxy_options", "data", "table_hash")
MAX_LOOKUPS_PER_TRIAL = 50


class StudyMismatchError(UsageError):
    """A worker joins a study that was started with other settings."""


@dataclass
class SearchSettings:
    """Everything that defines a search (the CLI fills it; run.json records it)."""

    device: str
    budget_ms: float
    space: str = "hybrid-vit"
    trials: int | None = None  # None: TRIALS_DEFAULTS for the proxy, else DEFAULT_TRIALS
    timeout_s: float | None = None
    proxy: str | None = None
    proxy_options: dict[str, Any] = field(default_factory=dict)
    data: str | None = None
    sampler: str = "nsga2"
    seed: int = 0
    storage: str | None = None
    study: str | None = None
    out: Path | None = None
    resume: bool = False
    tables_dir: str | None = None
    worker_index: int = 0
    report: bool = True
    enqueue_presets: bool = True  # the benchmark turns it off to compare samplers alone
    argv: list[str] = field(default_factory=list)


@dataclass
class SearchResult:
    """What a finished (or stopped) search produced."""

    out: Path
    study: str
    storage: str
    trained: int
    over_budget: int
    failed: int
    reused: int
    target: int
    front: list[TrialRecord]
    stopped_by: str | None
    seconds: float
    train_seconds: float
    report: str | None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["out"] = str(self.out)
        d["front"] = [asdict(r) for r in self.front]
        return d


def default_out(device: str, budget_ms: float) -> Path:
    """``runs/<timestamp>-<device>-<budget>``."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{stamp}-{device}-{format_ms(budget_ms)}"


def _versions() -> dict[str, str]:
    import optuna
    import torch

    import nas

    return {"nas": nas.__version__, "python": platform.python_version(), "torch": torch.__version__,
            "optuna": optuna.__version__, "platform": platform.platform()}


class _Stopper:
    """First SIGINT/SIGTERM: stop after the current trial. Second: stop now (KeyboardInterrupt)."""

    def __init__(self, log: Any):
        self.signal: str | None = None
        self.log = log
        self._old: dict[int, Any] = {}

    def __enter__(self) -> _Stopper:
        import threading

        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signal is not None:
            raise KeyboardInterrupt
        self.signal = signal.Signals(signum).name
        self.log(f"{self.signal}: stopping after the current trial (send it again to stop now)")


def run_search(settings: SearchSettings, *, live: bool | None = None) -> SearchResult:
    """Search ``settings.space`` for accurate networks within ``settings.budget_ms`` on ``settings.device``.

    Raises:
        UnknownNameError: unknown device, space, sampler or proxy (lists the known ones).
        BudgetError: the budget is below the fastest network of the space on the device.
        StorageError / NoStudyError / StudyMismatchError: storage problems, --resume without a study,
            or joining a study started with other settings.
    """
    import optuna

    from nas.latency.predict import predict_ms
    from nas.latency.table import load_table
    from nas.proxy import DEFAULT_DATA, DEFAULT_PROXY, PROXIES, get_proxy, load_dataset
    from nas.space import load_space
    from nas.space_members import fastest_member

    started = time.monotonic()
    s = settings
    s.proxy = s.proxy or DEFAULT_PROXY
    if s.trials is None:
        s.trials = TRIALS_DEFAULTS.get(s.proxy, DEFAULT_TRIALS)
    if s.trials <= 0:
        raise UsageError(f"--trials must be at least 1, got {s.trials}")
    if s.sampler not in SAMPLERS:
        make_sampler(s.sampler, seed=0, constraints_func=budget_constraint, trials=1)  # raises, listing them
    s.data = s.data or DEFAULT_DATA
    if s.proxy not in PROXIES:
        get_proxy(s.proxy)  # raises UnknownNameError listing the proxies
    options = {**PROXY_DEFAULTS.get(s.proxy, {}), **s.proxy_options}
    try:
        proxy = get_proxy(s.proxy, **options)
    except TypeError as exc:
        raise UsageError(f"proxy '{s.proxy}' does not take these options {options}: {exc}") from None
    space = load_space(s.space)
    table = load_table(s.device, s.tables_dir)
    fastest_ms, _ = fastest_member(space, partial(predict_ms, table=table), cost_id=table.hash)
    if s.budget_ms < fastest_ms:
        raise BudgetError(
            f"budget {format_ms(s.budget_ms)} is below the fastest network of space '{space.name}' on "
            f"'{table.device}' ({fastest_ms:.4g} ms, {table.method}); use --budget "
            f"{math.ceil(fastest_ms * 100) / 100:g}ms or more")

    out = Path(s.out) if s.out else default_out(table.device, s.budget_ms)
    study_name = s.study or f"nas-{table.device}-{format_ms(s.budget_ms)}"
    url = s.storage or default_storage_url(out)
    if s.resume and not s.storage and not (out / "study.db").is_file():
        raise NoStudyError(f"--resume: no study to resume in '{out}' (no study.db); pass the run folder "
                           "with --out, or --storage URL --study NAME")
    out.mkdir(parents=True, exist_ok=True)
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # failures are logged by the search itself
    storage = open_storage(url)
    exists = study_exists(storage, study_name)
    if s.resume and not exists:
        raise NoStudyError(f"--resume: storage '{redact(url)}' has no study '{study_name}'")
    if exists and not s.resume and not s.storage:
        raise UsageError(f"'{out}' already holds study '{study_name}'; continue it with --resume --out {out}, "
                         "or pick another --out")

    shared = {"device": table.device, "budget_ms": s.budget_ms, "space": space.name, "proxy": s.proxy,
              "proxy_options": options, "data": s.data, "table_hash": table.hash}
    # a study that already has workers gets a different sampler stream per new worker
    previous_workers = 0
    if exists:
        prior = optuna.load_study(study_name=study_name, storage=storage)
        _check_shared(prior.user_attrs.get("nas") or {}, shared, study_name)
        previous_workers = len({t.user_attrs.get("worker") for t in prior.get_trials(deepcopy=False)} - {None})
    # distinct sampler streams for concurrent workers (--worker) and for later sessions of one study
    sampler = make_sampler(s.sampler, seed=s.seed + 1000 * (s.worker_index + previous_workers),
                           constraints_func=budget_constraint,
                           trials=s.trials)
    study = optuna.create_study(study_name=study_name, storage=storage, sampler=sampler,
                                directions=["maximize", "minimize"], load_if_exists=True)
    presets = _price_presets(space, table)
    if not study.user_attrs.get("nas"):
        study.set_user_attr("nas", {**shared, "seed": s.seed, "sampler": s.sampler})
        for p in presets if s.enqueue_presets else []:
            if p["latency_ms"] is not None and p["latency_ms"] <= s.budget_ms:
                study.enqueue_trial(space.preset_params(p["name"]), user_attrs={"preset": p["name"]})
    recovered = recover_interrupted(study)

    meta_path = out / "run.json"
    meta = {
        "argv": s.argv, "versions": _versions(), "seed": s.seed, "device": table.device,
        "budget_ms": s.budget_ms, "space": space.name, "space_path": str(space.path) if space.path else None,
        "proxy": s.proxy, "proxy_options": options,
        "data": s.data, "sampler": s.sampler, "trials": s.trials, "storage": redact(url), "study": study_name,
        "table": {"device": table.device, "runtime": table.runtime, "method": table.method, "hash": table.hash,
                  "path": str(table.path) if table.path else None},
        "fastest_ms": fastest_ms,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if meta_path.is_file():
        import json

        old = json.loads(meta_path.read_text())
        meta = {**old, "sessions": [*old.get("sessions", []), {"argv": s.argv, "started": meta["created"],
                                                               "worker": worker_id()}]}
    write_json(meta_path, meta)
    if space.path is not None and not (out / "space.yaml").exists():
        # the run replays its trials' params with this exact space, even if the original file changes
        shutil.copyfile(space.path, out / "space.yaml")
    folder = RunFolder(out, space=space, budget_ms=s.budget_ms, meta=meta, presets=presets)

    data = load_dataset(s.data, seed=s.seed)
    counters = Counters()
    objective = Objective(space=space, table=table, budget_ms=s.budget_ms, proxy=proxy, data=data, seed=s.seed,
                          worker=worker_id(), counters=counters, static_genome=s.sampler in STATIC_GENOME)
    state: dict[str, Any] = {"stopped_by": None, "front": []}
    me = worker_id()

    with Progress(budget_ms=s.budget_ms, device=table.device, live=live) as progress, \
            _Stopper(progress.log) as stopper:
        if recovered:
            progress.log(f"re-enqueued interrupted trial(s) {recovered}")
        progress.log(f"study '{study_name}' in {redact(url)}; run folder {out}; fastest possible "
                     f"{fastest_ms:.4g} ms ({table.method})")

        def status(last: str) -> bool:
            """Write the folder, show progress; True when the search should stop."""
            trials = study.get_trials(deepcopy=False)
            trained = sum(1 for t in trials if t.state.name == "COMPLETE" and t.user_attrs.get("trained"))
            over = sum(1 for t in trials if t.state.name == "COMPLETE" and t.user_attrs.get("feasible") is False)
            failed = sum(1 for t in trials if t.state.name == "FAIL")
            reused = sum(1 for t in trials if t.user_attrs.get("duplicate_of") is not None)
            others_running = sum(1 for t in trials if t.state.name == "RUNNING" and t.user_attrs.get("worker") != me)
            state["front"] = folder.write(study)
            best = max(state["front"], key=lambda r: r.accuracy, default=None)
            progress.update(Snapshot(trained, s.trials, over, failed, len(state["front"]),
                                     best.accuracy if best else None, best.latency_ms if best else None, last))
            if stopper.signal:
                state["stopped_by"] = stopper.signal
            elif trained + others_running >= s.trials:
                return True
            elif over + reused >= MAX_LOOKUPS_PER_TRIAL * s.trials + 100:
                state["stopped_by"] = (f"{over} over-budget and {reused} already-scored candidates: the budget is "
                                       "very tight or the networks within it are used up")
            elif counters.failed >= max(10, s.trials) and counters.trained == 0:
                state["stopped_by"] = f"{counters.failed} failed candidates; last: {counters.failures[-1]}"
            return state["stopped_by"] is not None

        def callback(study_: Any, trial: Any) -> None:
            ua = trial.user_attrs
            if trial.state.name == "FAIL":
                last = f"trial {trial.number} failed: {ua.get('reason', '')}"
            elif ua.get("feasible") is False:
                last = f"trial {trial.number}: {ua.get('latency_ms', 0):.3g} ms, over budget (lookup only)"
            else:
                last = (f"trial {trial.number}: score {trial.values[0]:.4g}, {ua.get('latency_ms', 0):.3g} ms"
                        + (f" ({ua['preset']})" if ua.get("preset") else ""))
            if status(last):
                study_.stop()

        try:
            if not status("resumed" if exists else "started"):
                study.optimize(objective, n_trials=None, timeout=s.timeout_s, catch=(CandidateFailed,),
                               callbacks=[callback], gc_after_trial=False)
            if s.timeout_s is not None and state["stopped_by"] is None and time.monotonic() - started >= s.timeout_s:
                state["stopped_by"] = f"timeout {s.timeout_s:g}s"
        except KeyboardInterrupt:
            state["stopped_by"] = stopper.signal or "SIGINT"
            state["front"] = folder.write(study)
            raise
    state["front"] = folder.write(study)
    report = _write_report(out) if s.report else None
    trials = study.get_trials(deepcopy=False)
    return SearchResult(
        out=out, study=study_name, storage=redact(url),
        trained=sum(1 for t in trials if t.state.name == "COMPLETE" and t.user_attrs.get("trained")),
        over_budget=sum(1 for t in trials if t.state.name == "COMPLETE" and t.user_attrs.get("feasible") is False),
        failed=sum(1 for t in trials if t.state.name == "FAIL"),
        reused=sum(1 for t in trials if t.user_attrs.get("duplicate_of") is not None),
        target=s.trials, front=state["front"], stopped_by=state["stopped_by"],
        seconds=time.monotonic() - started, train_seconds=counters.train_seconds, report=report,
    )


def _check_shared(saved: dict[str, Any], current: dict[str, Any], study_name: str) -> None:
    for key in SHARED_SETTINGS:
        if key in saved and saved[key] != current[key]:
            raise StudyMismatchError(
                f"study '{study_name}' was started with {key}={saved[key]!r}, this run has {current[key]!r}; "
                "use the same settings to join it, or another --study")


def _price_presets(space: Any, table: Any) -> list[dict[str, Any]]:
    """Every preset of the space with its predicted latency (None when the table lacks a key)."""
    from nas.latency.predict import predict_latency
    from nas.latency.table import MissingKeysError

    out = []
    for name in space.presets_in_space():
        cfg = space.config_from_params(space.preset_params(name))
        try:
            latency_ms: float | None = float(predict_latency(cfg, table).total_ms)
        except MissingKeysError:
            latency_ms = None
        out.append({"name": name, "latency_ms": latency_ms, "params": None, "macs": None})
    return out


def _write_report(out: Path) -> str | None:
    """Call the report writer when it is installed; returns its path (or None)."""
    try:
        from nas.report import write_report
    except ImportError:
        return None
    try:
        result = write_report(out)
    except NasError as exc:
        sys.stderr.write(f"report not written: {exc}\n")
        return None
    return str(getattr(result, "markdown", result))


__all__ = ["DEFAULT_TRIALS", "PROXY_DEFAULTS", "TRIALS_DEFAULTS", "SearchResult", "SearchSettings", "model_stats",
           "run_search"]
