"""Adapt a latency table to another target from a few whole-network timings (``nas latency calibrate``).

A measured table is true on the machine it was measured on; profiling every block again takes minutes on a
CPU and is impractical on a phone. Calibration keeps the base table's block entries and refits how they add
up on the new target, from K whole networks timed there:

    measured_ms(network) ~= c0 + sum over kinds k of scale[k] * (base table ms of the network's blocks of kind k)

in two steps, both with the profiler's own fit (:func:`nas.latency.profile.fit_kind_scales`: relative least
squares, ridge toward the prior, its strength by leave-one-out): first one overall scale and ``c0``; then a
scale per block kind present in the networks, pulled toward the overall scale (a kind absent from every
network keeps it). The data pin down the kinds that carry the largest share of some timed network's time
(:func:`dominant_kinds`); the ridge holds the others near the overall scale. So K networks may fit at most
K - 1 such kinds (the fit also has the per-network constant): fewer networks are refused. The leave-one-out
error repeats both steps without each network in turn and predicts it.

The networks come from the target (``--timings FILE.csv``, e.g. an iPhone's Xcode performance reports of
exported models) or are measured here with the base table's runtime, threads and clock
(:func:`choose_networks`: for each kind that dominates some network, the network where it weighs most, then
the spread of the latency range, among the space's presets and seeded samples). The result is a new table, ``method:
calibrated``, whose provenance names the base table and its hash, the networks and their timings, the
scales and the leave-one-out error. The base table is never written.
"""

from __future__ import annotations

import datetime as _dt
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nas.config import ArchConfig
from nas.errors import UsageError
from nas.latency.host import HostFingerprint, host_fingerprint, runtime_version
from nas.latency.measure import (
    CalibrationError,
    NetworkTiming,
    measure_for_table,
    read_timings,
    timing_backend,
    timings_runtime_version,
)
from nas.latency.store import check_table_name, loo_problems, scale_problems, user_table_path, write_user_table
from nas.latency.table import LatencyTable, MissingKeysError

DEFAULT_NETWORKS = 10
CANDIDATE_SAMPLES = 200  # seeded members of the space the measured networks are chosen from (beside presets)
CHOICE_SEED = 20_251_203  # its own seed: never the validation samples' (seed 0..)


@dataclass
class CalibrationFit:
    """Per-kind scales and the per-network constant fitted to whole-network timings, with their errors."""

    scales: dict[str, float]  # every kind of the base table -> factor on its entries
    c0_ms: float  # the new per-network overhead
    overall_scale: float
    fitted_kinds: list[str]  # the kinds that dominate some network (dominant_kinds): the ones the data pins down
    ridge: float | None
    networks: list[dict[str, Any]] = field(default_factory=list)  # name, measured, base, fitted, loo ms
    mape_base: float = 0.0  # the base table as it is
    mape_fit: float = 0.0  # in sample
    mape_loo: float = 0.0  # leave one network out (both steps refitted)
    max_ape_loo: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The ``provenance.calibration`` record."""
        return {
            "model": "measured_ms = c0 + sum_kind scale[kind] * base_ms[kind]; overall scale and c0 first, then "
                     "a scale per kind present in the networks, ridge toward the overall scale (relative least "
                     "squares, strength by leave-one-out); fitted_kinds: the kinds that carry the largest share of "
                     "some network",
            "scales": self.scales, "c0_ms": self.c0_ms, "overall_scale": self.overall_scale,
            "fitted_kinds": self.fitted_kinds, "ridge": self.ridge, "mape_base": self.mape_base,
            "mape_fit": self.mape_fit, "mape_loo": self.mape_loo, "max_ape_loo": self.max_ape_loo,
            "networks": self.networks,
        }


# ----------------------------------------------------------------------------- choosing networks to measure
def table_kinds(table: LatencyTable) -> list[str]:
    """The block kinds of ``table``'s entries, sorted."""
    return sorted({key.split("|", 1)[0] for key in table.entries})


def kind_rows(cfgs: list[ArchConfig], table: LatencyTable) -> tuple[list[str], list[list[float]]]:
    """The table's kinds and, per network, the table's ms of its blocks of each kind.

    Raises:
        MissingKeysError: a network has a block the table lacks.
    """
    from nas.latency.predict import predict_latency

    kinds = table_kinds(table)
    index = {k: i for i, k in enumerate(kinds)}
    rows = []
    for cfg in cfgs:
        row = [0.0] * len(kinds)
        for _, kind, ms in predict_latency(cfg, table).per_block:
            row[index[kind]] += ms
        rows.append(row)
    return kinds, rows


def dominant_kinds(kinds: list[str], rows: list[list[float]]) -> list[str]:
    """The kinds that carry the largest share of at least one network's time (``rows``: ms per kind)."""
    return sorted({kinds[max(range(len(kinds)), key=row.__getitem__)] for row in rows if any(row)})


