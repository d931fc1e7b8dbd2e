"""Phase 1 of a search: turn what was asked (``SearchSettings``) into a checked, immutable ``SearchPlan``.

Every setting is resolved here, including what ``--resume`` restores from the run's run.json, and every
input is checked (space, table, budget, proxy and its options, data, seed, run folder), so that a search
that cannot run fails before it creates anything. Nothing is written in this phase.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from nas.errors import UsageError
from nas.run.limits import DeviceBudget, LimitError, Limits
from nas.run.meta import RunMeta
from nas.search.events import OnEvent, SearchEvent, ignore
from nas.search.fidelity import Scorer
from nas.search.settings import SearchSettings, StudyMismatchError, restore
from nas.space import DEFAULT_SPACE

# Candidates to score by default, by what scoring one costs (a training proxy's rungs, or one forward pass
# of a training-free one): the default search, one worker per core, finishes within 10 minutes on a
# 2-core CPU (measured: README "Search").
DEFAULT_TRIALS_TRAINING = 40
DEFAULT_TRIALS_TRAINING_FREE = 300
SEED_MAX = 2**32 - 1  # numpy's and Optuna's samplers take 32-bit seeds


class RunExistsError(UsageError):
    """A new search was pointed at a folder that already holds a run."""


@dataclass(frozen=True)
class SearchPlan:
    """A resolved search: plain data (it travels to worker processes), checked, never changed.

    ``settings`` is what was asked, every default filled in; the other fields are derived from it.
    """

    settings: SearchSettings
    storage_url: str  # may hold a password: never written or shown (see storage_shown)
    storage_shown: str
    own_storage: bool  # the run folder's study.db (not a --storage URL shared with other runs)
    limits: Limits  # further devices, size limits, confidence
    fastest_ms: float
    fastest_params: dict[str, Any]
    space: str  # the space's name (settings.space is what load_space reads: a shipped name or a YAML path)
    space_path: str | None
    rungs: tuple[int, ...]  # training steps of each rung ((0,) for a training-free proxy)
    created: str
    session: int  # 0 for a new run, then 1, 2... for each --resume

    @property
    def out(self) -> Path:
        """The run folder."""
        assert self.settings.out is not None
        return Path(self.settings.out)

    def sampler_seed(self, worker: int) -> int:
        """The sampler seed of this machine's local worker ``worker``: one stream per machine (--worker),
        local worker and session, so a resumed run does not propose its first session's networks again."""
        s = self.settings
        return (s.seed + 1000 * s.worker_index + worker + 1_000_003 * self.session) % (SEED_MAX + 1)


@dataclass
class Resources:
    """The loaded objects a plan names (each process loads its own: ``load_resources``)."""

    space: Any
    table: Any
    data: Any
    scorer: Scorer
    tables: dict[str, Any] = field(default_factory=dict)  # the further devices' tables, by device


