"""Run a search in four phases: resolve a plan, open the run, optimise under a stop policy, finish.

1. ``resolve_plan`` (nas.search.plan): every setting checked and resolved; nothing written.
2. ``open_run``: the run folder, the study (the fastest network of the space and the presets within the
   budget queued first), run.json. If this fails, what it created is removed again.
3. ``optimise``: ``plan.settings.workers`` workers on the study (in this process for one, else one process each,
   one training thread each) while a coordinator keeps the run folder current and reports progress.
   The policy: stop when the trial target is reached, on ``should_stop`` (the CLI's Ctrl-C / SIGTERM),
   after ``timeout_s``, or when the sampler runs dry; a candidate stopped midway is continued on --resume.
4. ``finish``: the folder's final writes, the report, the result.

The library reports progress through ``on_event`` and returns a ``SearchResult``; it prints nothing.
"""

from __future__ import annotations

import multiprocessing
import os
import platform
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from nas.config import arch_id, summarize
from nas.errors import NasError
from nas.run.census import Census
from nas.run.folder import RUN_JSON, RunWriter, keep_space, opening, tidy, write_meta
from nas.run.measured import with_measured
from nas.run.meta import Metric, RunMeta, TableRef, read_meta
from nas.run.record import RECORD_ATTR, PresetRow, TrialRecord
from nas.search.events import OnEvent, SearchEvent, SearchStatus, ignore
from nas.search.follow import StudyFollower
from nas.search.mirror import DIRECTIONS
from nas.search.plan import Resources, SearchPlan, load_resources, resolve_plan
from nas.search.settings import SearchSettings, check_shared, saved_settings, shared_settings
from nas.search.storage import NoStudyError, open_storage, study_exists, worker_id
from nas.search.worker import TALLY_ATTR, Tally, Worker, limit_check

POLL_S = 1.0  # how often the coordinator of worker processes reads the study


class NothingScoredError(NasError):
    """A search ended without scoring any candidate (its run folder says what happened)."""


