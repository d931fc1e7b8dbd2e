"""Phase 1 of a search: turn what was asked (``SearchSettings``) into a checked, immutable ``SearchPlan``.

Every setting is resolved here, including what ``--resume`` restores from the run's run.json, and every
input is checked (space, table, budget, proxy and its options, data, seed, run folder), so that a search
that cannot run fails before it creates anything. Nothing is written in this phase.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import os
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from nas.errors import UsageError
from nas.run.meta import RunMeta
from nas.search.events import OnEvent, SearchEvent, ignore
from nas.search.fidelity import Scorer
from nas.space import DEFAULT_SPACE

# Candidates to score by default, by what scoring one costs (a training proxy's rungs, or one forward pass
# of a training-free one): the default search, one worker per core, finishes within 10 minutes on a
# 2-core CPU (measured: README "Search").
DEFAULT_TRIALS_TRAINING = 40
DEFAULT_TRIALS_TRAINING_FREE = 300
SEED_MAX = 2**32 - 1  # numpy's and Optuna's samplers take 32-bit seeds
# settings that define a run: a resumed run or a joining worker must have the same
SHARED_SETTINGS = ("device", "budget_ms", "space", "resolutions", "proxy", "proxy_options", "data", "table_hash",
                   "rungs")


class StudyMismatchError(UsageError):
    """A resumed run or a joining worker was given settings other than the run's."""


class RunExistsError(UsageError):
    """A new search was pointed at a folder that already holds a run."""


@dataclass
class SearchSettings:
    """What a caller asks for. ``None`` means: the default, or on ``resume`` what the run was started with."""

    device: str | None = None
    budget_ms: float | None = None
    space: str | None = None
    resolutions: tuple[int, ...] | None = None  # deploy resolution(s) instead of the space's own
    trials: int | None = None
    timeout_s: float | None = None
    proxy: str | None = None
    proxy_options: dict[str, Any] | None = None
    data: str | None = None
    sampler: str | None = None
    seed: int | None = None
    storage: str | None = None
    study: str | None = None
    out: Path | None = None
    resume: bool = False
    tables_dir: str | None = None
    worker_index: int = 0
    workers: int | None = None
    train_device: str | None = None
    multi_fidelity: bool | None = None
    max_cpu_s: float | None = None  # stop once the workers spent this many CPU seconds scoring (benchmarks)
    report: bool = True
    enqueue_presets: bool = True  # the benchmark turns it off to compare samplers alone
    argv: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SearchPlan:
    """A resolved search: plain data (it travels to worker processes), checked, never changed."""

    out: Path
    study: str
    storage_url: str  # may hold a password: never written or shown (see storage_shown)
    storage_shown: str
    own_storage: bool  # the run folder's study.db (not a --storage URL shared with other runs)
    resume: bool
    device: str
    tables_dir: str | None
    budget_ms: float
    fastest_ms: float
    fastest_params: dict[str, Any]
    space: str
    space_ref: str  # what load_space reads: a shipped name or a YAML path
    space_path: str | None
    resolutions: tuple[int, ...]  # --resolution (searched over when several); () = the space's own
    trials: int
    timeout_s: float | None
    max_cpu_s: float | None
    proxy: str
    proxy_options: dict[str, Any]
    data: str
    sampler: str
    seed: int
    worker_index: int
    workers: int
    train_device: str  # a torch device name: cpu, cuda, cuda:1, mps
    multi_fidelity: bool
    rungs: tuple[int, ...]  # training steps of each rung ((0,) for a training-free proxy)
    enqueue_presets: bool
    report: bool
    argv: tuple[str, ...]
    created: str
    session: int  # 0 for a new run, then 1, 2... for each --resume

    def sampler_seed(self, worker: int) -> int:
        """The sampler seed of this machine's local worker ``worker``: one stream per machine (--worker),
        local worker and session, so a resumed run does not propose its first session's networks again."""
        return (self.seed + 1000 * self.worker_index + worker + 1_000_003 * self.session) % (SEED_MAX + 1)


