"""An estimated table for a device no base table covers, fitted to its whole-network timings.

``nas tables fit --timings FILE.csv --as NAME`` fits the cost model the iPhone 12 table uses (the per-op features
of every block, :func:`nas.latency.costmodel.network_features`, priced by non-negative coefficients,
:func:`~nas.latency.costmodel.fit_nonneg` on relative error) to networks timed on the user's device (the CSV
``nas latency calibrate --timings`` reads: :func:`nas.latency.measure.read_timings`), and writes an
``estimated`` table whose cost model prices any block on demand (:mod:`nas.latency.extend`), like ``iphone12``.

The iPhone fit mixes published protocols and fits a scale per protocol; a user's timings are one protocol, so
the fit has no scales: ``latency_ms = overhead + sum_g coef[g] * features_g``, with the groups of the iPhone
model (:data:`nas.latency.iphone.GROUPS`) except that HardSwish is an activation like the others (the iPhone
table prices it from a published LeViT pair; here the timings do) and a per-network overhead (the table's
``network_overhead_ms``: a runtime call costs something on every device) is fitted too. BatchNorm stays
unpriced: every deployment runtime folds it into the convolution before it. No lower bound but zero: the
iPhone's MAC floor is the A14's peak, not this device's.

The leave-one-out error drops each network in turn, refits and predicts it; its residuals and the range of the
timed networks (MACs, parameters, latency, resolution, block kinds) are the table's interval evidence
(:func:`nas.latency.interval.evidence_record`), so predictions outside that range get wider intervals.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nas.errors import UsageError
from nas.latency.costmodel import CostModel, fit_nonneg, network_features
from nas.latency.iphone import GROUPS as IPHONE_GROUPS
from nas.latency.measure import CalibrationError, NetworkTiming
from nas.latency.table import LatencyTable

GROUPS: dict[str, tuple[str, ...]] = {
    **IPHONE_GROUPS, "act": (*IPHONE_GROUPS["act"], "hardswish_el"), "network": ("networks",)}
UNPRICED = ("batchnorm_el",)
MIN_NETWORKS = len(GROUPS) + 1  # every leave-one-out fit still has as many networks as terms
PROTOCOL = "timings"  # the one protocol of a user's timings CSV


@dataclass
class TimingsFit:
    """The cost model fitted to one device's timings, with in-sample and leave-one-network-out predictions."""

    model: CostModel  # coefficients rounded as the table stores them (its entries and on-demand prices agree)
    timings: list[NetworkTiming]
    fit_ms: list[float]
    loo_ms: list[float]

    @property
    def overhead_ms(self) -> float:
        """The fitted per-network cost (the table's ``network_overhead_ms``)."""
        return float(self.model.coef_ms["network"])

    @property
    def loo_ape(self) -> list[float]:
        """Leave-one-network-out absolute percentage error of each timed network."""
        return [abs(p - t.latency_ms) / t.latency_ms * 100 for p, t in zip(self.loo_ms, self.timings)]

    @property
    def loo_mape(self) -> float:
        """Mean of :attr:`loo_ape`."""
        return float(np.mean(self.loo_ape))

    @property
    def loo_max(self) -> float:
        """Largest of :attr:`loo_ape`."""
        return float(np.max(self.loo_ape))

    def networks(self) -> list[dict[str, Any]]:
        """Per network: name, CSV rows, measured, fitted and left-out ms, left-out error, config."""
        return [{"name": t.name, "rows": list(t.rows), "measured_ms": round(t.latency_ms, 4), "fitted_ms": round(f, 4),
                 "loo_ms": round(lo, 4), "loo_error_pct": round((lo - t.latency_ms) / t.latency_ms * 100, 2),
                 "arch": t.cfg.to_dict()}
                for t, f, lo in zip(self.timings, self.fit_ms, self.loo_ms)]


def _rounded(coef: np.ndarray) -> CostModel:
    return CostModel(GROUPS, {g: float(f"{c:.6g}") for g, c in zip(GROUPS, coef)})


def fit_timings(timings: list[NetworkTiming], *, where: str = "the timings",
                progress: Callable[[int, int], None] | None = None) -> TimingsFit:
    """Fit the cost model to ``timings`` (one network each), with leave-one-network-out predictions;
    ``progress(networks counted, networks)`` as their op features are counted.

    Raises:
        CalibrationError: fewer networks than :data:`MIN_NETWORKS` (says how many are needed).
    """
    if len(timings) < MIN_NETWORKS:
        raise CalibrationError(
            f"{where}: {len(timings)} network(s) cannot fit the cost model's {len(GROUPS)} terms "
            f"({', '.join(GROUPS)}) with a leave-one-out error: give at least {MIN_NETWORKS} distinct networks "
            "timed on the device")
    base = CostModel(GROUPS)
    rows = []
    for n, t in enumerate(timings, start=1):
        rows.append(base.design(network_features(t.cfg)))
        if progress:
            progress(n, len(timings))
    X = np.array(rows)
    y = np.array([t.latency_ms for t in timings])
    unit = float(np.median(y))  # fitted in units of the median time: 1 / y of 1e-300 ms times 1e9 MACs overflows

    def solve(keep: np.ndarray) -> np.ndarray:
        return fit_nonneg(X[keep], y[keep] / unit, weights=unit / y[keep]) * unit

    everyone = np.ones(len(y), dtype=bool)
    model = _rounded(solve(everyone))
    fit_ms = [float(v) for v in X @ np.array([model.coef_ms[g] for g in GROUPS])]
    loo_ms = [float(X[i] @ solve(np.arange(len(y)) != i)) for i in range(len(y))]
    return TimingsFit(model=model, timings=list(timings), fit_ms=fit_ms, loo_ms=loo_ms)


