"""What a running search tells its caller: log lines and the study-wide status (the CLI shows them)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class SearchStatus:
    """The study-wide state after a poll.

    ``trains`` says whether the proxy trains (so a front-end can say "trained" or "scored").
    """

    scored: int
    target: int
    running: int
    failed: int
    interrupted: int
    over_budget: int
    duplicates: int
    front_size: int
    best_score: float | None
    best_latency_ms: float | None
    elapsed_s: float
    trains: bool
    over_limits: int = 0  # within the budget's point, over another limit (devices, sizes, the confidence)


@dataclass(frozen=True)
class SearchEvent:
    """A log line, a status update, or both."""

    message: str | None = None
    status: SearchStatus | None = None


OnEvent = Callable[[SearchEvent], None]


def ignore(event: SearchEvent) -> None:
    """The default listener: a library caller that wants no progress gets none."""