def choose_networks(space: Any, table: LatencyTable, *, count: int = DEFAULT_NETWORKS,
                    seed: int = CHOICE_SEED) -> list[ArchConfig]:
    """``count`` networks of ``space`` that cover its block kinds and latency range on ``table``.

    Among the space's presets and :data:`CANDIDATE_SAMPLES` seeded members: first, for each kind that
    dominates some candidate (in decreasing order of its largest share), the network where it carries the
    largest share of the time; then the fastest and slowest networks; then, until ``count``, the network
    farthest in log-latency from those chosen.

    Raises:
        CalibrationError: ``count`` is fewer than :func:`fit_calibration` needs of networks of this space (the
            kinds that dominate some candidate, plus one), so timing them could not calibrate the table.
    """
    from nas.space_members import sample_members

    cfgs = [space.config_from_params(space.preset_params(n)).replace(name=n) for n in space.presets_in_space()]
    samples = sample_members(space, samples=min(CANDIDATE_SAMPLES, space.size()), seed=seed)
    cfgs += [cfg.replace(name=f"calib-{i}") for i, (_, cfg) in enumerate(samples)]
    priced = []
    for cfg in cfgs:
        try:
            priced.append((cfg, kind_rows([cfg], table)[1][0]))
        except MissingKeysError:
            continue
    if not priced:
        raise CalibrationError(f"table '{table.device}' prices no network of space '{space.name}'")
    kinds = table_kinds(table)
    totals = [sum(row) for _, row in priced]
    shares = [[v / t for v in row] for (_, row), t in zip(priced, totals)]
    chosen: list[int] = []
    dominant = [kinds.index(k) for k in dominant_kinds(kinds, [row for _, row in priced])]
    if count < len(dominant) + 1:  # what fit_calibration needs of any set these networks come from
        raise CalibrationError(
            f"--networks {count} is too few: the networks of space '{space.name}' are dominated by {len(dominant)} "
            f"block kinds on '{table.device}' ({', '.join(kinds[k] for k in sorted(dominant))}), so a calibration "
            f"needs at least {len(dominant) + 1} (one per kind and the per-network overhead): pass --networks "
            f"{len(dominant) + 1} or more")
    for k in sorted(dominant, key=lambda k: -max(s[k] for s in shares)):
        best = max(range(len(priced)), key=lambda i: shares[i][k])
        if best not in chosen and len(chosen) < count:
            chosen.append(best)
    for extreme in (min(range(len(priced)), key=totals.__getitem__), max(range(len(priced)), key=totals.__getitem__)):
        if extreme not in chosen and len(chosen) < count:
            chosen.append(extreme)
    while len(chosen) < min(count, len(priced)):
        far = max((i for i in range(len(priced)) if i not in chosen),
                  key=lambda i: min(abs(math.log(totals[i] / totals[j])) for j in chosen))
        chosen.append(far)
    return [priced[i][0] for i in sorted(chosen, key=totals.__getitem__)]


def measure_networks(cfgs: list[ArchConfig], table: LatencyTable, *,
                     progress: Callable[[str], None] | None = None) -> list[NetworkTiming]:
    """Time each network end to end here with the table's runtime, threads and clock.

    Raises:
        CalibrationError: this machine cannot time the table's runtime.
    """
    timing_backend(table, role="base table", error=CalibrationError,
                   instead="time the networks on the device and pass --timings FILE.csv (--export DIR writes them)")
    out = []
    for i, cfg in enumerate(cfgs, start=1):
        result = measure_for_table(cfg, table)
        out.append(NetworkTiming(cfg.name, cfg, result["latency_ms"]))
        if progress:
            progress(f"{i}/{len(cfgs)} {cfg.name}: {result['latency_ms']:.2f} ms measured")
    return out


