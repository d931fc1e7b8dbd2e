"""What a caller asks of a search, as one record, and what a run keeps of each setting.

Every field of :class:`SearchSettings` declares once, through :func:`setting`, how a run treats it:

- ``resume=KEEP``: the setting defines the run. ``--resume`` restores it from run.json; a value given again
  must equal the run's (for a dict: each key given).
- ``resume=RESTORE``: ``--resume`` restores it unless it is given again (the trial target, the sampler...).
- no ``resume``: this invocation's only (worker count, time limit, the run folder itself).
- ``shared=True``: a worker joining a study must have the same value; the study records it.

``resolve_plan`` fills every default in, and the resolved record travels in the plan; run.json keeps its
restorable fields under ``settings`` (:func:`saved_settings`) and the study its shared ones
(:func:`shared_settings`). Adding a setting is a field here and its use: nothing else lists settings.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nas.errors import UsageError

KEEP = "keep"
RESTORE = "restore"


class StudyMismatchError(UsageError):
    """A resumed run or a joining worker was given settings other than the run's."""


def setting(default: Any = None, *, flag: str, resume: str | None = None, shared: bool = False) -> Any:
    """A field of :class:`SearchSettings`: its option (``flag``, for messages) and what a run keeps of it."""
    if resume not in (None, KEEP, RESTORE):
        raise ValueError(f"resume must be {KEEP!r}, {RESTORE!r} or None, got {resume!r}")
    return field(default=default, metadata={"flag": flag, "resume": resume, "shared": shared})


@dataclass(frozen=True)
class SearchSettings:
    """What a caller asks for. ``None`` means: the default, or on ``resume`` what the run was started with.

    The plan holds this record resolved: every default filled in (``device`` the table's name, ``proxy_options``
    every option of the proxy, ``verify`` 0 for none...).
    """

    device: str | None = setting(flag="--device", resume=KEEP, shared=True)
    budget_ms: float | None = setting(flag="--budget", resume=KEEP, shared=True)
    # further (device, budget_ms) pairs a candidate must fit too
    also: tuple[tuple[str, float], ...] | None = setting(flag="--device (further)", resume=KEEP, shared=True)
    max_params: int | None = setting(flag="--max-params", resume=KEEP, shared=True)
    max_macs: int | None = setting(flag="--max-macs", resume=KEEP, shared=True)
    max_size_mb: float | None = setting(flag="--max-size-mb", resume=KEEP, shared=True)
    precision: str | None = setting(flag="--precision", resume=KEEP, shared=True)  # of --max-size-mb's weights
    # fit a budget with the upper end of this interval, not the point
    confidence: float | None = setting(flag="--confidence", resume=KEEP, shared=True)
    # measure this many front points nearest the budget end to end at the end
    verify: int | None = setting(flag="--verify", resume=RESTORE)
    space: str | None = setting(flag="--space", resume=RESTORE)  # a shipped name or a YAML path
    # deploy resolution(s) instead of the space's own
    resolutions: tuple[int, ...] | None = setting(flag="--resolution", resume=KEEP, shared=True)
    trials: int | None = setting(flag="--trials", resume=RESTORE)
    timeout_s: float | None = setting(flag="--timeout")
    proxy: str | None = setting(flag="--proxy", resume=KEEP, shared=True)
    proxy_options: dict[str, Any] | None = setting(flag="--proxy-opt", resume=KEEP, shared=True)
    data: str | None = setting(flag="--data", resume=KEEP, shared=True)
    sampler: str | None = setting(flag="--sampler", resume=RESTORE)
    seed: int | None = setting(flag="--seed", resume=KEEP)
    storage: str | None = setting(flag="--storage")
    study: str | None = setting(flag="--study", resume=RESTORE)
    out: Path | None = setting(flag="--out")
    resume: bool = setting(False, flag="--resume")
    tables_dir: str | None = setting(flag="--tables", resume=RESTORE)
    worker_index: int = setting(0, flag="--worker")
    workers: int | None = setting(flag="--workers")
    train_device: str | None = setting(flag="--train-device", resume=RESTORE)
    multi_fidelity: bool | None = setting(flag="--multi-fidelity", resume=RESTORE)
    # stop once the workers spent this many CPU seconds scoring (benchmarks)
    max_cpu_s: float | None = setting(flag="max_cpu_s")
    report: bool | None = setting(flag="--report", resume=RESTORE)  # None: write the report
    enqueue_presets: bool = setting(True, flag="enqueue_presets")  # off: compare samplers alone (benchmark)
    argv: tuple[str, ...] = setting((), flag="argv")

    def replace(self, **changes: Any) -> SearchSettings:
        """This record with ``changes``."""
        return dataclasses.replace(self, **changes)


