"""Progress of a search on stderr: a rich live panel on a terminal, plain log lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import Any

from nas.search.events import SearchEvent, SearchStatus


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(max(0, seconds))
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60:02d}:{rest % 60:02d}"


class Progress:
    """Shows candidates scored / target, running, rejected proposals, best score within budget, front, ETA.

    ``live=None`` picks the rich display when stderr is a terminal. Use it as ``on_event`` of run_search.
    """

    def __init__(self, *, live: bool | None = None):
        from rich.console import Console

        self.console = Console(stderr=True)
        self.live_mode = self.console.is_terminal if live is None else live
        self.start = time.monotonic()
        self._live: Any = None
        self._status: SearchStatus | None = None
        self._last = ""
        self._first_scored: int | None = None

    def __enter__(self) -> Progress:
        if self.live_mode:
            from rich.live import Live

            # rendered on every refresh, so the elapsed time and ETA tick between trials
            self._live = Live(console=self.console, refresh_per_second=2, transient=False,
                              get_renderable=self._render)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)
            self._live = None

    def __call__(self, event: SearchEvent) -> None:
        if event.message:
            self._last = event.message
            self.log(event.message)
        if event.status:
            self.update(event.status)

    def log(self, message: str) -> None:
        """A line on stderr (above the live panel on a terminal)."""
        if self._live is not None:
            self._live.console.print(message, markup=False, highlight=False)
        else:
            sys.stderr.write(message + "\n")
            sys.stderr.flush()

    def eta(self, status: SearchStatus) -> float | None:
        """Seconds left at this session's pace of scored candidates (None before the first one)."""
        if self._first_scored is None:
            self._first_scored = status.scored
        done_here = status.scored - self._first_scored
        if done_here <= 0:
            return None
        return (time.monotonic() - self.start) / done_here * max(0, status.target - status.scored)

    def update(self, status: SearchStatus) -> None:
        """Refresh the panel, or print one status line."""
        self.eta(status)  # fixes the first count the ETA is measured from
        self._status = status
        if self._live is not None:
            self._live.refresh()
            return
        verb = "trained" if status.trains else "scored"
        self.log(f"[{status.scored}/{status.target}] {verb} | running {status.running} | failed {status.failed} | "
                 f"rejected by lookup: {status.over_budget} over budget, {_limits(status)}{status.duplicates} already "
                 "seen | best in "
                 f"budget {self._best(status)} | front {status.front_size} | elapsed "
                 f"{_clock(time.monotonic() - self.start)} ETA {_clock(self.eta(status))}")

    @staticmethod
    def _best(status: SearchStatus) -> str:
        if status.best_score is None:
            return "-"
        return f"{status.best_score:.4g} @ {status.best_latency_ms:.3g}ms"

    def _render(self) -> Any:
        from rich.panel import Panel
        from rich.progress_bar import ProgressBar
        from rich.table import Table

        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold")
        grid.add_column()
        status = self._status
        if status is None:
            grid.add_row("status", "starting...")
        else:
            verb = "trained" if status.trains else "scored"
            grid.add_row(verb, ProgressBar(total=max(1, status.target), completed=status.scored, width=30))
            grid.add_row("", f"{status.scored} / {status.target} candidates within budget; {status.running} running")
            grid.add_row("rejected by lookup", f"{status.over_budget} over budget, {_limits(status)}"
                                               f"{status.duplicates} already seen (never trained)")
            grid.add_row("failed", str(status.failed))
            grid.add_row("best within budget", self._best(status))
            grid.add_row("front size", str(status.front_size))
            grid.add_row("elapsed / ETA", f"{_clock(time.monotonic() - self.start)} / {_clock(self.eta(status))}")
            grid.add_row("last", self._last)
        return Panel(grid, title="nas search")


def _limits(status: SearchStatus) -> str:
    """"N over the other limits, " when the run has limits that refused proposals."""
    return f"{status.over_limits} over the other limits, " if status.over_limits else ""