def timings_runtime(timings: list[NetworkTiming], runtime: str | None = None, *, where: str = "the timings") -> str:
    """The runtime a table fitted to ``timings`` is of: ``runtime`` if given, else the one the rows name, else
    ``unknown``.

    Raises:
        UsageError: the rows name several runtimes and ``runtime`` is not given (one table is one runtime).
    """
    runtimes = sorted({t.runtime for t in timings if t.runtime})
    if runtime is None and len(runtimes) > 1:
        raise UsageError(f"{where}: the rows were timed with several runtimes ({', '.join(runtimes)}); one "
                         "table is one device and runtime: fit each runtime's rows apart")
    return runtime or (runtimes[0] if runtimes else "unknown")


def timings_blocks(timings: list[NetworkTiming]) -> dict[str, Any]:
    """Block key -> spec of what a table fitted to ``timings`` writes into its file: the blocks of the timed
    networks and of the presets."""
    from nas.models.plan import distinct_blocks
    from nas.models.presets import PRESETS

    return dict(distinct_blocks([t.cfg for t in timings] + [p.config for p in PRESETS.values()]))


def estimated_table(result: TimingsFit, specs: Iterable[Any], *, device: str, source: Path, csv_rows: int,
                    resolution: int, runtime: str, runtime_version: str = "", space: str | None = None,
                    progress: Callable[[int, int], None] | None = None) -> LatencyTable:
    """The ``estimated`` table of ``result``: the model's price of every block of ``specs``, with provenance.

    Args:
        specs: the blocks to write into the file (the timed networks', the presets', a space's); any other
            block is priced on demand by the same model.
        source: the timings CSV; ``csv_rows`` how many timing rows it held.
        resolution: the table's resolution (that of the space its entries cover, or of the timed networks).
    """
    from nas import __version__
    from nas.latency.costmodel import block_features
    from nas.latency.interval import evidence_record

    count = len(result.timings)
    evidence = evidence_record([t.cfg for t in result.timings], [t.latency_ms for t in result.timings],
                               result.loo_ms, source=f"cost-model fit, leave-one-network-out on its {count} timed "
                                                     "networks")  # builds each network once: seconds apiece
    specs = sorted({s.key: s for s in specs}.items())
    entries: dict[str, dict[str, Any]] = {}
    for n, (key, spec) in enumerate(specs, start=1):
        entries[key] = {"ms": round(result.model.predict_ms(block_features(spec)), 6)}
        if progress:
            progress(n, len(specs))
    networks = result.networks()
    provenance: dict[str, Any] = {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "tool_version": __version__,
        "source": f"cost model fitted to {count} networks timed on the device ({source.name}, nas tables fit "
                  "--timings)",
        "timings_file": str(source), "timings_rows": csv_rows, "statistic": "as timed (repeated rows averaged)",
        "protocol": PROTOCOL,
        "protocol_description": "one protocol: the user's timings, so no protocol scales",
        "model": "latency_ms = sum_g coef_ms[g] * sum(features of group g); features counted per aten op of each "
                 "block built alone (nas.latency.costmodel); group 'network' (one per network) is the table's "
                 "network_overhead_ms",
        "groups": {g: list(fs) for g, fs in GROUPS.items()},
        "unpriced_features": list(UNPRICED),
        "coef_ms": dict(result.model.coef_ms),
        "constraints": "coefficients >= 0 (relative least squares)",
        "loo": "leave-one-network-out: each network dropped in turn, the coefficients refitted, the network predicted",
        "loo_mape_pct": round(result.loo_mape, 2), "loo_max_pct": round(result.loo_max, 2),
        "calibration": {"networks": networks, "mape_loo": round(result.loo_mape, 2),
                        "max_ape_loo": round(result.loo_max, 2)},
        "interval": evidence,
        "keys": "every block of the timed networks and of the presets at their own resolution"
                + (f", and of space '{space}' at {resolution} px" if space else "")
                + "; other blocks are priced by the cost model on demand",
    }
    return LatencyTable(device=device, runtime=runtime, method="estimated", resolution=resolution, batch=1,
                        threads=None, runtime_version=runtime_version, compute_unit="unknown",
                        network_overhead_ms=result.overhead_ms, provenance=provenance, entries=entries)


def fit_checks(result: TimingsFit) -> Callable[[LatencyTable], list[str]]:
    """The sanity check of a fit for :func:`nas.latency.store.write_user_table`: its leave-one-out error within
    the bounds every written table meets (:func:`nas.latency.store.loo_problems`)."""
    from nas.latency.store import loo_problems

    def check(table: LatencyTable) -> list[str]:
        return loo_problems(result.loo_mape, result.loo_max)

    return check
