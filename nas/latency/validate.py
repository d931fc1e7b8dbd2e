"""Prove a table against the device: predicted vs measured latency of random networks of a space.

For a ``measured`` or ``calibrated`` table, ``validate_table`` draws N architectures of the space with Optuna's
seeded RandomSampler
(the way a search samples: family first, then each choice), measures each end to end with the table's
runtime, threads and clock, and compares with the prediction; FLOPs and parameter count are scored as
predictors beside it. The networks the table was calibrated on are never among the samples. For an
``estimated`` table (no device here), it compares with the published rows instead
(``nas.latency.iphone.validate_published``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nas.config import ArchConfig
from nas.errors import UsageError
from nas.latency.backends import TimingPolicy, get_backend
from nas.latency.predict import predict_latency
from nas.latency.table import LatencyTable


def measure_latency(cfg: ArchConfig, *, runtime: str = "onnxruntime", threads: int = 1,
                    policy: TimingPolicy | None = None) -> dict[str, Any]:
    """End-to-end median latency of ``cfg`` on this machine (batch 1, deploy resolution)."""
    import torch

    from nas.latency.profile import network_policy
    from nas.models.builder import build_model

    backend = get_backend(runtime)
    policy = policy or network_policy(TimingPolicy(clock="thread" if threads == 1 else "wall"))
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    x = torch.randn(1, cfg.in_chans, cfg.resolution, cfg.resolution)
    timing = backend.measure(model, x, threads=threads, policy=policy)
    return {"arch": cfg.name, "resolution": cfg.resolution, "latency_ms": round(timing.median_ms, 4),
            "p25_ms": round(timing.p25_ms, 4),
            "p75_ms": round(timing.p75_ms, 4), "runs": timing.runs, "runtime": backend.name,
            "runtime_version": backend.runtime_version(), "threads": threads, "clock": policy.clock,
            "statistic": "median"}


TIMINGS_HEADER = ("arch", "latency_ms", "resolution", "runtime", "runtime_version", "threads", "clock", "date")


def append_timings(path: str | Path, result: dict[str, Any]) -> None:
    """Append one :func:`measure_latency` result to a timings CSV (header written when the file is new).

    A config path is written relative to the CSV's folder, so the file and its configs move together;
    ``nas latency calibrate --timings`` reads it.
    """
    import csv
    import datetime as dt
    import os

    path = Path(path)
    arch = str(result["arch"])
    if Path(arch).is_file():
        arch = os.path.relpath(Path(arch).resolve(), path.resolve().parent)
    if path.exists() and path.stat().st_size:
        with path.open(newline="") as fh:
            header = next(csv.reader(fh), [])
        if tuple(header) != TIMINGS_HEADER:
            raise UsageError(f"{path}: exists with the columns {','.join(header)}, not {','.join(TIMINGS_HEADER)}; "
                             "give another --csv file")
        new = False
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        new = True
    row = [arch, result["latency_ms"], result["resolution"], result["runtime"], result["runtime_version"],
           result["threads"], result["clock"], dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")]
    with path.open("a", newline="") as fh:
        writer = csv.writer(fh)
        if new:
            writer.writerow(TIMINGS_HEADER)
        writer.writerow(row)


def rank_metrics(predicted: list[float], measured: list[float]) -> dict[str, float]:
    """within_10pct (share), mape (%), spearman, kendall of ``predicted`` against ``measured``."""
    from scipy.stats import kendalltau, spearmanr

    errs = [abs(p - m) / m for p, m in zip(predicted, measured)]
    return {
        "within_10pct": sum(e <= 0.10 for e in errs) / len(errs),
        "mape": 100 * sum(errs) / len(errs),
        "spearman": float(spearmanr(predicted, measured).statistic),
        "kendall": float(kendalltau(predicted, measured).statistic),
    }


def table_space(table: LatencyTable, space: Any = None) -> Any:
    """``space`` (a SearchSpace, name or YAML path), else the space ``table`` was made for (its YAML file if
    that was not a shipped space), else the default space."""
    from nas.errors import UnknownNameError
    from nas.space import DEFAULT_SPACE, load_space

    if space is not None and not isinstance(space, str):
        return space
    if space:
        return load_space(space)
    prov = table.provenance
    try:
        return load_space(prov.get("space") or DEFAULT_SPACE)
    except UnknownNameError:
        if prov.get("space_path") and Path(prov["space_path"]).is_file():
            return load_space(prov["space_path"])
        raise


def validate_table(table: LatencyTable, *, space: Any = None, samples: int = 50, seed: int = 0,
                   progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Predicted vs measured on ``samples`` seeded random networks (or published rows for estimates).

    Returns within_10pct, mape, spearman, kendall, flops_spearman, params_spearman, samples, and one
    row per network.
    """
    if table.method == "estimated":
        from nas.latency.iphone import validate_published

        return validate_published(table)
    if not get_backend(table.runtime).can_time:
        raise UsageError(f"table '{table.device}' is a {table.runtime} table, which cannot be timed on this machine; "
                         "validate it on the device (its calibration's leave-one-out error is in `nas devices "
                         "--json`)")
    from scipy.stats import spearmanr

    from nas.latency.calibrate import fitted_configs
    from nas.latency.profile import CALIBRATION_SEED, network_policy
    from nas.models.stats import network_stats
    from nas.space_members import calibration_members, sample_members

    space = table_space(table, space)
    count = table.provenance.get("calibration", {}).get("count", 0)
    calibration = calibration_members(space, count=count, seed=CALIBRATION_SEED) + fitted_configs(table)
    clock = table.provenance.get("clock", "thread" if table.threads == 1 else "wall")
    policy = network_policy(TimingPolicy(clock=clock))
    rows = []
    for i, (params, cfg) in enumerate(sample_members(space, samples=samples, seed=seed, exclude=calibration)):
        started = time.perf_counter()
        predict_started = time.perf_counter()
        pred = predict_latency(cfg, table).total_ms
        predict_ms_cost = (time.perf_counter() - predict_started) * 1e3
        meas = measure_latency(cfg, runtime=table.runtime, threads=table.threads or 1, policy=policy)
        params_count, macs = network_stats(cfg)
        rows.append({"name": cfg.name, "family": params["family"], "params": params,
                     "predicted_ms": round(pred, 4), "measured_ms": meas["latency_ms"],
                     "error_pct": round(100 * (pred - meas["latency_ms"]) / meas["latency_ms"], 2),
                     "macs_g": round(macs / 1e9, 4), "params_m": round(params_count / 1e6, 4),
                     "predict_call_ms": round(predict_ms_cost, 4)})
        if progress:
            progress(f"{i + 1}/{samples} {params['family']}: predicted {pred:.2f} ms, measured "
                     f"{meas['latency_ms']:.2f} ms ({rows[-1]['error_pct']:+.1f}%) "
                     f"[{time.perf_counter() - started:.1f} s]")
    measured = [r["measured_ms"] for r in rows]
    result: dict[str, Any] = {"device": table.device, "method": table.method, "runtime": table.runtime,
                              "threads": table.threads, "table_hash": table.hash, "seed": seed,
                              "samples": len(rows)}
    result.update(rank_metrics([r["predicted_ms"] for r in rows], measured))
    result["flops_spearman"] = float(spearmanr([r["macs_g"] for r in rows], measured).statistic)
    result["params_spearman"] = float(spearmanr([r["params_m"] for r in rows], measured).statistic)
    families: dict[str, list[dict]] = {}
    for r in rows:
        families.setdefault(r["family"], []).append(r)
    result["per_family"] = {
        fam: {"samples": len(rs), "mape": sum(abs(r["error_pct"]) for r in rs) / len(rs),
              "within_10pct": sum(abs(r["error_pct"]) <= 10 for r in rs) / len(rs)}
        for fam, rs in families.items()
    }
    result["rows"] = rows
    for k, v in list(result.items()):
        if isinstance(v, float) and math.isfinite(v):
            result[k] = round(v, 4)
    return result