def default_workers() -> int:
    """The cores this process may run on (``taskset`` and cgroups included)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def resolve_plan(settings: SearchSettings, on_event: OnEvent = ignore) -> tuple[SearchPlan, Resources]:
    """Check ``settings``, fill in defaults and what ``--resume`` restores; load what the plan names.

    Raises:
        UsageError (and subclasses): a bad value, unknown name, a budget below the fastest network, a run
            folder that holds another run, a --resume with nothing to resume or other settings.
        RunFolderError: --resume on a run folder whose run.json cannot be read.
        NasError: the data or the latency table cannot be read.
    """
    from nas.latency.extend import reporting
    from nas.latency.predict import predict_ms
    from nas.latency.table import load_table
    from nas.proxy import DEFAULT_DATA, DEFAULT_PROXY, get_proxy, load_dataset, resolve_train_device
    from nas.search.budget import BudgetError, format_ms
    from nas.search.samplers import DEFAULT_SAMPLER, SAMPLERS
    from nas.search.storage import default_storage_url, redact
    from nas.space import load_space
    from nas.space_members import fastest_member

    s = settings
    meta = None
    if s.resume:
        s, meta = _restore(s)
    _check_numbers(s)
    if s.out is not None:
        _check_out(Path(s.out), resume=s.resume)
    for name in ("device", "budget_ms"):
        if getattr(s, name) is None:
            flag = "--budget" if name == "budget_ms" else "--device"
            raise UsageError(f"{flag} is required (e.g. nas search --device iphone12 --budget 5ms)")
    s = s.replace(proxy=s.proxy or DEFAULT_PROXY, sampler=s.sampler or DEFAULT_SAMPLER)
    SAMPLERS[s.sampler]  # an unknown name raises, listing the known ones
    proxy = get_proxy(s.proxy, **(s.proxy_options or {}))  # checks the name and the options, in one line
    device = str(resolve_train_device(s.train_device))
    table = load_table(s.device, s.tables_dir)
    space_ref = str(s.space or DEFAULT_SPACE)
    space = load_space(space_ref)
    if s.resolutions:
        space = space.at_resolution(*s.resolutions)
    with reporting(lambda line: on_event(SearchEvent(line))):  # an estimated table may price new blocks first
        fastest_ms, fastest_params = fastest_member(space, partial(predict_ms, table=table), cost_id=table.hash)
    assert s.budget_ms is not None
    if s.budget_ms < fastest_ms:
        raise BudgetError(
            f"budget {format_ms(s.budget_ms)} is below the fastest network of space '{space.name}' on "
            f"'{table.device}' ({fastest_ms:.4g} ms, {table.method}); use --budget "
            f"{math.ceil(fastest_ms * 100) / 100:g}ms or more")
    limits, tables = _resolve_limits(s, table, space, fastest_params, on_event)
    verify = _check_verify(s.verify, table)
    seed = 0 if s.seed is None else s.seed
    data_spec = s.data or DEFAULT_DATA
    data = load_dataset(data_spec, seed=seed)
    multi_fidelity = proxy.trains and (True if s.multi_fidelity is None else s.multi_fidelity)  # rungs of training
    scorer = Scorer(proxy, data, seed=seed, device=device, multi_fidelity=multi_fidelity)
    trials = s.trials or (DEFAULT_TRIALS_TRAINING if proxy.trains else DEFAULT_TRIALS_TRAINING_FREE)
    workers = s.workers or default_workers()
    if workers > default_workers() and device == "cpu":
        on_event(SearchEvent(f"note: --workers {workers} is more than the {default_workers()} core(s) this process "
                             f"may use; {default_workers()} worker(s) run (more would only share the cores)"))
        workers = default_workers()
    out = Path(s.out) if s.out else \
        Path("runs") / f"{dt.datetime.now():%Y%m%d-%H%M%S}-{table.device}-{format_ms(s.budget_ms)}"
    url = s.storage or default_storage_url(out)
    resolved = s.replace(
        device=table.device, budget_ms=float(s.budget_ms), also=tuple((d.device, d.budget_ms) for d in limits.devices),
        precision=limits.precision, confidence=limits.confidence, verify=verify, space=space_ref,
        resolutions=tuple(s.resolutions or ()), trials=trials, proxy_options=dict(proxy.options), data=data_spec,
        seed=seed, study=s.study or f"nas-{table.device}-{format_ms(s.budget_ms)}", out=out, workers=workers,
        train_device=device, multi_fidelity=multi_fidelity, report=True if s.report is None else s.report,
        argv=tuple(s.argv))
    plan = SearchPlan(
        settings=resolved, storage_url=url, storage_shown=redact(url), own_storage=s.storage is None, limits=limits,
        fastest_ms=float(fastest_ms), fastest_params=dict(fastest_params), space=space.name,
        space_path=str(space.path) if space.path else None, rungs=scorer.rungs,
        created=meta.created if meta else dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        session=len(meta.sessions) + 1 if meta else 0)
    if meta is not None:
        _check_same(meta, plan, table)
    return plan, Resources(space=space, table=table, data=data, scorer=scorer, tables=tables)


def load_resources(plan: SearchPlan) -> Resources:
    """The space, table, proxy and data of ``plan`` (in a worker process)."""
    from nas.latency.table import load_table
    from nas.proxy import get_proxy, load_dataset
    from nas.space import load_space

    s = plan.settings
    data = load_dataset(s.data, seed=s.seed)
    scorer = Scorer(get_proxy(s.proxy, **s.proxy_options), data, seed=s.seed, device=s.train_device,
                    multi_fidelity=s.multi_fidelity)
    space = load_space(s.space)
    if s.resolutions:
        space = space.at_resolution(*s.resolutions)
    tables = {d.device: load_table(d.device, s.tables_dir) for d in plan.limits.devices}
    return Resources(space=space, table=load_table(s.device, s.tables_dir), data=data, scorer=scorer, tables=tables)


def _resolve_limits(s: SearchSettings, table: Any, space: Any, fastest_params: dict[str, Any],
                    on_event: OnEvent) -> tuple[Limits, dict[str, Any]]:
    """The run's Limits and the further devices' tables; refuses a device given twice, a budget below a
    device's fastest network and a size limit no network of the space meets (naming the smallest it reaches)."""
    from nas.latency.extend import reporting
    from nas.latency.interval import check_level
    from nas.latency.predict import predict_ms
    from nas.latency.table import load_table
    from nas.search.budget import BudgetError, format_ms
    from nas.space_members import fastest_member

    confidence = None if s.confidence is None else check_level(s.confidence, flag="--confidence")
    seen, tables, devices = {table.device}, {}, []
    for device, budget_ms in s.also or ():
        other = load_table(device, s.tables_dir)
        if other.device in seen:
            raise LimitError(f"--device {device} is given twice; give each device once, each with its --budget")
        seen.add(other.device)
        with reporting(lambda line: on_event(SearchEvent(line))):
            fastest_ms, _ = fastest_member(space, partial(predict_ms, table=other), cost_id=other.hash)
        if budget_ms < fastest_ms:
            raise BudgetError(
                f"budget {format_ms(budget_ms)} on '{other.device}' is below the fastest network of space "
                f"'{space.name}' there ({fastest_ms:.4g} ms, {other.method}); use --budget "
                f"{math.ceil(fastest_ms * 100) / 100:g}ms or more for --device {device}")
        tables[other.device] = other
        devices.append(DeviceBudget(other.device, float(budget_ms), other.hash, other.method))
    limits = Limits(max_params=s.max_params, max_macs=s.max_macs, max_size_mb=s.max_size_mb,
                    precision=s.precision or Limits.precision, confidence=confidence, devices=tuple(devices))
    if limits.needs_counts:
        _check_reachable(limits, space, fastest_params, on_event)
    return limits, tables