# ----------------------------------------------------------------------------- fit
def fit_calibration(base: LatencyTable, timings: list[NetworkTiming]) -> CalibrationFit:
    """Fit the per-kind scales and per-network constant of ``timings`` on ``base`` (see the module docstring).

    Raises:
        CalibrationError: fewer networks than block kinds to fit (plus the constant), or a network the base
            table cannot price (names it).
    """
    import numpy as np

    xs = []
    for t in timings:
        try:
            kinds, rows = kind_rows([t.cfg], base)
        except MissingKeysError as exc:
            at = (f" (the network is at resolution {t.cfg.resolution}, the table at {base.resolution}: time it at "
                  f"{base.resolution}, e.g. nas latency measure --resolution {base.resolution})"
                  if t.cfg.resolution != base.resolution else "")
            raise CalibrationError(f"{t.where or t.name}: table '{base.device}' lacks {len(exc.keys)} of its block "
                                   f"keys, so it cannot be calibrated on it{at}") from None
        xs.append(rows[0])
    x, y = np.asarray(xs, float), np.asarray([t.latency_ms for t in timings], float)
    fitted = dominant_kinds(kinds, xs)
    if len(timings) < len(fitted) + 1:
        raise CalibrationError(
            f"{len(timings)} network(s) cannot fit {len(fitted)} block kinds ({', '.join(fitted)}: each dominates "
            f"one of them) and the per-network overhead: give at least {len(fitted) + 1} networks timed on the "
            "target, some dominated by the same kind")
    cols = [i for i in range(len(kinds)) if x[:, i].max() > 0]  # kinds absent from every network: overall
    scales, c0, overall, ridge = _two_step(x, y, cols)
    predicted = x @ scales + c0
    loo = np.empty(len(y))
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        s_i, c_i, _, _ = _two_step(x[keep], y[keep], cols)
        loo[i] = x[i] @ s_i + c_i
    base_pred = x.sum(axis=1) + base.network_overhead_ms
    ape = lambda p: np.abs(p - y) / y * 100  # noqa: E731 - a one-line metric
    networks = [
        {"name": t.name, "rows": list(t.rows), "measured_ms": round(t.latency_ms, 4), "base_ms": round(b, 4),
         "fitted_ms": round(f, 4), "loo_ms": round(lo, 4), "loo_error_pct": round((lo - t.latency_ms) / t.latency_ms
                                                                                    * 100, 2),
         "arch": t.cfg.to_dict()}
        for t, b, f, lo in zip(timings, base_pred, predicted, loo)
    ]
    return CalibrationFit(
        scales={k: round(float(s), 5) for k, s in zip(kinds, scales)}, c0_ms=round(float(c0), 5),
        overall_scale=round(overall, 5), fitted_kinds=fitted, ridge=ridge, networks=networks,
        mape_base=round(float(ape(base_pred).mean()), 2), mape_fit=round(float(ape(predicted).mean()), 2),
        mape_loo=round(float(ape(loo).mean()), 2), max_ape_loo=round(float(ape(loo).max()), 2),
    )


def _two_step(x: Any, y: Any, cols: list[int]) -> tuple[Any, float, float, float | None]:
    """(scale per kind, c0, overall scale, ridge): overall scale and c0, then the ``cols`` kinds around it.

    ``x`` is (networks, kinds) base ms, ``y`` the measured ms; kinds not in ``cols`` keep the overall scale.
    """
    import numpy as np

    from nas.latency.profile import fit_kind_scales

    overall_fit = fit_kind_scales(x.sum(axis=1, keepdims=True).tolist(), y.tolist(), ["all"])
    overall = float(overall_fit["scales"]["all"])
    scales = np.full(x.shape[1], overall)
    if not cols:
        return scales, float(overall_fit["c0_ms"]), overall, overall_fit["ridge"]
    rest = np.delete(x, cols, axis=1).sum(axis=1) * overall  # kinds that keep the overall scale
    fit = fit_kind_scales((x[:, cols] * overall).tolist(), (y - rest).tolist(), [str(c) for c in cols])
    for c in cols:
        scales[c] = overall * fit["scales"][str(c)]
    return scales, float(fit["c0_ms"]), overall, fit["ridge"]


# ----------------------------------------------------------------------------- the calibrated table
def calibrated_table(base: LatencyTable, fit: CalibrationFit, *, device: str, source: str,
                     fingerprint: HostFingerprint | None = None, runtime_version: str | None = None) -> LatencyTable:
    """A new ``calibrated`` table: every base entry times its kind's scale, ``c0`` per network, provenance."""
    from nas import __version__

    # the base's entries, and those its cost model priced beyond its file (an estimated base): all are scaled
    entries = {key: {"ms": round(float(entry["ms"]) * fit.scales.get(key.split("|", 1)[0], fit.overall_scale), 6)}
               for key, entry in {**base.added, **base.entries}.items()}
    prov = base.provenance
    provenance: dict[str, Any] = {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "tool_version": __version__,
        "source": source, "statistic": prov.get("statistic", "median"),
        "base": {"device": base.device, "hash": base.hash, "method": base.method,
                 "path": str(base.path) if base.path else None},
        "calibration": fit.to_dict(),
    }
    for name in ("space", "space_path", "keys_total", "complete", "clock", "timing_policy"):
        if name in prov:
            provenance[name] = prov[name]
    if fingerprint:
        provenance["fingerprint"] = fingerprint.to_dict()
    block_scales = prov.get("calibration", {}).get("scales") if base.method == "measured" else prov.get("block_scales")
    if block_scales:  # how blocks timed alone add up inside a network: for keys measured later (--only-missing)
        provenance["block_scales"] = block_scales
    return LatencyTable(
        device=device, runtime=base.runtime, method="calibrated", resolution=base.resolution, batch=base.batch,
        threads=base.threads, runtime_version=runtime_version or base.runtime_version,
        compute_unit=base.compute_unit, network_overhead_ms=round(fit.c0_ms, 5), provenance=provenance,
        entries=entries,
    )


