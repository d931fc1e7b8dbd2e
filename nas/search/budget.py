"""Latency budgets and durations given on the command line: ``5ms``, ``5 ms``, ``500us``, ``0.005s``."""

from __future__ import annotations

import math
import re

from nas.errors import UsageError

# unit -> milliseconds per unit; a bare number is refused (is "5" 5 ms or 5 s?)
TIME_UNITS_MS: dict[str, float] = {"s": 1000.0, "ms": 1.0, "us": 1e-3, "µs": 1e-3, "μs": 1e-3}
BUDGET_FORMS = "5ms, 5 ms, 500us, 0.005s (a positive number followed by s, ms or us)"
_TIME = re.compile(r"^\s*(?P<num>[-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(?P<unit>[a-zA-Zµμ]+)\s*$")
_DURATION_UNITS_S = {"s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


class BudgetError(UsageError):
    """A latency budget that is not a positive time (or is below what the space can reach)."""


def parse_budget(text: str | float) -> float:
    """The latency budget in milliseconds.

    Accepts a positive number with a unit: ``5ms``, ``5 ms``, ``500us``, ``0.005s``. A bare number
    is refused on purpose: a silent unit is how milliseconds end up read as microseconds.

    Raises:
        BudgetError: not a time, zero, negative or not finite; the message lists the accepted forms.
    """
    raw = str(text)
    match = _TIME.match(raw)
    unit = match.group("unit").lower().replace("μ", "µ") if match else ""
    if not match or unit not in TIME_UNITS_MS:
        hint = " (add a unit, e.g. '5ms')" if re.fullmatch(r"\s*[-+]?[0-9.eE+-]+\s*", raw) else ""
        raise BudgetError(f"budget '{raw}' is not a time{hint}; accepted forms: {BUDGET_FORMS}")
    ms = float(match.group("num")) * TIME_UNITS_MS[unit]
    if not math.isfinite(ms) or ms <= 0:
        raise BudgetError(f"budget '{raw}' must be more than zero; accepted forms: {BUDGET_FORMS}")
    return ms


def format_ms(ms: float) -> str:
    """A compact label for a time in milliseconds: ``5ms``, ``0.5ms``, ``12.5ms``."""
    return f"{ms:.4g}ms"


def parse_duration(text: str | float | None) -> float | None:
    """Seconds from ``600``, ``600s``, ``10m``, ``1.5h`` (None stays None).

    Raises:
        UsageError: not a positive duration.
    """
    if text is None:
        return None
    raw = str(text).strip()
    match = re.fullmatch(r"([0-9]*\.?[0-9]+)\s*([a-z]*)", raw.lower())
    if not match or match.group(2) not in ("", *_DURATION_UNITS_S) or float(match.group(1)) <= 0:
        raise UsageError(f"timeout '{raw}' is not a positive duration; accepted forms: 600, 600s, 10m, 1.5h")
    return float(match.group(1)) * _DURATION_UNITS_S.get(match.group(2) or "s", 1.0)
