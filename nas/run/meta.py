"""``run.json``: what produced a run (settings, table, proxy and its metric, versions), typed.

The latency table is identified once, by ``TableRef``; the device, method and table hash of a run are
read from it and nowhere else. Run folders of the first schema (no ``schema`` key, no ``metric``) are
read with their metric derived from the proxy name.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from nas.errors import NasError
from nas.run.limits import Limits

SCHEMA = 2
METRIC_KINDS = ("accuracy", "loss-based score", "count", "score")


class RunFolderError(NasError):
    """A run folder's file exists but cannot be read (truncated, not JSON, wrong shape)."""


@dataclass(frozen=True)
class TableRef:
    """The latency table a run priced its candidates with."""

    device: str
    runtime: str = ""
    method: str = ""
    hash: str = ""
    path: str | None = None


@dataclass(frozen=True)
class Metric:
    """What a proxy's score is: its name (``validation top-1``, ``synflow``...) and kind (``METRIC_KINDS``)."""

    name: str
    kind: str = "score"

    @property
    def is_accuracy(self) -> bool:
        return self.kind == "accuracy"

    @property
    def label(self) -> str:
        """The score's axis label in reports."""
        return f"proxy accuracy ({self.name})" if self.is_accuracy else f"proxy {self.kind} ({self.name})"


@dataclass(frozen=True)
class RunMeta:
    """The contents of ``run.json``."""

    study: str
    storage: str
    budget_ms: float
    table: TableRef
    space: str
    proxy: str
    metric: Metric
    space_path: str | None = None
    resolutions: tuple[int, ...] = ()  # the --resolution the run was started with (() = the space's own)
    proxy_options: dict[str, Any] = field(default_factory=dict)
    rungs: tuple[int, ...] = ()
    tables_dir: str | None = None
    data: str = ""
    sampler: str = ""
    seed: int = 0
    trials: int = 0
    workers: int = 1
    train_device: str = "cpu"
    fastest_ms: float | None = None
    argv: tuple[str, ...] = ()
    versions: dict[str, str] = field(default_factory=dict)
    created: str = ""
    sessions: tuple[dict[str, Any], ...] = ()
    limits: Limits = field(default_factory=Limits)  # further devices, size limits, confidence (none: none)
    verify: int = 0  # front points measured end to end when the search finishes (--verify)
    report: bool = True  # False: started with --no-report (a --resume writes none either)
    # the search settings --resume restores, by name (nas.search.settings; {} in run folders written before)
    settings: dict[str, Any] = field(default_factory=dict)
    schema: int = SCHEMA

    @property
    def device(self) -> str:
        return self.table.device

    def with_session(self, session: dict[str, Any]) -> RunMeta:
        """This meta with one more session (a --resume, or a worker joining) recorded."""
        return replace(self, sessions=(*self.sessions, session))

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["device"] = self.table.device  # for readers of the first schema
        out["rungs"], out["argv"], out["sessions"] = list(self.rungs), list(self.argv), list(self.sessions)
        out["resolutions"] = list(self.resolutions)
        out["limits"] = self.limits.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunMeta:
        """Parse run.json's dict (either schema); missing optional keys get their defaults."""
        if not isinstance(data, dict) or "budget_ms" not in data:
            raise ValueError("no budget_ms")
        table = dict(data.get("table") or {})
        table.setdefault("device", data.get("device") or "?")
        metric = data.get("metric") or {}
        proxy = str(data.get("proxy") or "?")
        if not metric:  # first schema: only the training proxy's score was an accuracy
            metric = {"name": "validation top-1", "kind": "accuracy"} if proxy == "train" else {"name": proxy}
        known = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in data.items() if k in known}
        values.update(table=TableRef(**{k: v for k, v in table.items() if k in TableRef.__dataclass_fields__}),
                      metric=Metric(**metric), proxy=proxy, budget_ms=float(data["budget_ms"]),
                      study=str(data.get("study") or ""), storage=str(data.get("storage") or ""),
                      space=str(data.get("space") or "?"), rungs=tuple(data.get("rungs") or ()),
                      resolutions=tuple(data.get("resolutions") or ()),
                      argv=tuple(data.get("argv") or ()), sessions=tuple(data.get("sessions") or ()),
                      limits=Limits.from_dict(data.get("limits")), verify=int(data.get("verify") or 0),
                      schema=int(data.get("schema") or 1))
        return cls(**values)


def read_meta(path: Path) -> RunMeta:
    """The RunMeta of ``path`` (a run.json).

    Raises:
        RunFolderError: the file cannot be read or is not a run's run.json.
    """
    try:
        return RunMeta.from_dict(json.loads(Path(path).read_text()))
    except (OSError, ValueError, TypeError) as exc:
        detail = exc.strerror if isinstance(exc, OSError) else str(exc).splitlines()[0]
        raise RunFolderError(f"'{path}' cannot be read as a run's run.json ({detail}); the folder is not a "
                             "complete run: start a new search with another --out") from None