@dataclass
class Resources:
    """The loaded objects a plan names (each process loads its own: ``load_resources``)."""

    space: Any
    table: Any
    data: Any
    scorer: Scorer


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

    s = dataclasses.replace(settings)
    meta = _restore(s) if s.resume else None
    _check_numbers(s)
    out = Path(s.out) if s.out else None
    if out is not None:
        _check_out(out, resume=s.resume)
    for name in ("device", "budget_ms"):
        if getattr(s, name) is None:
            flag = "--budget" if name == "budget_ms" else "--device"
            raise UsageError(f"{flag} is required (e.g. nas search --device iphone12 --budget 5ms)")
    s.proxy = s.proxy or DEFAULT_PROXY
    s.sampler = s.sampler or DEFAULT_SAMPLER
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
    s.data = s.data or DEFAULT_DATA
    seed = 0 if s.seed is None else s.seed
    data = load_dataset(s.data, seed=seed)
    multi_fidelity = True if s.multi_fidelity is None else s.multi_fidelity
    scorer = Scorer(proxy, data, seed=seed, device=device, multi_fidelity=multi_fidelity)
    trials = s.trials or (DEFAULT_TRIALS_TRAINING if proxy.trains else DEFAULT_TRIALS_TRAINING_FREE)
    out = out or Path("runs") / f"{dt.datetime.now():%Y%m%d-%H%M%S}-{table.device}-{format_ms(s.budget_ms)}"
    url = s.storage or default_storage_url(out)
    plan = SearchPlan(
        out=out, study=s.study or f"nas-{table.device}-{format_ms(s.budget_ms)}", storage_url=url,
        storage_shown=redact(url), own_storage=s.storage is None, resume=s.resume, device=table.device,
        tables_dir=s.tables_dir, budget_ms=float(s.budget_ms), fastest_ms=float(fastest_ms),
        fastest_params=dict(fastest_params), space=space.name, space_ref=space_ref,
        space_path=str(space.path) if space.path else None, resolutions=tuple(s.resolutions or ()), trials=trials,
        timeout_s=s.timeout_s, max_cpu_s=s.max_cpu_s, proxy=s.proxy, proxy_options=dict(proxy.options), data=s.data,
        sampler=s.sampler, seed=seed, worker_index=s.worker_index, workers=s.workers or default_workers(),
        train_device=device, multi_fidelity=multi_fidelity, rungs=scorer.rungs, enqueue_presets=s.enqueue_presets,
        report=s.report, argv=tuple(s.argv),
        created=meta.created if meta else dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        session=len(meta.sessions) + 1 if meta else 0)
    if meta is not None:
        _check_same(meta, plan, table)
    return plan, Resources(space=space, table=table, data=data, scorer=scorer)


def load_resources(plan: SearchPlan) -> Resources:
    """The space, table, proxy and data of ``plan`` (in a worker process)."""
    from nas.latency.table import load_table
    from nas.proxy import get_proxy, load_dataset
    from nas.space import load_space

    data = load_dataset(plan.data, seed=plan.seed)
    scorer = Scorer(get_proxy(plan.proxy, **plan.proxy_options), data, seed=plan.seed, device=plan.train_device,
                    multi_fidelity=plan.multi_fidelity)
    space = load_space(plan.space_ref)
    if plan.resolutions:
        space = space.at_resolution(*plan.resolutions)
    return Resources(space=space, table=load_table(plan.device, plan.tables_dir), data=data, scorer=scorer)


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


def _restore(s: SearchSettings) -> RunMeta | None:
    """--resume: the RunMeta of the run, with every setting not given again taken from it."""
    from nas.run.folder import RUN_JSON
    from nas.run.meta import read_meta
    from nas.search.storage import NoStudyError

    if s.out is None:
        if s.storage is None:
            raise UsageError("--resume needs the run folder: nas search --resume --out RUN_DIR")
        return None
    if not (Path(s.out) / RUN_JSON).is_file():
        if s.storage is not None:
            return None
        raise NoStudyError(f"--resume: no run to resume in '{s.out}' (no run.json); start it without --resume")
    meta = read_meta(Path(s.out) / RUN_JSON)
    given = {"device": (s.device, meta.device), "budget": (s.budget_ms, meta.budget_ms),
             "proxy": (s.proxy, meta.proxy), "data": (s.data, meta.data), "seed": (s.seed, meta.seed),
             **{f"proxy-opt {k}": (v, meta.proxy_options.get(k)) for k, v in (s.proxy_options or {}).items()}}
    for flag, (value, saved) in given.items():
        if value is not None and value != saved:
            raise StudyMismatchError(f"--resume: this run was started with --{flag} {saved!r}, not {value!r}; "
                                     f"drop --{flag.split()[0]}, or start a new run with another --out")
    copy = Path(s.out) / "space.yaml"
    s.device, s.budget_ms, s.proxy, s.data = meta.device, meta.budget_ms, meta.proxy, meta.data
    s.proxy_options = dict(meta.proxy_options)
    s.space = s.space or (str(copy) if copy.is_file() else meta.space_path or meta.space)
    s.resolutions = s.resolutions or meta.resolutions or None
    s.sampler = s.sampler or meta.sampler
    s.seed = meta.seed
    s.study = s.study or meta.study
    s.trials = s.trials or meta.trials
    s.train_device = s.train_device or meta.train_device
    s.multi_fidelity = (len(meta.rungs) > 1 or not meta.rungs) if s.multi_fidelity is None else s.multi_fidelity
    if s.tables_dir is None and meta.tables_dir:
        if not Path(meta.tables_dir).is_dir():
            raise UsageError(f"--resume: this run read its latency table from --tables {meta.tables_dir}, which "
                             "is gone; pass --tables DIR with the table of device "
                             f"'{meta.device}'")
        s.tables_dir = meta.tables_dir
    if s.storage is None and not meta.storage.startswith("sqlite") and meta.storage:
        raise UsageError(f"--resume: this run's study is in {meta.storage}; pass --storage URL (with its password)")
    return meta


def _check_same(meta: RunMeta, plan: SearchPlan, table: Any) -> None:
    """A resumed run keeps the table it started with (a changed table would mix two pricings)."""
    if meta.table.hash and meta.table.hash != table.hash:
        raise StudyMismatchError(f"--resume: the latency table of '{plan.device}' changed since this run started "
                                 f"(hash {meta.table.hash} then, {table.hash} now); start a new run with another "
                                 "--out")
