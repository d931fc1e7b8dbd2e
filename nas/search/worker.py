"""Phase 3 of a search, one worker: take the next job, score it rung by rung, record it in the shared study.

Jobs, in this order: an interrupted candidate to continue (before anything else, also when the trial
target is reached); a queued one (the fastest network of the space, then the presets within the budget);
a new proposal of the sampler. A proposal costs a table lookup; only a new network within the budget
becomes a trial (see ``nas.search.mirror``). A trial is scored at the proxy's rungs while the scheduler
promotes it (``nas.search.scheduler``); between rungs its training state is saved, so a worker that is
stopped or killed leaves it to be continued, not started over.

Several workers (processes, machines) run this loop on one study. Two operations must happen once:
claiming a queued trial (a WAITING -> RUNNING transition that fails for all but one claimant) and
failing an interrupted trial (a RUNNING -> FAIL transition, ditto; the one that succeeds queues its
continuation). Both are atomic in the storage (see ``nas.search.storage``).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nas.config import arch_id
from nas.run.census import Census
from nas.run.folder import states_dir
from nas.run.record import RECORD_ATTR, Rung, TrialRecord
from nas.search.follow import StudyFollower
from nas.search.mirror import CONSTRAINT, Mirror
from nas.search.plan import Resources, SearchPlan
from nas.search.samplers import SAMPLERS, make_sampler, suggest_every_family
from nas.search.scheduler import Bands, RungIndex
from nas.search.storage import dead_local_worker, open_storage, storage_of, worker_id

ALIVE_ATTR = "nas_alive"  # a running trial's last sign of life (seconds since the epoch)
ALIVE_EVERY_S = 20.0
STALE_AFTER_S = 120.0  # a running trial of another host silent this long is taken as interrupted
MAX_REJECTIONS_PER_TRIAL = 50  # proposals over budget or already scored, per trial to score
SYNC_EVERY_S = 1.0  # how often a streak of rejected proposals re-reads the shared study
TALLY_ATTR = "nas_worker:"  # study user attribute prefix: one tally per worker process


@dataclass
class Tally:
    """What one worker did (published in the study, summed over workers for the run's counts)."""

    proposals: int = 0
    over_budget: int = 0
    over_limits: int = 0  # within the first budget's point but over another limit (device, size, confidence)
    duplicates: int = 0
    unpriced: int = 0  # proposals that could not be built or priced (the last error is kept)
    scored: int = 0
    failed: int = 0
    interrupted: int = 0
    cpu_s: float = 0.0
    last_error: str = ""
    stopped_by: str | None = None


@dataclass
class Job:
    """A trial this worker owns: its Optuna trial, its record so far, its config, its mirror proposal."""

    trial: Any
    record: TrialRecord
    cfg: Any
    proposal: Any = None


class Interrupted(Exception):
    """The worker was asked to stop while a candidate could go on (it is continued later)."""


class Worker:
    """One worker process's loop on the shared study of ``plan``.

    Args:
        index: this process's index among the plan's local workers (its sampler stream).
        should_stop: returns a reason to stop (a signal, the timeout), checked between jobs and rungs.
        after_job: called after each job (the in-process coordinator keeps the run folder current).
    """

    def __init__(self, plan: SearchPlan, res: Resources, *, index: int = 0,
                 should_stop: Callable[[], str | None] = lambda: None, after_job: Callable[[], None] | None = None):
        import optuna

        self.plan, self.res, self.index = plan, res, index
        self.should_stop, self.after_job = should_stop, after_job
        self.me = worker_id()
        # the shared study's own sampler only fills the genes a queued trial does not fix
        self.study = optuna.load_study(study_name=plan.settings.study, storage=open_storage(plan.storage_url),
                                       sampler=optuna.samplers.RandomSampler(seed=plan.sampler_seed(index)))
        self.storage, self.study_id = storage_of(self.study)
        self.follower = StudyFollower(self.study)
        self.mirror = Mirror(make_sampler(plan.settings.sampler, seed=plan.sampler_seed(index)))
        self.static_genome = SAMPLERS[plan.settings.sampler].static_genome
        self.census = Census(plan.settings.budget_ms)
        self.rungs = RungIndex(Bands(plan.fastest_ms, plan.settings.budget_ms))
        self.known: dict[str, int] = {}  # network -> the trial that holds it
        self.refused: dict[str, dict[str, float]] = {}  # network over a limit -> its constraint values
        self.scorer = res.scorer
        self.states = states_dir(plan.out)
        self.tally = Tally()
        self._alive: dict[int, float] = {}  # running trial -> its last sign of life
        self._synced = 0.0

    # -- the loop -------------------------------------------------------------------------
    def run(self) -> Tally:
        """Work until the trial target is reached, the sampler runs dry, or ``should_stop`` says so."""
        self._refresh(force=True)
        while True:
            reason = self._stop_reason()
            if reason:
                self.tally.stopped_by = reason
                break
            target_reached = self._target_reached()
            job = self._claim(continuations_only=target_reached)
            if job is None:
                if target_reached:
                    break
                self.tally.stopped_by = self._exhausted()
                if self.tally.stopped_by:
                    break
                job = self._propose()
                if job is None:
                    self._refresh()
                    continue
            self._run_job(job)
            self._publish()
            if self.after_job is not None:
                self.after_job()
            self._refresh(force=True)
        self._publish()
        return self.tally

    def _refresh(self, *, force: bool = False) -> None:
        """Sync with the shared study and recover dead workers' trials (at most every SYNC_EVERY_S
        during a streak of rejected proposals)."""
        if force or time.monotonic() - self._synced > SYNC_EVERY_S:
            self.sync()
            self.recover()

    def sync(self) -> None:
        """Read what changed in the shared study: records, rung scores, known networks, the mirror."""
        for frozen in self.follower.poll():
            record = TrialRecord.from_trial(frozen)
            self.census.update(record)
            self.mirror.observe(frozen)
            if frozen.state.name == "RUNNING":
                alive = frozen.user_attrs.get(ALIVE_ATTR)
                self._alive[record.trial] = float(alive) if alive else self._alive.get(record.trial, time.time())
            else:
                self._alive.pop(record.trial, None)
            if record.arch and record.latency_ms is not None and record.rungs:
                self.rungs.add(record.arch, record.latency_ms, [r.score for r in record.rungs])
            self._know(record)
        self._synced = time.monotonic()

    def _know(self, record: TrialRecord) -> None:
        """Keep ``known`` pointing at the live trial of each network."""
        if not record.arch or record.duplicate_of is not None:
            return
        holder = self.known.get(record.arch)
        if record.interrupted:
            if holder == record.trial:
                del self.known[record.arch]
        elif holder is None or (record.retry_of is not None and holder == record.retry_of):
            self.known[record.arch] = record.trial

    # -- stop policy ----------------------------------------------------------------------
    def _stop_reason(self) -> str | None:
        """Why to stop now: the caller's reason (a signal, the timeout), or this worker's share of the
        plan's CPU budget spent."""
        budget = self.plan.settings.max_cpu_s
        if budget is not None and self.tally.cpu_s >= budget / self.plan.settings.workers:
            return f"compute budget {budget:g} CPU-s spent"
        return self.should_stop()

    def _target_reached(self) -> bool:
        counts = self.census.counts()
        return counts.scored + counts.running >= self.plan.settings.trials

    def _exhausted(self) -> str | None:
        counts, t = self.census.counts(), self.tally
        if t.over_budget + t.over_limits + t.duplicates >= MAX_REJECTIONS_PER_TRIAL * self.plan.settings.trials + 100:
            if t.over_limits:
                return (f"{t.over_budget} proposals over budget, {t.over_limits} over the other limits and "
                        f"{t.duplicates} already scored: the budget and limits are very tight or the networks "
                        "within them are used up")
            return (f"{t.over_budget} proposals over budget and {t.duplicates} already scored: the budget is very "
                    "tight or the networks within it are used up")
        if t.unpriced >= max(10, self.plan.settings.trials) and counts.scored == 0:
            return f"{t.unpriced} proposals could not be built or priced; last: {t.last_error}"
        if counts.failed >= max(10, self.plan.settings.trials) and counts.scored == 0:
            last = max((r for r in self.census.records.values() if r.failed), key=lambda r: r.trial)
            return f"{counts.failed} failed candidates and none scored; last: {last.reason}"
        return None

    # -- jobs -----------------------------------------------------------------------------
    def _claim(self, *, continuations_only: bool) -> Job | None:
        """Claim a queued trial: continuations of interrupted candidates first, then by number."""
        from optuna.exceptions import UpdateFinishedTrialError
        from optuna.trial import Trial, TrialState

        queued = sorted(self.census.waiting, key=lambda n: (self.census.records[n].retry_of is None, n))
        for number in queued:
            record = self.census.records[number]
            if continuations_only and record.retry_of is None:
                continue
            trial_id = self._trial_id(number)
            try:
                if not self.storage.set_trial_state_values(trial_id, TrialState.RUNNING):
                    continue  # another worker claimed it first
            except UpdateFinishedTrialError:
                continue
            trial = Trial(self.study, trial_id)
            trial.set_user_attr(ALIVE_ATTR, time.time())
            job = Job(trial, record.with_(state="RUNNING", worker=self.me), None)
            try:
                if self.static_genome:
                    suggest_every_family(self.res.space, trial)
                job.cfg = self.res.space.sample(trial)
                latency_ms = self._price(job.cfg)
            except Exception as exc:  # noqa: BLE001 - a queued network that cannot be built fails alone
                self._finish(job, job.record.with_(reason=_one_line(f"{type(exc).__name__}: {exc}")), failed=True)
                continue
            job.record = job.record.with_(arch=arch_id(job.cfg), resolution=job.cfg.resolution,
                                          latency_ms=latency_ms, optuna_params=dict(trial.params))
            trial.set_user_attr(RECORD_ATTR, job.record.to_attr())
            try:
                constraints, reasons = self._limits(job.cfg, latency_ms, job.record.arch)
            except Exception as exc:  # noqa: BLE001 - e.g. a further device's table lacks one of its blocks
                self._finish(job, job.record.with_(reason=_one_line(f"{type(exc).__name__}: {exc}")), failed=True)
                continue
            for name, value in constraints.items():
                trial.set_constraint(name, value)
            if reasons:  # a queued network the limits refuse (they were checked when it was queued)
                self._finish(job, job.record.with_(reason="over the limits: " + "; ".join(reasons)), failed=True)
                continue
            holder = self.known.get(job.record.arch)
            if holder is not None and holder not in (number, record.retry_of):
                self._finish_duplicate(job, holder)
                continue
            return job
        return None

    def _propose(self) -> Job | None:
        """Ask the sampler for a network; a new one within the budget becomes a trial, others are told back."""
        from optuna.trial import Trial, TrialState, create_trial

        if time.monotonic() - self._synced > SYNC_EVERY_S:
            self.sync()
        proposal = self.mirror.ask()
        self.tally.proposals += 1
        try:
            if self.static_genome:
                suggest_every_family(self.res.space, proposal)
            cfg = self.res.space.sample(proposal)
            latency_ms = self._price(cfg)
        except Exception as exc:  # noqa: BLE001 - a network that cannot be built or priced is a failed proposal
            self.mirror.tell(proposal, None)
            self.tally.unpriced += 1
            self.tally.last_error = _one_line(f"{type(exc).__name__}: {exc}")
            return None
        if latency_ms > self.plan.settings.budget_ms:
            proposal.set_constraint(CONSTRAINT, latency_ms - self.plan.settings.budget_ms)
            self.mirror.tell(proposal, (0.0, latency_ms))
            self.tally.over_budget += 1
            return None
        arch = arch_id(cfg)
        holder = self.known.get(arch)
        if holder is not None:
            self.mirror.tell(proposal, self._values(holder))
            self.tally.duplicates += 1
            return None
        try:
            constraints, reasons = self._limits(cfg, latency_ms, arch)
        except Exception as exc:  # noqa: BLE001 - e.g. a further device's table lacks one of its blocks
            self.mirror.tell(proposal, None)
            self.tally.unpriced += 1
            self.tally.last_error = _one_line(f"{type(exc).__name__}: {exc}")
            return None
        for name, value in constraints.items():
            proposal.set_constraint(name, value)
        if reasons:
            self.mirror.tell(proposal, (0.0, latency_ms))
            self.tally.over_limits += 1
            return None
        frozen = self.mirror.frozen(proposal)
        record = TrialRecord(trial=-1, state="RUNNING", origin="sampler", arch=arch, latency_ms=latency_ms,
                             resolution=cfg.resolution, worker=self.me, optuna_params=dict(frozen.params))
        template = create_trial(state=TrialState.RUNNING, params=frozen.params, distributions=frozen.distributions,
                                system_attrs=dict(frozen.system_attrs),
                                user_attrs={RECORD_ATTR: record.to_attr(), ALIVE_ATTR: time.time()})
        trial = Trial(self.study, self.storage.create_new_trial(self.study_id, template_trial=template))
        self.mirror.own(trial.number)
        job = Job(trial, record.with_(trial=trial.number), cfg, proposal)
        self.sync()  # two workers may have proposed this network at the same moment: the lower number keeps it
        holder = self.known.get(arch)
        if holder != trial.number:
            self._finish_duplicate(job, holder)
            return None
        return job

    def _trial_id(self, number: int) -> int:
        return self.storage.get_trial_id_from_study_id_trial_number(self.study_id, number)

    def _price(self, cfg: Any, table: Any = None) -> float:
        """The predicted latency of ``cfg`` on ``table`` (default: the run's first device)."""
        from nas.latency.predict import predict_latency

        return float(predict_latency(cfg, table or self.res.table).total_ms)

    def _limits(self, cfg: Any, latency_ms: float, arch: str) -> tuple[dict[str, float], list[str]]:
        """:func:`limit_check` of a network, a refused network's answer remembered. Optuna keeps a trial's first
        value of a constraint, so each is set once, from here."""
        if arch in self.refused:
            return self.refused[arch], ["over the limits (seen before)"]
        constraints, reasons = limit_check(cfg, latency_ms, self.plan, self.res)
        if reasons:
            self.refused[arch] = constraints
        return constraints, reasons

    def _values(self, number: int | None) -> tuple[float, float] | None:
        record = self.census.records.get(number) if number is not None else None
        return (record.score, record.latency_ms) if record is not None and record.scored else None  # type: ignore[return-value]

    # -- scoring --------------------------------------------------------------------------
    def _run_job(self, job: Job) -> None:
        """Score ``job`` rung by rung while the scheduler promotes it; record and finish its trial."""
        state = self.states / f"{job.record.arch}.pt"
        record = job.record
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            with _Alive(self.storage, self._trial_id(record.trial)):
                session = self._open(job, state)
                for k in range(len(record.rungs), len(self.scorer.rungs)):
                    result = session.advance(self.scorer.rungs[k])
                    spent = time.process_time() - cpu
                    self.tally.cpu_s += spent
                    if not result.ok or result.score is None or not math.isfinite(result.score):
                        raise _Failed(result.reason or "the proxy returned no finite score")
                    record = record.with_(rungs=(*record.rungs, Rung(self.scorer.rungs[k], float(result.score), spent)),
                                          seconds=(record.seconds or 0.0) + time.perf_counter() - wall)
                    promoted = k + 1 < len(self.scorer.rungs) and self._promotes(record, k)
                    if promoted:
                        self.states.mkdir(parents=True, exist_ok=True)
                        session.save(state)  # before the record: a saved state is never behind its record
                    job.trial.set_user_attr(RECORD_ATTR, record.to_attr())
                    if not promoted:
                        break
                    reason = self._stop_reason()
                    if reason:
                        raise Interrupted(f"interrupted after rung {k + 1} ({reason})")
                    wall, cpu = time.perf_counter(), time.process_time()
        except _Failed as exc:
            self._finish(job, record.with_(reason=_one_line(str(exc))), failed=True)
        except Interrupted as exc:
            self._interrupt(job, record, str(exc))
        except KeyboardInterrupt:
            self._interrupt(job, record, "interrupted (stopped at once)")
            raise
        except Exception as exc:  # noqa: BLE001 - a proxy error fails the candidate, not the search
            self._finish(job, record.with_(reason=_one_line(f"proxy error: {type(exc).__name__}: {exc}")), failed=True)
        else:
            self._finish(job, record, failed=False)
            state.unlink(missing_ok=True)

    def _open(self, job: Job, state: Path) -> Any:
        """A scoring session for ``job``: a continuation resumes from the state saved at its last rung
        (when that state is here and still fits; else it trains from the start to its next rung)."""
        from nas.proxy import StateError, StateMismatchError

        if job.record.rungs and state.is_file():
            try:
                return self.scorer.open(job.cfg, state=state)
            except (StateError, StateMismatchError):
                pass
        return self.scorer.open(job.cfg)

    def _promotes(self, record: TrialRecord, rung: int) -> bool:
        self.sync()  # decide with every worker's results at this rung
        return self.rungs.promotes(record.arch, record.latency_ms or 0.0, rung, record.rungs[rung].score)

    def _finish(self, job: Job, record: TrialRecord, *, failed: bool) -> None:
        from optuna.trial import TrialState

        if failed:
            job.trial.set_user_attr(RECORD_ATTR, record.with_(state="FAIL").to_attr())
            self.study.tell(job.trial, state=TrialState.FAIL)
            if job.proposal is not None:
                self.mirror.tell(job.proposal, None)
            self.tally.failed += 1
            return
        try:
            from nas.models.stats import network_stats

            params, macs = network_stats(job.cfg)
        except Exception as exc:  # noqa: BLE001 - counting is informative only; the score stands
            params = macs = None
            record = record.with_(reason=_one_line(f"params/MACs not counted: {type(exc).__name__}: {exc}"))
        record = record.with_(params=params, macs=macs, **self._latency_facts(job.cfg, params, macs))
        job.trial.set_user_attr(RECORD_ATTR, record.to_attr())
        values = (record.rungs[-1].score, record.latency_ms)
        self.study.tell(job.trial, list(values))
        if job.proposal is not None:
            self.mirror.tell(job.proposal, values)  # type: ignore[arg-type]
        self.tally.scored += 1

    def _latency_facts(self, cfg: Any, params: int | None, macs: int | None) -> dict[str, Any]:
        """A scored network's latency interval (at the run's confidence, else 0.9), its chance of fitting the
        budget, where it lies outside the table's evidence, and its latency on every further device."""
        from nas.latency.interval import DEFAULT_LEVEL, estimate_latency

        level = self.plan.limits.confidence or DEFAULT_LEVEL
        stats = None if params is None or macs is None else (params, macs)
        facts: dict[str, Any] = {"device_latencies": {d: round(self._price(cfg, t), 6)
                                                      for d, t in self.res.tables.items()}}
        try:
            est = estimate_latency(cfg, self.res.table, level=level, stats=stats)
        except Exception:  # noqa: BLE001 - the interval is informative; the score and its point latency stand
            return facts
        return {**facts, "latency_low_ms": round(est.low_ms, 6), "latency_high_ms": round(est.high_ms, 6),
                "latency_level": level, "budget_chance": round(est.chance_within(self.plan.settings.budget_ms), 4),
                "latency_outside": est.outside}

    def _finish_duplicate(self, job: Job, holder: int | None) -> None:
        from optuna.trial import TrialState

        record = job.record.with_(duplicate_of=holder, reason=f"duplicate of trial {holder}: not scored again")
        job.trial.set_user_attr(RECORD_ATTR, record.to_attr())
        self.study.tell(job.trial, state=TrialState.FAIL)
        if job.proposal is not None:
            self.mirror.tell(job.proposal, self._values(holder))
        self.tally.duplicates += 1

    def _interrupt(self, job: Job, record: TrialRecord, reason: str) -> None:
        """Stop ``job`` here: FAIL it as interrupted and queue its continuation (from its saved rung)."""
        from optuna.trial import TrialState

        job.trial.set_user_attr(RECORD_ATTR, record.with_(reason=reason).to_attr())
        self.study.tell(job.trial, state=TrialState.FAIL)
        if job.proposal is not None:
            self.mirror.tell(job.proposal, None)
        queue_continuation(self.study, record)
        self.tally.interrupted += 1

    # -- interrupted trials of other workers ------------------------------------------------
    def recover(self) -> None:
        """Fail the running trials of dead workers (once, study-wide) and queue their continuations."""
        from optuna.exceptions import UpdateFinishedTrialError
        from optuna.trial import TrialState

        now, recovered = time.time(), False
        for number in list(self.census.running):
            record = self.census.records[number]
            if record.worker == self.me:
                continue
            dead = dead_local_worker(record.worker) if record.worker else False
            if not (dead or now - self._alive.get(number, now) > STALE_AFTER_S):
                continue
            trial_id = self._trial_id(number)
            if not record.optuna_params:  # claimed, then killed before its network was chosen
                fixed = self.storage.get_trial_system_attrs(trial_id).get("fixed_params") or {}
                record = record.with_(optuna_params=dict(fixed))
            why = f"interrupted: worker {record.worker or '?'} {'died' if dead else 'fell silent'}"
            try:
                self.storage.set_trial_user_attr(trial_id, RECORD_ATTR, record.with_(reason=why).to_attr())
                won = self.storage.set_trial_state_values(trial_id, TrialState.FAIL)
            except UpdateFinishedTrialError:
                continue  # another worker recovered it first
            if won:
                queue_continuation(self.study, record)
                recovered = True
        if recovered:
            self.sync()

    def _publish(self) -> None:
        self.study.set_user_attr(f"{TALLY_ATTR}{self.me}", asdict(self.tally))


def limit_check(cfg: Any, latency_ms: float, plan: SearchPlan, res: Resources) -> tuple[dict[str, float], list[str]]:
    """The constraint values of a network whose first-device prediction is ``latency_ms`` (the budget, and the
    run's Limits: further devices, sizes, the confidence) and why it does not fit (empty: it does)."""
    limits, budget_ms = plan.limits, plan.settings.budget_ms
    if not limits.active:
        return {CONSTRAINT: latency_ms - budget_ms}, []
    from nas.latency.interval import estimate_latency
    from nas.latency.predict import predict_ms
    from nas.models.stats import planned_stats

    counted = limits.needs_counts or limits.confidence is not None
    params, macs = planned_stats(cfg) if counted else (None, None)

    def latency(table: Any, point_ms: float | None = None) -> float:
        if limits.confidence is None:
            return predict_ms(cfg, table) if point_ms is None else point_ms
        return estimate_latency(cfg, table, level=limits.confidence, stats=(params, macs)).high_ms

    first = latency(res.table, latency_ms)
    latencies = {d.device: latency(res.tables[d.device]) for d in limits.devices}
    constraints = {CONSTRAINT: first - budget_ms, **limits.excess(params=params, macs=macs, latencies=latencies)}
    reasons = limits.reasons(params=params, macs=macs, latencies=latencies)
    if first > budget_ms:
        reasons.insert(0, f"upper end {first:.3g} ms of its {limits.confidence:.0%} interval > {budget_ms:g} ms")
    return constraints, reasons


class _Failed(Exception):
    """The proxy could not score the candidate (its reason is the message)."""


def queue_continuation(study: Any, record: TrialRecord) -> None:
    """Queue the interrupted ``record``'s candidate to be continued from its last scored rung."""
    retry = TrialRecord(trial=-1, state="WAITING", origin="retry", arch=record.arch, latency_ms=record.latency_ms,
                        resolution=record.resolution, preset=record.preset, rungs=record.rungs,
                        retry_of=record.trial)
    study.enqueue_trial(dict(record.optuna_params), user_attrs={RECORD_ATTR: retry.to_attr()})


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]


class _Alive:
    """While a trial is scored, a thread renews its sign of life every ALIVE_EVERY_S seconds."""

    def __init__(self, storage: Any, trial_id: int):
        self.storage, self.trial_id = storage, trial_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)

    def __enter__(self) -> _Alive:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(ALIVE_EVERY_S):
            try:
                self.storage.set_trial_user_attr(self.trial_id, ALIVE_ATTR, time.time())
            except Exception:  # noqa: BLE001 - the trial finished meanwhile, or the storage hiccupped
                return