def _fields(settings: SearchSettings, **wanted: Any) -> list[dataclasses.Field]:
    """The fields of ``settings`` (a subclass may add some) whose metadata has the ``wanted`` values."""
    return [f for f in dataclasses.fields(settings) if all(f.metadata[k] in v for k, v in wanted.items())]


def _json(value: Any) -> Any:
    """``value`` as JSON keeps it: tuples become lists, paths strings."""
    if isinstance(value, (tuple, list)):
        return [_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    return str(value) if isinstance(value, Path) else value


def _thawed(value: Any) -> Any:
    """A value read back from JSON as the record holds it: lists become tuples."""
    if isinstance(value, list):
        return tuple(_thawed(v) for v in value)
    if isinstance(value, dict):
        return {k: _thawed(v) for k, v in value.items()}
    return value


def saved_settings(settings: SearchSettings) -> dict[str, Any]:
    """The fields ``--resume`` restores (KEEP and RESTORE), as run.json's ``settings`` holds them."""
    return {f.name: _json(getattr(settings, f.name)) for f in _fields(settings, resume=(KEEP, RESTORE))}


def shared_settings(settings: SearchSettings) -> dict[str, Any]:
    """The fields a joining worker must match, as the study's attribute holds them."""
    return {f.name: _json(getattr(settings, f.name)) for f in _fields(settings, shared=(True,))}


def restore(settings: SearchSettings, saved: dict[str, Any]) -> SearchSettings:
    """``settings`` with every restorable field not given (None) taken from ``saved`` (run.json's).

    Raises:
        StudyMismatchError: a KEEP field given with another value than the run's.
    """
    changes = {}
    for f in _fields(settings, resume=(KEEP, RESTORE)):
        if f.name not in saved:
            continue
        given, kept = getattr(settings, f.name), _thawed(saved[f.name])
        if f.metadata["resume"] == KEEP and given is not None:
            _check_kept(f.metadata["flag"], given, kept)
        if f.metadata["resume"] == KEEP or given is None:
            changes[f.name] = kept
    return settings.replace(**changes)


def _check_kept(flag: str, given: Any, kept: Any) -> None:
    pairs = ([(f"{flag} {k}", v, (kept or {}).get(k)) for k, v in given.items()] if isinstance(given, dict)
             else [(flag, _thawed(_json(given)), kept)])
    for shown, value, saved in pairs:
        if value != saved:
            raise StudyMismatchError(f"--resume: this run was started with {shown} {saved!r}, not {value!r}; "
                                     f"drop {flag}, or start a new run with another --out")


def check_shared(saved: dict[str, Any], current: dict[str, Any], study: str) -> None:
    """A joining worker's ``current`` shared settings equal the study's ``saved`` ones (keys both have).

    Raises:
        StudyMismatchError: one differs.
    """
    for key, value in current.items():
        if key in saved and saved[key] != value:
            raise StudyMismatchError(f"study '{study}' was started with {key}={saved[key]!r}, this run has "
                                     f"{value!r}; use the same settings to join it, or another --study")