def calibration_checks(base: LatencyTable, fit: CalibrationFit) -> Callable[[LatencyTable], list[str]]:
    """The sanity check of a calibration for :func:`nas.latency.store.write_user_table`: the median ratio of the
    timings to the base table's prices and every fitted scale within :data:`~nas.latency.store.SCALE_RANGE`, an
    overhead between 0 and the fastest network timed, a leave-one-out error within
    :data:`~nas.latency.store.MAX_LOO_MEAN_PCT` (mean) and :data:`~nas.latency.store.MAX_LOO_MAX_PCT` (worst
    network)."""

    def check(table: LatencyTable) -> list[str]:
        ratios = sorted(net["measured_ms"] / net["base_ms"] for net in fit.networks if net["base_ms"] > 0)
        problems = (scale_problems({"the timings' median ratio to its prices": ratios[len(ratios) // 2]},
                                   base=base.device) if ratios else [])
        problems += scale_problems({"overall scale": fit.overall_scale,
                                    **{f"{kind} scale": s for kind, s in fit.scales.items()}}, base=base.device)
        fastest = min((net["measured_ms"] for net in fit.networks), default=math.inf)
        if not 0 <= fit.c0_ms <= fastest:
            problems.append(f"overhead {fit.c0_ms:.4g} ms per network is outside 0 to the fastest network timed "
                            f"({fastest:.4g} ms)")
        return problems + loo_problems(fit.mape_loo, fit.max_ape_loo)

    return check


# ----------------------------------------------------------------------------- a calibration, start to end
@dataclass(frozen=True)
class CalibrationTimings:
    """Whole-network timings to calibrate on, and where they were made (for the new table's provenance)."""

    timings: list[NetworkTiming]
    source: str
    fingerprint: HostFingerprint | None = None  # this machine's, when they were timed here
    runtime_version: str | None = None  # the runtime's version, when the timings say one


def calibration_path(name: str, base: LatencyTable, *, tables_dir: str | Path | None = None,
                     force: bool = False) -> Path:
    """Where the calibration of ``base`` named ``name`` is written: never the base table, never a shipped name,
    never over a table without ``force`` (checked before any timing).

    Raises:
        UsageError: the name is refused (names the rule).
    """
    check_table_name(name)
    if name == base.device:
        raise UsageError(f"--as {name} is the base table's name: choose another name (the base table is never "
                         "overwritten)")
    return user_table_path(name, tables_dir=tables_dir, force=force)


def timings_from_csv(path: str | Path, base: LatencyTable) -> CalibrationTimings:
    """The timings of a CSV made on the target (:func:`nas.latency.measure.read_timings`)."""
    timings = read_timings(path, base=base)
    return CalibrationTimings(timings, f"timings CSV {path} ({len(timings)} networks timed on the target)",
                              runtime_version=timings_runtime_version(timings))


def timings_here(cfgs: list[ArchConfig], base: LatencyTable, space: Any, *,
                 progress: Callable[[str], None] | None = None) -> CalibrationTimings:
    """``cfgs`` (networks of ``space``) timed on this machine as :func:`measure_networks` times them."""
    started = time.perf_counter()
    timings = measure_networks(cfgs, base, progress=progress)
    source = (f"measured here by nas latency calibrate ({len(timings)} networks of space '{space.name}', "
              f"{time.perf_counter() - started:.0f} s)")
    return CalibrationTimings(timings, source, host_fingerprint(base.runtime, threads=base.threads),
                              runtime_version(base.runtime))


def write_calibration(base: LatencyTable, timed: CalibrationTimings, *, device: str,
                      tables_dir: str | Path | None = None,
                      force: bool = False) -> tuple[LatencyTable, CalibrationFit, Path]:
    """Fit ``timed`` on ``base`` and write the calibrated table ``device`` through the guarded writer
    (:func:`nas.latency.store.write_user_table` with :func:`calibration_checks`). Returns (table, fit, path).

    Raises:
        CalibrationError: the timings cannot fit the table.
        TableWriteError: the table fails its checks (without ``force``) or may not be written there.
    """
    fit = fit_calibration(base, timed.timings)
    table = calibrated_table(base, fit, device=device, source=timed.source, fingerprint=timed.fingerprint,
                             runtime_version=timed.runtime_version)
    path = write_user_table(table, tables_dir=tables_dir, force=force, checks=[calibration_checks(base, fit)])
    return table, fit, path
