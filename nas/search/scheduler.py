"""Multi-fidelity scheduling: asynchronous successive halving across the latency front.

Every candidate starts at the proxy's smallest rung (a few training steps). Each time it reaches a rung
below the last, it is compared with every candidate of its latency band that reached the same rung,
on any worker (read from the shared study): it continues to the next rung (about ``eta`` times the
steps, from where its training stands) only if it is among the best ``1/eta`` of them, else it stops
there. So a band's best networks are refined and the rest cost one short run; splitting by latency
band refines the whole front, not only its most accurate (slowest) corner.

This is ASHA (Li et al., "A System for Massively Parallel Hyperparameter Tuning", MLSys 2020) in its
stopping form, the form of Syne Tune's multi-objective ASHA (Schmucker et al., "Multi-objective
Asynchronous Successive Halving", 2021) and of Optuna's SuccessiveHalvingPruner: a candidate is decided
when it reaches a rung, by the results present at that moment (the first result of a band always
continues, as in both). Optuna does not prune multi-objective studies, so this rule is the project's.
Each candidate is owned by the one worker that trains it, so a promotion can be neither lost nor made
twice; a worker that dies leaves its candidate to be continued from its last saved rung.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

ETA = 3  # each rung trains about 3x the steps of the previous and keeps the best third
BANDS = 3  # latency bands between the fastest network of the space and the budget


@dataclass(frozen=True)
class Bands:
    """``count`` equal latency bands over [fastest_ms, budget_ms]."""

    fastest_ms: float
    budget_ms: float
    count: int = BANDS

    def of(self, latency_ms: float) -> int:
        """The band of a latency (0 = fastest); anything outside the range falls in the nearest band."""
        span = self.budget_ms - self.fastest_ms
        if span <= 0:
            return 0
        return min(self.count - 1, max(0, int((latency_ms - self.fastest_ms) / span * self.count)))


@dataclass
class RungIndex:
    """The score every network reached at every rung, as seen in the shared study.

    Keyed by network identity, so a candidate and its retry (after an interruption) are one entry.
    """

    bands: Bands
    eta: int = ETA
    _scores: list[dict[str, tuple[float, int]]] = field(default_factory=list)  # rung -> arch -> (score, band)

    def add(self, arch: str, latency_ms: float, scores: Sequence[float]) -> None:
        """Record ``scores`` (one per rung reached, in order) of network ``arch``."""
        for rung, score in enumerate(scores):
            self.add_one(arch, latency_ms, rung, score)

    def peers(self, rung: int, band: int) -> list[float]:
        """The scores at ``rung`` of the networks of ``band``."""
        if rung >= len(self._scores):
            return []
        return [s for s, b in self._scores[rung].values() if b == band]

    def promotes(self, arch: str, latency_ms: float, rung: int, score: float) -> bool:
        """True when ``arch``, scoring ``score`` at ``rung``, is among the best 1/eta of its band there.

        Of ``n`` networks in the band at that rung, the best ``max(1, n // eta)`` continue (ties go to
        the candidate).
        """
        self.add_one(arch, latency_ms, rung, score)
        peers = self.peers(rung, self.bands.of(latency_ms))
        better = sum(1 for s in peers if s > score)
        return better < max(1, len(peers) // self.eta)

    def add_one(self, arch: str, latency_ms: float, rung: int, score: float) -> None:
        """Record the score of network ``arch`` at one rung."""
        while len(self._scores) <= rung:
            self._scores.append({})
        self._scores[rung][arch] = (score, self.bands.of(latency_ms))

