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
from typing import Any

from nas.latency.measure import measure_for_table, timing_backend
from nas.latency.predict import predict_latency
from nas.latency.provenance import fitted_configs, table_space
from nas.latency.table import LatencyTable


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


def validate_table(table: LatencyTable, *, space: Any = None, samples: int = 50, seed: int = 0,
                   progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Predicted vs measured on ``samples`` seeded random networks (or published rows for estimates).

    Returns within_10pct, mape, spearman, kendall, flops_spearman, params_spearman, samples, and one
    row per network.
    """
    if table.method == "estimated":
        from nas.latency.iphone import validate_published

        return validate_published(table)
    timing_backend(table, instead="validate it on the device (its calibration's leave-one-out error is in `nas "
                   "devices --json`)")
    from scipy.stats import spearmanr

    from nas.latency.profile import CALIBRATION_SEED
    from nas.models.stats import network_stats
    from nas.space_members import calibration_members, sample_members

    space = table_space(table, space)
    count = table.provenance.get("calibration", {}).get("count", 0)
    calibration = calibration_members(space, count=count, seed=CALIBRATION_SEED) + fitted_configs(table)
    rows = []
    for i, (params, cfg) in enumerate(sample_members(space, samples=samples, seed=seed, exclude=calibration)):
        started = time.perf_counter()
        predict_started = time.perf_counter()
        pred = predict_latency(cfg, table).total_ms
        predict_ms_cost = (time.perf_counter() - predict_started) * 1e3
        meas = measure_for_table(cfg, table)
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
