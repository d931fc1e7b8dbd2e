"""The hard limits of a run besides its first device's latency budget, and the one test a candidate passes.

A candidate fits a run when every limit holds:

- the first device's latency within its budget (the point prediction, or with ``confidence`` the upper end of
  its ``confidence`` interval, see :mod:`nas.latency.interval`);
- every further device's latency within that device's budget (``--device B --budget 20ms`` after the first
  pair), priced the same way;
- parameters, MACs and the size of the weights (parameters x bytes per weight at ``precision``, in MB of
  10^6 bytes) at most their limits.

:meth:`Limits.excess` gives each limit's excess as an Optuna constraint value (feasible when <= 0), the one
definition the worker applies to proposals and queued networks before any scoring, and the samplers learn
from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from nas.errors import UsageError

BYTES_PER_WEIGHT = {"fp32": 4, "fp16": 2, "int8": 1}
DEFAULT_PRECISION = "fp16"
LATENCY_CONSTRAINT = "latency_over_budget_ms"  # the first device: latency_ms (or its upper end) - budget_ms


class LimitError(UsageError):
    """A limit that is not a positive number, an unknown precision, or devices and budgets that do not pair."""


@dataclass(frozen=True)
class DeviceBudget:
    """A further device of a run and its latency budget (the first device's is the run's ``budget_ms``)."""

    device: str
    budget_ms: float
    table_hash: str = ""
    method: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"device": self.device, "budget_ms": self.budget_ms, "table_hash": self.table_hash,
                "method": self.method}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeviceBudget:
        return cls(str(data["device"]), float(data["budget_ms"]), str(data.get("table_hash") or ""),
                   str(data.get("method") or ""))


@dataclass(frozen=True)
class Limits:
    """What a candidate must meet besides the first device's point budget (all ``None``/empty: nothing)."""

    max_params: int | None = None
    max_macs: int | None = None
    max_size_mb: float | None = None
    precision: str = DEFAULT_PRECISION
    confidence: float | None = None
    devices: tuple[DeviceBudget, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        for flag, value in (("--max-params", self.max_params), ("--max-macs", self.max_macs),
                            ("--max-size-mb", self.max_size_mb)):
            if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise LimitError(f"{flag} must be a positive number, got {value!r}")
        if self.precision not in BYTES_PER_WEIGHT:
            raise LimitError(f"--precision must be one of {', '.join(BYTES_PER_WEIGHT)} (bytes per weight of "
                             f"--max-size-mb), got {self.precision!r}")

    @property
    def active(self) -> bool:
        """True when anything besides the first budget's point is tested."""
        return bool(self.devices) or self.needs_counts or self.confidence is not None

    @property
    def needs_counts(self) -> bool:
        """True when the test needs the network's parameters or MACs (so it is built before scoring)."""
        return self.max_params is not None or self.max_macs is not None or self.max_size_mb is not None

    def size_mb(self, params: int) -> float:
        """Weights of ``params`` parameters at the limits' precision, in MB (10^6 bytes)."""
        return params * BYTES_PER_WEIGHT[self.precision] / 1e6

    def excess(self, *, params: int | None = None, macs: int | None = None,
               latencies: dict[str, float] | None = None) -> dict[str, float]:
        """Each limit's excess as an Optuna constraint value (feasible when <= 0): ``<device>_over_budget_ms``
        in ms for the further devices (``latencies``: device -> ms, the upper end with a confidence), and
        relative excesses (value / limit - 1) for parameters, MACs and size. A count not given is not tested."""
        out: dict[str, float] = {}
        for d in self.devices:
            if latencies is not None and d.device in latencies:
                out[f"{d.device}_over_budget_ms"] = latencies[d.device] - d.budget_ms
        if params is not None and self.max_params is not None:
            out["params_over_limit"] = params / self.max_params - 1
        if macs is not None and self.max_macs is not None:
            out["macs_over_limit"] = macs / self.max_macs - 1
        if params is not None and self.max_size_mb is not None:
            out["size_over_limit"] = self.size_mb(params) / self.max_size_mb - 1
        return out

    def reasons(self, *, params: int | None = None, macs: int | None = None,
                latencies: dict[str, float] | None = None) -> list[str]:
        """One phrase per limit the candidate exceeds (empty: it fits)."""
        found = []
        for d in self.devices:
            ms = (latencies or {}).get(d.device)
            if ms is not None and ms > d.budget_ms:
                found.append(f"{d.device} {ms:.3g} ms > {d.budget_ms:g} ms")
        if params is not None and self.max_params is not None and params > self.max_params:
            found.append(f"params {params / 1e6:.2f} M > {self.max_params / 1e6:g} M")
        if macs is not None and self.max_macs is not None and macs > self.max_macs:
            found.append(f"MACs {macs / 1e6:.0f} M > {self.max_macs / 1e6:g} M")
        if params is not None and self.max_size_mb is not None and self.size_mb(params) > self.max_size_mb:
            found.append(f"size {self.size_mb(params):.1f} MB > {self.max_size_mb:g} MB ({self.precision})")
        return found

    def describe(self) -> list[str]:
        """One line per limit set, for the report and the terminal."""
        lines = [f"{d.device}: at most {d.budget_ms:g} ms" for d in self.devices]
        if self.max_params is not None:
            lines.append(f"parameters: at most {self.max_params / 1e6:g} M")
        if self.max_macs is not None:
            lines.append(f"MACs: at most {self.max_macs / 1e6:g} M")
        if self.max_size_mb is not None:
            lines.append(f"weights: at most {self.max_size_mb:g} MB at {self.precision}")
        if self.confidence is not None:
            lines.append(f"latency: the upper end of the {self.confidence:.0%} interval within each budget")
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {"max_params": self.max_params, "max_macs": self.max_macs, "max_size_mb": self.max_size_mb,
                "precision": self.precision, "confidence": self.confidence,
                "devices": [d.to_dict() for d in self.devices]}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Limits:
        """Limits from run.json / the study (a run without limits: ``None`` or ``{}``)."""
        data = dict(data or {})
        return cls(max_params=_opt_int(data.get("max_params")), max_macs=_opt_int(data.get("max_macs")),
                   max_size_mb=_opt_float(data.get("max_size_mb")),
                   precision=str(data.get("precision") or DEFAULT_PRECISION),
                   confidence=_opt_float(data.get("confidence")),
                   devices=tuple(DeviceBudget.from_dict(d) for d in data.get("devices") or ()))


def parse_count(text: str | None, *, flag: str) -> int | None:
    """A count such as ``5000000``, ``5M``, ``5.5m``, ``600k`` or ``2G`` (for --max-params, --max-macs)."""
    if text is None:
        return None
    raw = str(text).strip()
    scale = {"k": 1e3, "m": 1e6, "g": 1e9}.get(raw[-1:].lower(), 1.0)
    value = _positive(raw[:-1] if scale != 1.0 else raw, text, f"{flag} must be a positive count such as 5000000, "
                      "5M or 600k")
    return int(round(value * scale))


def parse_megabytes(text: str | None, *, flag: str = "--max-size-mb") -> float | None:
    """A size in MB (``20``, ``20MB``, ``12.5``)."""
    if text is None:
        return None
    raw = str(text).strip()
    return _positive(raw[:-2].strip() if raw.lower().endswith("mb") else raw, text,
                     f"{flag} must be a positive size in MB such as 20 or 12.5")


def _positive(number: str, given: str, rule: str) -> float:
    """``number`` as a finite float > 0, or LimitError "<rule>, got <given>"."""
    try:
        value = float(number)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise LimitError(f"{rule}, got {given!r}")
    return value


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)