def _check_reachable(limits: Limits, space: Any, fastest_params: dict[str, Any], on_event: OnEvent) -> None:
    """A size limit the fastest network meets is reachable; else the smallest network of the space by that
    count is found (exact, cached per space) and the limit refused when even it is over."""
    from nas.models.stats import planned_stats
    from nas.space_members import fastest_member

    params, macs = planned_stats(space.config_from_params(fastest_params))
    if not limits.reasons(params=params, macs=macs):
        return
    checks = (("--max-params", limits.max_params, 0, lambda n: n, lambda n: f"{n / 1e6:.3g}M", "parameters"),
              ("--max-macs", limits.max_macs, 1, lambda n: n, lambda n: f"{n / 1e6:.4g}M", "MACs"),
              ("--max-size-mb", limits.max_size_mb, 0, limits.size_mb, lambda n: f"{n:.3g}",
               f"MB of {limits.precision} weights"))
    for flag, limit, index, value_of, shown, unit in checks:
        if limit is None or value_of((params, macs)[index]) <= limit:
            continue
        on_event(SearchEvent(f"finding the smallest network of space '{space.name}' by {unit} (once per space)"))
        smallest, _ = fastest_member(space, lambda cfg, i=index: float(planned_stats(cfg)[i]),
                                     cost_id=("params" if index == 0 else "macs") + "-count-v1")
        if value_of(smallest) > limit:
            raise LimitError(f"{flag} {shown(limit) if flag != '--max-size-mb' else f'{limit:g}'}: no network of "
                             f"space '{space.name}' is that small; the smallest has {shown(value_of(smallest))} "
                             f"{unit}; use {flag} {shown(value_of(smallest))} or more")


def _check_verify(verify: int | None, table: Any) -> int:
    """--verify K: at least 1, and on a device whose runtime this machine can time."""
    from nas.latency.measure import timing_backend

    if verify is not None and verify < 0:
        raise UsageError(f"--verify must be 1 or more (front points to measure), got {verify}")
    if not verify:
        return 0
    timing_backend(table, role="--verify's device", instead="for a phone: nas export RUN --front --format coreml "
                   "--out DIR, time the models on it, then nas report RUN --timings DIR/timings.csv")
    return int(verify)


