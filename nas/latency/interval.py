"""How far a predicted latency may be off: an interval from the table's own evidence.

A table's prediction is a lookup and a sum; how wrong it may be is read from how wrong the table was where it
could be checked, out of sample:

- **estimated** tables (a cost model fitted to whole-network timings: ``iphone12``, ``nas tables fit --timings``):
  the fit's leave-one-network-out predictions of its own rows;
- **calibrated** tables (``nas latency calibrate``): the calibration's leave-one-out predictions of its networks;
- **measured** tables (``nas profile``): the leave-one-out error its profile's calibration recorded (a mean
  absolute % error turned into a spread, ``sd = MAPE * sqrt(pi / 2)``, as for normal errors), or, when nothing
  is recorded, a stated default of :data:`DEFAULT_RELATIVE_ERROR`.

The residuals are taken in log space, ``r = log(true / predicted)``. A ``level`` interval is the prediction
interval of a Student t with ``n - 1`` degrees of freedom around the point, ``ms * exp(+-t * s * sqrt(1 + 1/n))``
with ``s`` the root mean square of ``r`` (a biased table gets a wider interval, never a moved point), so the
point always lies inside and a tighter table has a narrower interval.

It widens where the network lies outside what the table was fitted or calibrated on (the range of the rows'
MACs, parameters, latency and resolution, and the block kinds they contain): the spread is multiplied by
``1 + 0.5 * log2(r_max) + 0.5 * (unseen kinds)``, ``r_max >= 1`` the largest ratio by which the network lies
beyond the range on one of the continuous axes (the axes are correlated, so the largest counts, not the sum),
and :attr:`LatencyEstimate.outside` names each axis (an unseen kind counts when its blocks carry at least 5% of
the network's predicted time). Half a spread per doubling beyond the range and per unseen
block kind is a stated rule. ``benchmarks/latency_front.py`` measures how it holds out of sample: on random
networks of the space the 90% intervals of a table fitted to 16 networks cover far less than 90% (the leave-one-out
residuals of a few fitted networks understate the error on unlike ones), so an interval is a lower bound on the
uncertainty, not a guarantee.

The evidence of a table written by this tool is kept in its provenance (``interval``, see
:func:`evidence_record`); for tables written before, it is derived from what their provenance holds.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nas.config import ArchConfig
from nas.errors import UsageError
from nas.files import write_json
from nas.latency.table import LatencyTable

DEFAULT_LEVEL = 0.9
DEFAULT_RELATIVE_ERROR = 0.10  # spread assumed for a measured table whose profile recorded no error
WIDEN_PER_DOUBLING = 0.5  # extra spreads per doubling beyond the fitted range (continuous axes)
WIDEN_PER_KIND = 0.5  # extra spreads per block kind no fitted network contains
KIND_SHARE = 0.05  # an unseen block kind widens the interval when it carries this share of the network's time
AXES = ("macs", "params", "latency", "resolution")  # continuous axes of the fitted range, in `outside` order


class ConfidenceError(UsageError):
    """A confidence / interval level outside (0, 1)."""


def check_level(level: float, *, flag: str = "--confidence") -> float:
    """``level`` as a float in (0, 1), or a one-line error naming ``flag``."""
    try:
        value = float(level)
    except (TypeError, ValueError):
        raise ConfidenceError(f"{flag} must be a probability between 0 and 1 (e.g. 0.9), got {level!r}") from None
    if not 0.0 < value < 1.0 or math.isnan(value):
        raise ConfidenceError(f"{flag} must be a probability strictly between 0 and 1 (e.g. 0.9), got {level!r}")
    return value


@dataclass(frozen=True)
class Evidence:
    """What a table's interval is made of: out-of-sample log residuals and the range they cover.

    Attributes:
        log_residuals: ``log(true / predicted)`` of each row the table was checked on, out of sample; empty when
            only a spread is recorded.
        spread: root mean square of the residuals (or the recorded / default spread).
        rows: how many rows the spread rests on (sets the t quantile's degrees of freedom).
        source: one line saying where the evidence comes from.
        ranges: axis -> (low, high) of the fitted rows (MACs, params, latency ms, resolution); absent: not known.
        kinds: block kinds the fitted rows contain (None: not known, never "outside").
        default: True when no evidence was recorded and :data:`DEFAULT_RELATIVE_ERROR` is assumed.
    """

    log_residuals: tuple[float, ...]
    spread: float
    rows: int
    source: str
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    kinds: frozenset[str] | None = None
    default: bool = False

    @property
    def dof(self) -> float:
        """Degrees of freedom of the t quantile (a large number for a default spread)."""
        return float(self.rows - 1) if self.rows >= 2 and not self.default else 1e6


@dataclass(frozen=True)
class LatencyEstimate:
    """A predicted latency with its ``level`` interval and where it lies outside the table's evidence."""

    ms: float
    low_ms: float
    high_ms: float
    level: float
    outside: tuple[str, ...] = ()
    widen: float = 1.0  # factor on the spread (1: inside the fitted range)
    spread: float = 0.0  # log-space spread of this prediction (widening and sqrt(1 + 1/n) included)
    dof: float = 1e6
    method: str = ""
    evidence: str = ""

    def chance_within(self, budget_ms: float) -> float:
        """The chance that the true latency is at most ``budget_ms``, under the interval's t distribution."""
        if budget_ms <= 0:
            return 0.0
        if self.spread <= 0:
            return 1.0 if self.ms <= budget_ms else 0.0
        from scipy.stats import t

        return float(t.cdf(math.log(budget_ms / self.ms) / self.spread, self.dof))

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``--json`` of ``nas latency predict``)."""
        return {"latency_ms": round(self.ms, 4), "low_ms": round(self.low_ms, 4), "high_ms": round(self.high_ms, 4),
                "level": self.level, "outside": list(self.outside), "widen": round(self.widen, 3),
                "spread_log": round(self.spread, 5), "dof": self.dof, "method": self.method,
                "evidence": self.evidence}



# ----------------------------------------------------------------------------- evidence
def held_out_coverage(evidence: Evidence, level: float = DEFAULT_LEVEL) -> float | None:
    """Share of the evidence's rows inside the ``level`` interval built from the other rows' residuals alone
    (the interval rule of :func:`estimate_latency`, each row held out of its own interval); None with < 3 rows."""
    from scipy.stats import t

    residuals = evidence.log_residuals
    if len(residuals) < 3:
        return None
    inside = 0
    for i, held_out in enumerate(residuals):
        rest = residuals[:i] + residuals[i + 1:]
        half = t.ppf(0.5 + level / 2, len(rest) - 1) * _rms(rest) * math.sqrt(1 + 1 / len(rest))
        inside += abs(held_out) <= half
    return inside / len(residuals)


def network_facts(cfg: ArchConfig, *, stats: tuple[int, int] | None = None) -> dict[str, Any]:
    """(MACs, params, resolution, block kinds) of ``cfg``: what the fitted range is compared with."""
    from nas.latency.predict import block_keys

    if stats is None:
        from nas.models.stats import network_stats

        stats = network_stats(cfg)
    params, macs = stats
    return {"macs": float(macs), "params": float(params), "resolution": float(cfg.resolution),
            "kinds": sorted({kind for _, kind in block_keys(cfg)})}


def evidence_record(cfgs: Sequence[ArchConfig], measured_ms: Sequence[float], loo_ms: Sequence[float], *,
                    source: str) -> dict[str, Any]:
    """The ``provenance.interval`` record of a fit: out-of-sample residuals and the range of its networks.

    Args:
        cfgs: the networks the table was fitted or calibrated on.
        measured_ms: their true latencies.
        loo_ms: their leave-one-out predictions (each from a fit without that network).
        source: one line naming the fit.
    """
    facts = [network_facts(c) for c in cfgs]
    residuals = [math.log(m / p) for m, p in zip(measured_ms, loo_ms) if m > 0 and p > 0]

    def span(values: Iterable[float]) -> list[float]:
        values = list(values)
        return [min(values), max(values)]

    return {
        "source": source, "rows": len(residuals), "log_residuals": [round(r, 6) for r in residuals],
        "ranges": {"macs": span(f["macs"] for f in facts), "params": span(f["params"] for f in facts),
                   "latency": span(measured_ms), "resolution": span(f["resolution"] for f in facts)},
        "kinds": sorted({k for f in facts for k in f["kinds"]}),
    }


def _from_record(record: dict[str, Any]) -> Evidence:
    residuals = tuple(float(r) for r in record.get("log_residuals") or ())
    ranges = {axis: (float(lo), float(hi)) for axis, (lo, hi) in (record.get("ranges") or {}).items()}
    kinds = record.get("kinds")
    return Evidence(residuals, _rms(residuals), len(residuals), str(record.get("source") or "fit"), ranges,
                    frozenset(kinds) if kinds is not None else None)


def _rms(values: Sequence[float]) -> float:
    return math.sqrt(sum(v * v for v in values) / len(values)) if values else 0.0


_EVIDENCE: dict[str, Evidence] = {}


def evidence_path(table: LatencyTable) -> Path:
    """Where the evidence derived for a table written before ``provenance.interval`` existed is kept (counting
    the MACs of its fitted networks once takes seconds; every later process reads it)."""
    from nas.latency.table import user_tables_dir

    return user_tables_dir() / "evidence" / f"{table.device}-{table.hash}.json"


def table_evidence(table: LatencyTable) -> Evidence:
    """The evidence behind ``table``'s intervals (computed once per table content, see the module docstring)."""
    cached = _EVIDENCE.get(table.hash)
    if cached is None:
        cached = _EVIDENCE[table.hash] = _derive(table)
    return cached