@dataclass
class SearchResult:
    """What a finished (or stopped) search produced."""

    out: Path
    study: str
    storage: str
    metric: Metric
    trains: bool
    rungs: tuple[int, ...]
    target: int
    scored: int
    failed: int
    interrupted: int
    over_budget: int
    duplicates: int
    front: list[TrialRecord]
    stopped_by: str | None
    seconds: float
    cpu_s: float
    workers: int
    report: str | None
    over_limits: int = 0  # proposals within the first budget but over another limit
    limits: list[str] | None = None  # the run's limits besides the first budget, one line each

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` view: each front point has ``score`` and ``metric`` (``accuracy`` only when the
        score is one); counts keep the names of the first versions (``trained``, ``over_budget``)."""
        front = [r.to_point(metric=self.metric.name, is_accuracy=self.metric.is_accuracy) for r in self.front]
        return {"out": str(self.out), "study": self.study, "storage": self.storage,
                "metric": {"name": self.metric.name, "kind": self.metric.kind}, "rungs": list(self.rungs),
                "target": self.target,
                "scored": self.scored, "trained": self.scored if self.trains else 0, "failed": self.failed,
                "interrupted": self.interrupted, "over_budget": self.over_budget, "over_limits": self.over_limits,
                "limits": list(self.limits or []), "duplicates": self.duplicates,
                "front": front, "stopped_by": self.stopped_by, "seconds": round(self.seconds, 1),
                "cpu_s": round(self.cpu_s, 1), "workers": self.workers, "report": self.report}


@dataclass
class OpenRun:
    """Phase 2's result: the study and the run folder's writer."""

    study: Any
    meta: RunMeta
    writer: RunWriter


def run_search(settings: SearchSettings, *, on_event: OnEvent = ignore,
               should_stop: Callable[[], str | None] = lambda: None) -> SearchResult:
    """Search ``settings.space`` for accurate networks within ``settings.budget_ms`` on ``settings.device``.

    Args:
        on_event: receives log lines and status updates.
        should_stop: returns a reason (e.g. ``"SIGINT"``) once the search should stop; workers stop after
            the rung they are training (the candidate is continued on --resume).

    Raises:
        UsageError (and subclasses): bad settings (see ``resolve_plan``), a run folder holding another
            run, --resume without a run or study, a worker joining a study started with other settings.
        StorageError: the storage cannot be opened.
        NothingScoredError: the search ended without scoring a candidate (the run folder is written).
        KeyboardInterrupt: stopped at once (a second signal); the run folder is written first.
    """
    from nas.latency.host import host_notice

    plan, res = resolve_plan(settings, on_event)
    run = open_run(plan, res)
    on_event(SearchEvent(f"study '{plan.settings.study}' in {plan.storage_shown}; run folder {plan.out}; fastest "
                         f"possible {plan.fastest_ms:.4g} ms ({res.table.method}); {plan.settings.workers} worker(s)"))
    notice = host_notice(res.table)
    if notice:
        on_event(SearchEvent(f"note: {notice}"))
    coordinator = Coordinator(plan, run, on_event, trains=res.scorer.trains)
    try:
        stopped_by = optimise(plan, res, coordinator, should_stop)
    except KeyboardInterrupt:
        coordinator.finish()
        raise
    return finish(plan, coordinator, stopped_by)


# -- phase 2 -----------------------------------------------------------------------------------
def open_run(plan: SearchPlan, res: Resources) -> OpenRun:
    """Create (or reopen, on --resume) the run folder and the study; removes what it created on failure."""
    import optuna

    with opening(plan.out):
        storage = open_storage(plan.storage_url)
        optuna.logging.set_verbosity(optuna.logging.ERROR)
        exists = study_exists(storage, plan.settings.study)
        if plan.settings.resume and not exists:
            raise NoStudyError(f"--resume: storage '{plan.storage_shown}' has no study '{plan.settings.study}'")
        if exists and plan.own_storage and not plan.settings.resume:
            # a study in this folder without run.json was created by a start that failed: nothing ran in it
            optuna.delete_study(study_name=plan.settings.study, storage=storage)
            exists = False
        study = optuna.create_study(study_name=plan.settings.study, storage=storage, directions=list(DIRECTIONS),
                                    load_if_exists=True)
        shared = _study_settings(plan, res)
        saved = study.user_attrs.get("nas")
        if saved:
            check_shared(saved, shared, plan.settings.study)
        else:
            study.set_user_attr("nas", {**shared, "seed": plan.settings.seed, "sampler": plan.settings.sampler})
        presets = _price_presets(res)
        if not saved:
            _queue_first(study, plan, res, presets)
        meta = _meta(plan, res)
        write_meta(plan.out, meta)
        keep_space(plan.out, res.space.path)
    writer = RunWriter(plan.out, meta, presets=presets, config_of=res.space.config_from_params, summary_of=summarize)
    return OpenRun(study, meta, writer)


def _study_settings(plan: SearchPlan, res: Resources) -> dict[str, Any]:
    """What a joining worker must match: the shared settings, and what they resolved to (the space's name,
    the table's hash, the rungs)."""
    return {**shared_settings(plan.settings), "space": plan.space, "table_hash": res.table.hash,
            "rungs": list(plan.rungs)}


def _price_presets(res: Resources) -> list[PresetRow]:
    """Every preset of the space with its predicted latency at the space's resolution (None when the
    table lacks one of its blocks)."""
    from nas.latency.predict import predict_latency
    from nas.latency.table import MissingKeysError

    rows = []
    for name in res.space.presets_in_space():
        cfg = res.space.config_from_params(res.space.preset_params(name))
        try:
            latency_ms: float | None = float(predict_latency(cfg, res.table).total_ms)
        except MissingKeysError:
            latency_ms = None
        rows.append(PresetRow(name=name, latency_ms=latency_ms, resolution=cfg.resolution))
    return rows


def _queue_first(study: Any, plan: SearchPlan, res: Resources, presets: list[PresetRow]) -> None:
    """Queue the fastest network of the space (so a budget it fits never yields an empty front), then
    the presets within the budget; each network once."""
    from nas.latency.predict import predict_ms

    queued = [("fastest", "", dict(plan.fastest_params))]
    if plan.settings.enqueue_presets:
        queued += [("preset", p.name, res.space.preset_params(p.name)) for p in presets
                   if p.latency_ms is not None and p.latency_ms <= plan.settings.budget_ms]
    seen: dict[str, int] = {}
    for origin, preset, params in queued:
        cfg = res.space.config_from_params(params)
        arch = arch_id(cfg)
        if arch in seen or (plan.limits.active and limit_check(cfg, predict_ms(cfg, res.table), plan, res)[1]):
            continue
        seen[arch] = 1
        record = TrialRecord(trial=-1, state="WAITING", origin=origin, preset=preset, arch=arch)
        study.enqueue_trial(params, user_attrs={RECORD_ATTR: record.to_attr()})


def _meta(plan: SearchPlan, res: Resources) -> RunMeta:
    s = plan.settings
    session = {"argv": list(s.argv), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "worker": worker_id(),
               "workers": s.workers}
    path = plan.out / RUN_JSON
    if s.resume and path.is_file():
        return replace(read_meta(path), settings=saved_settings(s), trials=s.trials, workers=s.workers,
                       verify=s.verify, report=s.report).with_session(session)
    table = res.table
    return RunMeta(
        study=s.study, storage=plan.storage_shown, budget_ms=s.budget_ms,
        table=TableRef(device=table.device, runtime=table.runtime, method=table.method, hash=table.hash,
                       path=str(table.path) if table.path else None),
        space=plan.space, space_path=plan.space_path, resolutions=s.resolutions, proxy=s.proxy,
        metric=res.scorer.metric, proxy_options=s.proxy_options, rungs=plan.rungs, tables_dir=s.tables_dir,
        data=s.data, sampler=s.sampler, seed=s.seed, trials=s.trials, workers=s.workers,
        train_device=s.train_device, fastest_ms=plan.fastest_ms, argv=s.argv, versions=_versions(),
        created=plan.created, limits=plan.limits, verify=s.verify, report=s.report, settings=saved_settings(s))


def _versions() -> dict[str, str]:
    import optuna
    import torch

    import nas

    return {"nas": nas.__version__, "python": platform.python_version(), "torch": torch.__version__,
            "optuna": optuna.__version__, "platform": platform.platform()}


# -- phase 3 -----------------------------------------------------------------------------------
class Coordinator:
    """Keeps the run folder current from the study and reports progress (one per run folder)."""

    def __init__(self, plan: SearchPlan, run: OpenRun, on_event: OnEvent, *, trains: bool):
        self.plan, self.run, self.on_event, self.trains = plan, run, on_event, trains
        self.follower = StudyFollower(run.study)
        self.census = Census(plan.settings.budget_ms)
        self.started = time.monotonic()
        for frozen in self.follower.poll():
            self.census.update(TrialRecord.from_trial(frozen))
        run.writer.start(self.census.records.values())

    def poll(self) -> None:
        """Read what changed, write the finished trials, report them and the status."""
        finished = []
        for frozen in self.follower.poll():
            record = TrialRecord.from_trial(frozen)
            self.census.update(record)
            if record.state in ("COMPLETE", "FAIL"):
                finished.append(record)
        if not finished:
            return
        self.run.writer.add(finished)
        for record in finished:
            self.on_event(SearchEvent(self._describe(record)))
        self.on_event(SearchEvent(status=self.status()))

    def tallies(self) -> Tally:
        """The workers' tallies summed (every session of the run)."""
        total = Tally()
        for key, value in self.run.study.user_attrs.items():
            if key.startswith(TALLY_ATTR):
                for name in ("proposals", "over_budget", "over_limits", "duplicates", "unpriced", "cpu_s"):
                    setattr(total, name, getattr(total, name) + value.get(name, 0))
                total.stopped_by = total.stopped_by or value.get("stopped_by")
        return total

    def status(self) -> SearchStatus:
        counts, tally, front = self.census.counts(), self.tallies(), self.run.writer.front
        best = max(front, key=lambda r: r.score or 0.0, default=None)
        return SearchStatus(scored=counts.scored, target=self.plan.settings.trials, running=counts.running,
                            failed=counts.failed, interrupted=counts.interrupted, over_budget=tally.over_budget,
                            duplicates=tally.duplicates, front_size=len(front),
                            best_score=best.score if best else None, best_latency_ms=best.latency_ms if best else None,
                            elapsed_s=time.monotonic() - self.started, trains=self.trains,
                            over_limits=tally.over_limits)

    def finish(self) -> None:
        """The last poll and the sorted trials.csv."""
        self.poll()
        self.run.writer.finish(self.census.records.values())

    def _describe(self, r: TrialRecord) -> str:
        name = f" ({r.preset})" if r.preset else " (fastest network)" if r.origin == "fastest" else ""
        if r.scored:
            rungs = len(self.run.meta.rungs)
            at = f" after {r.steps} steps (rung {r.rung + 1}/{rungs})" if rungs > 1 else ""
            return f"trial {r.trial}{name}: score {r.score:.4g}{at}, {r.latency_ms:.3g} ms"
        return f"trial {r.trial}{name}: {r.reason or 'failed'}"


def optimise(plan: SearchPlan, res: Resources, coordinator: Coordinator,
             should_stop: Callable[[], str | None]) -> str | None:
    """Run the plan's workers until the stop policy ends them; returns why they stopped (None: target)."""
    deadline = None if plan.settings.timeout_s is None else time.time() + plan.settings.timeout_s

    def stop_reason() -> str | None:
        if deadline is not None and time.time() >= deadline:
            return f"timeout {plan.settings.timeout_s:g}s"
        return should_stop()

    if plan.settings.workers == 1:
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            tally = Worker(plan, res, should_stop=stop_reason, after_job=coordinator.poll).run()
        finally:
            torch.set_num_threads(threads)
        return tally.stopped_by
    return _optimise_in_processes(plan, coordinator, stop_reason)


def _optimise_in_processes(plan: SearchPlan, coordinator: Coordinator,
                           stop_reason: Callable[[], str | None]) -> str | None:
    ctx = multiprocessing.get_context("spawn")
    stop, results = ctx.Event(), ctx.Queue()
    deadline = None if plan.settings.timeout_s is None else time.time() + plan.settings.timeout_s
    procs = [ctx.Process(target=_worker_process, args=(plan, i, stop, deadline, results, os.getpid()),
                         name=f"nas-worker-{i}") for i in range(plan.settings.workers)]
    for p in procs:
        p.start()
    reason = None
    try:
        while any([p.is_alive() for p in procs]):  # polls (and so reaps) every process
            coordinator.poll()
            if reason is None:
                reason = stop_reason()
                if reason:
                    stop.set()
                    coordinator.on_event(SearchEvent(f"{reason}: stopping after the current rung (send it again "
                                                     "to stop at once)"))
            time.sleep(POLL_S)
    except KeyboardInterrupt:
        for p in procs:
            if p.is_alive():
                p.terminate()  # SIGTERM: the worker records its candidate as interrupted, then exits
        for p in procs:
            p.join(timeout=30)
        raise
    errors, reported = [], set()
    while not results.empty():
        index, tally, error = results.get()
        reported.add(index)
        if error:
            errors.append(f"worker {index}: {error}")
        reason = reason or (tally or {}).get("stopped_by")
    for index, p in enumerate(procs):
        if index not in reported:
            coordinator.on_event(SearchEvent(f"worker {index} ended abruptly (exit code {p.exitcode}); its candidate "
                                             "was continued by another worker, or is on --resume"))
    if errors:
        coordinator.finish()
        raise NasError("; ".join(errors))
    return reason


def _worker_process(plan: SearchPlan, index: int, stop: Any, deadline: float | None, results: Any,
                    parent: int) -> None:
    """Body of a worker process: Ctrl-C is the coordinator's to handle; SIGTERM stops at once, and so does the
    death of the coordinator (even by SIGKILL): the candidate in hand is recorded as interrupted."""
    import torch

    def terminate(*_: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, terminate)
    _die_with(parent)
    torch.set_num_threads(1)

    def stop_reason() -> str | None:
        if os.getppid() != parent:  # where the parent-death signal is not available
            raise KeyboardInterrupt
        if stop.is_set():
            return "stop requested"
        if deadline is not None and time.time() >= deadline:
            return f"timeout {plan.settings.timeout_s:g}s"
        return None

    try:
        tally = Worker(plan, load_resources(plan), index=index, should_stop=stop_reason).run()
        results.put((index, asdict(tally), None))
    except KeyboardInterrupt:
        results.put((index, None, None))
    except NasError as exc:
        results.put((index, None, str(exc)))
    except Exception as exc:  # noqa: BLE001 - reported by the coordinator as one line
        results.put((index, None, f"internal error: {type(exc).__name__}: {exc}"))


def _die_with(parent: int) -> None:
    """Have the kernel send this process SIGTERM when its parent dies (Linux ``prctl(PR_SET_PDEATHSIG)``), so a
    coordinator killed by SIGKILL leaves no worker behind; elsewhere the worker's stop check sees the new
    parent between rungs."""
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # it died before the signal was armed: nothing is in hand yet
        os._exit(1)


# -- phase 4 -----------------------------------------------------------------------------------
def finish(plan: SearchPlan, coordinator: Coordinator, stopped_by: str | None) -> SearchResult:
    """Final writes, the report, the result; raises NothingScoredError when nothing was scored."""
    coordinator.finish()
    tidy(plan.out)
    if plan.settings.verify and coordinator.run.writer.front:
        _verify(plan, coordinator)
    report = _write_report(plan.out, coordinator.on_event) if plan.settings.report else None
    counts, tally = coordinator.census.counts(), coordinator.tallies()
    result = SearchResult(
        out=plan.out, study=plan.settings.study, storage=plan.storage_shown, metric=coordinator.run.meta.metric,
        trains=coordinator.trains, rungs=coordinator.run.meta.rungs, target=plan.settings.trials, scored=counts.scored,
        failed=counts.failed, interrupted=counts.interrupted, over_budget=tally.over_budget,
        duplicates=tally.duplicates,
        front=[with_measured(r, coordinator.run.writer.measured) for r in coordinator.run.writer.front],
        over_limits=tally.over_limits,
        limits=plan.limits.describe(), stopped_by=stopped_by,
        seconds=time.monotonic() - coordinator.started, cpu_s=tally.cpu_s, workers=plan.settings.workers, report=report)
    if counts.scored == 0 and not (stopped_by or "").startswith(("SIG", "stop")):
        why = stopped_by or f"{counts.failed} candidate(s) failed"
        raise NothingScoredError(f"nothing was scored ({why}); the run folder {plan.out} has every trial's reason")
    return result


def _verify(plan: SearchPlan, coordinator: Coordinator) -> None:
    """--verify: measure the front points nearest the budget, write them to measured.json and the folder."""
    from nas.latency.table import load_table
    from nas.run.measured import write_measured
    from nas.search.verify import verify_front

    writer = coordinator.run.writer

    def log(line: str) -> None:
        coordinator.on_event(SearchEvent(line))

    s = plan.settings
    log(f"verifying {min(s.verify, len(writer.front))} front point(s) nearest the budget end to end on this machine")
    measurements = verify_front(writer.front, budget_ms=s.budget_ms, k=s.verify,
                                table=load_table(s.device, s.tables_dir), config_of=writer.config_of, log=log)
    writer.measure(write_measured(plan.out, measurements))
    coordinator.finish()


def _write_report(out: Path, on_event: OnEvent) -> str | None:
    """Write the run's report; returns its path (None, with a log line saying why, when it cannot be)."""
    from nas.report import write_report

    try:
        return str(write_report(out).markdown)
    except NasError as exc:
        on_event(SearchEvent(f"report not written: {exc} (write it later with: nas report {out})"))
        return None