def _check_numbers(s: SearchSettings) -> None:
    if s.seed is not None and not 0 <= s.seed <= SEED_MAX:
        raise UsageError(f"--seed must be between 0 and {SEED_MAX}, got {s.seed}")
    if s.worker_index < 0:
        raise UsageError(f"--worker must be 0 or more (this worker's index among a study's workers), "
                         f"got {s.worker_index}")
    if s.trials is not None and s.trials <= 0:
        raise UsageError(f"--trials must be at least 1, got {s.trials}")
    if s.workers is not None and s.workers <= 0:
        raise UsageError(f"--workers must be at least 1, got {s.workers}")


def _check_out(out: Path, *, resume: bool) -> None:
    """The run folder can be created (or, on resume, is a run); a new search never reuses a run's folder."""
    from nas.run.folder import RUN_JSON

    if out.exists() and not out.is_dir():
        raise UsageError(f"--out '{out}' is a file; give a folder for the run")
    ancestor = out
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise UsageError(f"--out '{out}': '{ancestor}' is a file, so the folder cannot be created")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise UsageError(f"--out '{out}': cannot write in '{ancestor}' (permission denied)")
    if not resume and (out / RUN_JSON).is_file():
        from nas.run.meta import read_meta

        try:
            meta = read_meta(out / RUN_JSON)
            what = f" ({meta.device}, {meta.budget_ms:g} ms, {meta.proxy}, started {meta.created})"
        except Exception:  # noqa: BLE001 - only the description is lost
            what = ""
        raise RunExistsError(f"'{out}' already holds a search run{what}; continue it with nas search --resume "
                             f"--out {out}, or give another --out")


def _restore(s: SearchSettings) -> tuple[SearchSettings, RunMeta | None]:
    """--resume: ``s`` with every setting not given again taken from the run's run.json, and its RunMeta."""
    from nas.run.folder import RUN_JSON
    from nas.run.meta import read_meta
    from nas.search.storage import NoStudyError

    if s.out is None:
        if s.storage is None:
            raise UsageError("--resume needs the run folder: nas search --resume --out RUN_DIR")
        return s, None
    if not (Path(s.out) / RUN_JSON).is_file():
        if s.storage is not None:
            return s, None
        raise NoStudyError(f"--resume: no run to resume in '{s.out}' (no run.json); start it without --resume")
    meta = read_meta(Path(s.out) / RUN_JSON)
    saved = dict(meta.settings or legacy_settings(meta))
    copy = Path(s.out) / "space.yaml"
    if copy.is_file():  # the run's own copy of its space file, even if the original changed or moved
        saved["space"] = str(copy)
    if s.tables_dir is None and saved.get("tables_dir") and not Path(saved["tables_dir"]).is_dir():
        raise UsageError(f"--resume: this run read its latency table from --tables {saved['tables_dir']}, which "
                         f"is gone; pass --tables DIR with the table of device '{meta.device}'")
    if s.storage is None and not meta.storage.startswith("sqlite") and meta.storage:
        raise UsageError(f"--resume: this run's study is in {meta.storage}; pass --storage URL (with its password)")
    return restore(s, saved), meta


def legacy_settings(meta: RunMeta) -> dict[str, Any]:
    """What a run.json written before it kept ``settings`` says of them (its flat fields)."""
    limits = meta.limits
    return {"device": meta.device, "budget_ms": meta.budget_ms, "proxy": meta.proxy, "data": meta.data,
            "seed": meta.seed, "proxy_options": dict(meta.proxy_options), "max_params": limits.max_params,
            "max_macs": limits.max_macs, "max_size_mb": limits.max_size_mb, "precision": limits.precision,
            "confidence": limits.confidence, "also": [[d.device, d.budget_ms] for d in limits.devices],
            "verify": meta.verify, "report": meta.report, "space": meta.space_path or meta.space,
            "resolutions": list(meta.resolutions), "sampler": meta.sampler, "study": meta.study,
            "trials": meta.trials, "train_device": meta.train_device,
            "multi_fidelity": len(meta.rungs) > 1 or not meta.rungs, "tables_dir": meta.tables_dir}


def _check_same(meta: RunMeta, plan: SearchPlan, table: Any) -> None:
    """A resumed run keeps the table it started with (a changed table would mix two pricings)."""
    if meta.table.hash and meta.table.hash != table.hash:
        raise StudyMismatchError(f"--resume: the latency table of '{plan.settings.device}' changed since this run "
                                 f"started (hash {meta.table.hash} then, {table.hash} now); start a new run with "
                                 "another --out")