def _derive(table: LatencyTable) -> Evidence:
    record = table.provenance.get("interval")
    if isinstance(record, dict) and record.get("log_residuals"):
        return _from_record(record)
    path = evidence_path(table)
    try:
        stored = json.loads(path.read_text())
        if isinstance(stored, dict) and stored.get("table_hash") == table.hash:
            return _from_record(stored)
    except (OSError, ValueError):
        pass
    record = _fit_record(table)
    if record is None:
        return _recorded_spread(table)
    try:
        write_json(path, {**record, "table_hash": table.hash}, indent=1)
    except OSError:
        pass  # a read-only home: derived again next time
    return _from_record(record)


def _fit_record(table: LatencyTable) -> dict[str, Any] | None:
    """The evidence record of an estimated or calibrated table from its provenance's per-row LOO predictions."""
    prov = table.provenance
    if table.method == "estimated" and isinstance(prov.get("rows"), list):
        from nas.latency.iphone import ARCHS

        rows = [r for r in prov["rows"] if isinstance(r, dict) and r.get("arch") in ARCHS and r.get("loo_ms")]
        if len(rows) >= 2:
            cfgs = {a: ARCHS[a]() for a in sorted({r["arch"] for r in rows})}
            return evidence_record(
                [cfgs[r["arch"]] for r in rows], [float(r["published_ms"]) for r in rows],
                [float(r["loo_ms"]) for r in rows],
                source=f"cost-model fit, leave-one-network-out on its {len(rows)} published rows")
    calibration = prov.get("calibration") if isinstance(prov.get("calibration"), dict) else {}
    networks = [n for n in calibration.get("networks") or [] if isinstance(n, dict) and "loo_ms" in n]
    if table.method == "calibrated" and len(networks) >= 2:
        cfgs = [ArchConfig.from_dict(n["arch"]) for n in networks]
        return evidence_record(
            cfgs, [float(n["measured_ms"]) for n in networks], [float(n["loo_ms"]) for n in networks],
            source=f"calibration, leave-one-out on its {len(networks)} networks")
    return None


