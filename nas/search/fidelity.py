"""How the search scores a candidate with its proxy: rung by rung for a training proxy, once otherwise.

A training proxy defines its rungs (ascending step counts, the last its full budget) and a resumable
training session: a promoted candidate trains on from where it stands, and a candidate interrupted
between rungs continues from the state saved there. A training-free proxy has one rung (0 steps).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from nas.run.meta import Metric


class Session(Protocol):
    """One candidate being scored."""

    def advance(self, steps: int) -> Any:
        """Train on until ``steps`` steps are done in total, then score; returns a ProxyResult."""

    def save(self, path: Path) -> Any:
        """Write what resuming needs to ``path``."""


@dataclass
class _Once:
    """A training-free proxy's session: one score, nothing to save."""

    proxy: Any
    cfg: Any
    data: Any
    seed: int
    device: str

    def advance(self, steps: int) -> Any:
        return self.proxy.evaluate(self.cfg, self.data, seed=self.seed, device=self.device)

    def save(self, path: Path) -> None:
        return None


class Scorer:
    """Scores candidates with ``proxy`` on ``data``, on the torch ``device`` named.

    Args:
        multi_fidelity: False scores every candidate at the proxy's full budget only (one rung).
    """

    def __init__(self, proxy: Any, data: Any, *, seed: int, device: str = "cpu", multi_fidelity: bool = True):
        self.proxy, self.data, self.seed, self.device = proxy, data, seed, device
        self.trains = bool(proxy.trains)
        if self.trains:
            self.rungs: tuple[int, ...] = tuple(proxy.rungs) if multi_fidelity else (proxy.steps,)
        else:
            self.rungs = (0,)

    @property
    def metric(self) -> Metric:
        return Metric(self.proxy.metric or self.proxy.name, self.proxy.kind)

    def open(self, cfg: Any, *, state: Path | None = None) -> Session:
        """A session for ``cfg``, resumed from ``state`` when given."""
        if self.trains:
            return self.proxy.open(cfg, self.data, seed=self.seed, device=self.device, state=state)
        return _Once(self.proxy, cfg, self.data, self.seed, self.device)
