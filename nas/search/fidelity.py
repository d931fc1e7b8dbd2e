"""How the search scores a candidate with its proxy: rung by rung for a training proxy, once otherwise.

A training proxy is scored at ascending step counts (its rungs); a scoring session trains on from where
it stands and can be saved and reopened, so a candidate promoted to the next rung, or continued after an
interruption, does not start over. A training-free proxy has a single rung (0 steps).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from nas.run.meta import Metric

ETA = 3


class Session(Protocol):
    """One candidate being scored."""

    def advance(self, steps: int) -> Any:
        """Train on until ``steps`` steps are done in total, then score; returns a ProxyResult."""

    def save(self, path: Path) -> None:
        """Write what resuming needs to ``path``."""


@dataclass
class _Retrain:
    """A training session that reaches each rung by training from scratch to the rung's steps.

    Valid successive halving without checkpoints; nothing to save. (Used until the training proxy
    resumes from a saved state.)
    """

    proxy: Any
    options: dict[str, Any]
    cfg: Any
    data: Any
    seed: int

    def advance(self, steps: int) -> Any:
        return type(self.proxy)(**{**self.options, "steps": steps}).evaluate(self.cfg, self.data, seed=self.seed)

    def save(self, path: Path) -> None:
        return None


@dataclass
class _Once:
    """A training-free proxy: one score."""

    proxy: Any
    cfg: Any
    data: Any
    seed: int

    def advance(self, steps: int) -> Any:
        return self.proxy.evaluate(self.cfg, self.data, seed=self.seed)

    def save(self, path: Path) -> None:
        return None


class Scorer:
    """Scores candidates with ``proxy`` on ``data``.

    Args:
        proxy: the proxy instance; options: the options it was built with.
        multi_fidelity: False scores every candidate at the full budget only (one rung).
    """

    def __init__(self, proxy: Any, options: dict[str, Any], data: Any, *, seed: int, multi_fidelity: bool = True):
        from nas.proxy.train import TrainProxy

        self.proxy, self.options, self.data, self.seed = proxy, options, data, seed
        self.trains = isinstance(proxy, TrainProxy)
        if self.trains:
            full = proxy.num_steps(data)
            self.rungs = ladder(full) if multi_fidelity else (full,)
        else:
            self.rungs = (0,)

    @property
    def metric(self) -> Metric:
        return Metric("val_top1", "accuracy") if self.trains else metric_of(self.proxy.name)

    def open(self, cfg: Any, *, state: Path | None = None) -> Session:
        """A session for ``cfg`` (from ``state`` when it exists)."""
        if self.trains:
            return _Retrain(self.proxy, self.options, cfg, self.data, self.seed)
        return _Once(self.proxy, cfg, self.data, self.seed)


def metric_of(proxy: str) -> Metric:
    """What a training-free proxy's score is."""
    if proxy == "params":
        return Metric("params", "count")
    return Metric(proxy, "score")


def ladder(full_steps: int, *, eta: int = ETA, rungs: int = 3) -> tuple[int, ...]:
    """Ascending step counts ending at ``full_steps``, each about ``eta`` times the previous one
    (fewer rungs when the smallest would drop below 1 step)."""
    steps = [full_steps]
    while len(steps) < rungs and round(steps[0] / eta) >= 1:
        steps.insert(0, max(1, round(steps[0] / eta)))
    return tuple(dict.fromkeys(steps))