def _recorded_spread(table: LatencyTable) -> Evidence:
    """A measured table's evidence: the error its profile's calibration recorded, or the stated default."""
    calibration = table.provenance.get("calibration")
    calibration = calibration if isinstance(calibration, dict) else {}
    kinds = frozenset(key.split("|", 1)[0] for key in table.entries)
    ranges = {"resolution": (float(table.resolution), float(table.resolution))}
    mape = calibration.get("mape_loo")
    if isinstance(mape, (int, float)) and mape > 0:
        count = calibration.get("count")
        rows = len(calibration.get("networks") or []) or (int(count) if isinstance(count, int) else 0)
        spread = float(mape) / 100 * math.sqrt(math.pi / 2)
        return Evidence((), spread, rows, f"profile calibration's leave-one-out error {mape}% over {rows} networks",
                        ranges, kinds)
    spread = math.log1p(DEFAULT_RELATIVE_ERROR)
    return Evidence((), spread, 0, f"no recorded error: a default of {DEFAULT_RELATIVE_ERROR:.0%} assumed", ranges,
                    kinds, default=True)


# ----------------------------------------------------------------------------- the estimate
def estimate_latency(cfg: ArchConfig, table: LatencyTable, *, level: float = DEFAULT_LEVEL,
                     stats: tuple[int, int] | None = None) -> LatencyEstimate:
    """The predicted latency of ``cfg`` on ``table`` with its ``level`` interval.

    Args:
        level: the interval's probability, in (0, 1).
        stats: (params, MACs) of ``cfg`` when already counted (else counted here, when the evidence has a
            MACs or params range).

    Raises:
        ConfidenceError: ``level`` outside (0, 1).
        MissingKeysError: the table cannot price the network.
    """
    from scipy.stats import t

    from nas.latency.predict import predict_latency

    level = check_level(level, flag="level")
    prediction = predict_latency(cfg, table)
    point = float(prediction.total_ms)
    evidence = table_evidence(table)
    outside, widen = _outside(cfg, prediction, evidence, stats)
    n = max(evidence.rows, 1)
    spread = evidence.spread * widen * (math.sqrt(1 + 1 / n) if not evidence.default else 1.0)
    half = float(t.ppf((1 + level) / 2, evidence.dof)) * spread
    return LatencyEstimate(ms=point, low_ms=point * math.exp(-half), high_ms=point * math.exp(half), level=level,
                           outside=outside, widen=widen, spread=spread, dof=evidence.dof, method=table.method,
                           evidence=evidence.source)


