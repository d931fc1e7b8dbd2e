"""Progress of a search: a rich live panel on a terminal, plain log lines on stderr otherwise."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any

from nas.search.budget import format_ms


@dataclass
class Snapshot:
    """The study-wide state shown after each trial."""

    trained: int
    target: int
    over_budget: int
    failed: int
    front_size: int
    best_accuracy: float | None
    best_latency_ms: float | None
    last: str


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(max(0, seconds))
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60:02d}:{rest % 60:02d}"


class Progress:
    """Shows trials done / total, feasible vs over budget, best accuracy within budget, front size, ETA.

    ``live=None`` picks the rich display when stderr is a terminal.
    """

    def __init__(self, *, budget_ms: float, device: str, live: bool | None = None):
        from rich.console import Console

        self.console = Console(stderr=True)
        self.live_mode = self.console.is_terminal if live is None else live
        self.budget_ms, self.device = budget_ms, device
        self.start = time.monotonic()
        self._live: Any = None
        self._snap: Snapshot | None = None
        self._first_trained: int | None = None

    def __enter__(self) -> Progress:
        if self.live_mode:
            from rich.live import Live

            # rendered on every refresh, so the elapsed time and ETA tick between trials
            self._live = Live(console=self.console, refresh_per_second=2, transient=False,
                              get_renderable=lambda: self._render(self._snap))
            self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)
            self._live = None

    def log(self, message: str) -> None:
        """A line on stderr (above the live panel on a terminal)."""
        if self._live is not None:
            self._live.console.print(message, markup=False, highlight=False)
        else:
            sys.stderr.write(message + "\n")
            sys.stderr.flush()

    def eta(self, snap: Snapshot) -> float | None:
        """Seconds left at this session's pace of trained candidates (None before the first one)."""
        if self._first_trained is None:
            self._first_trained = snap.trained
        done_here = snap.trained - self._first_trained
        if done_here <= 0:
            return None
        return (time.monotonic() - self.start) / done_here * max(0, snap.target - snap.trained)

    def update(self, snap: Snapshot) -> None:
        """Refresh the panel, or print one log line."""
        self.eta(snap)  # fixes the first count the ETA is measured from
        self._snap = snap
        if self._live is not None:
            self._live.refresh()
            return
        best = "-" if snap.best_accuracy is None else f"{snap.best_accuracy:.4g} @ {snap.best_latency_ms:.3g}ms"
        self.log(f"[{snap.trained}/{snap.target}] trained | over budget {snap.over_budget} | failed {snap.failed}"
                 f" | best in budget {best} | front {snap.front_size} | elapsed "
                 f"{_clock(time.monotonic() - self.start)} ETA {_clock(self.eta(snap))} | {snap.last}")

    def _render(self, snap: Snapshot | None) -> Any:
        from rich.panel import Panel
        from rich.progress_bar import ProgressBar
        from rich.table import Table

        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold")
        grid.add_column()
        if snap is None:
            grid.add_row("status", "starting...")
        else:
            grid.add_row("trained", ProgressBar(total=max(1, snap.target), completed=snap.trained, width=30))
            grid.add_row("", f"{snap.trained} / {snap.target} within budget (scored)")
            grid.add_row("over budget", f"{snap.over_budget} (priced by lookup, not trained)")
            grid.add_row("failed", str(snap.failed))
            best = "-" if snap.best_accuracy is None else \
                f"{snap.best_accuracy:.4g} at {snap.best_latency_ms:.3g} ms"
            grid.add_row("best within budget", best)
            grid.add_row("front size", str(snap.front_size))
            grid.add_row("elapsed / ETA", f"{_clock(time.monotonic() - self.start)} / {_clock(self.eta(snap))}")
            grid.add_row("last", snap.last)
        return Panel(grid, title=f"nas search: {self.device}, budget {format_ms(self.budget_ms)}")