def _outside(cfg: ArchConfig, prediction: Any, evidence: Evidence,
             stats: tuple[int, int] | None) -> tuple[tuple[str, ...], float]:
    """(axes where ``cfg`` lies outside the evidence's range, the factor on the spread).

    A block kind no fitted network contains counts when its blocks carry at least :data:`KIND_SHARE` of the
    network's predicted time (a reshape between stages does not make a network unlike the fitted ones)."""
    if stats is None and not ({"macs", "params"} & set(evidence.ranges)):
        stats = (0, 0)  # not compared: no need to build the network
    facts = network_facts(cfg, stats=stats)
    facts["latency"] = prediction.total_ms
    outside: list[str] = []
    worst = 1.0
    for axis in AXES:
        if axis not in evidence.ranges:
            continue
        low, high = evidence.ranges[axis]
        value = facts[axis]
        if value <= 0 or low <= 0:
            continue
        ratio = max(value / high, low / value)
        if ratio > 1 + 1e-9:
            outside.append(axis)
            worst = max(worst, ratio)
    unseen: list[str] = []
    if evidence.kinds is not None and prediction.total_ms > 0:
        share: dict[str, float] = {}
        for _, kind, ms in prediction.per_block:
            if kind not in evidence.kinds:
                share[kind] = share.get(kind, 0.0) + ms / prediction.total_ms
        unseen = sorted(kind for kind, part in share.items() if part >= KIND_SHARE)
    if unseen:
        outside.append("kinds:" + ",".join(unseen))
    return tuple(outside), 1.0 + WIDEN_PER_DOUBLING * math.log2(worst) + WIDEN_PER_KIND * len(unseen)
