"""Does a table hold on this machine? Time a few networks here and compare with the table's predictions.

``nas latency check`` is the quick test (3 networks, well under 30 s) behind the host-mismatch notice:
presets of the table's space (seeded members if it has none) up to :data:`CHECK_CAP_MS` predicted (the fastest,
the middle and the slowest of them), timed with the table's runtime, threads and clock. ``nas latency
validate`` is the thorough one.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from nas.config import ArchConfig
from nas.errors import UsageError
from nas.latency.table import LatencyTable, MissingKeysError

CHECK_NETWORKS = 3
CHECK_CAP_MS = 60.0  # keeps the check short: slower networks are not timed
TOLERANCE = 0.10  # the table holds when measured/predicted stays within 1 +- this for every network
CHECK_SAMPLES, CHECK_SEED = 20, 7


def check_networks(space: Any, table: LatencyTable) -> list[tuple[ArchConfig, float]]:
    """(config, predicted ms) of the networks the check times: presets of ``space`` (seeded members of a space
    without presets) that the table prices."""
    from nas.latency.predict import predict_latency
    from nas.space_members import sample_members

    cfgs = [space.config_from_params(space.preset_params(n)).replace(name=n) for n in space.presets_in_space()]
    if not cfgs:
        samples = sample_members(space, samples=min(CHECK_SAMPLES, space.size()), seed=CHECK_SEED)
        cfgs = [cfg.replace(name=f"check-{i}") for i, (_, cfg) in enumerate(samples)]
    priced = []
    for cfg in cfgs:
        try:
            priced.append((cfg, predict_latency(cfg, table).total_ms))
        except MissingKeysError:
            continue
    if not priced:
        raise UsageError(f"table '{table.device}' prices no network of space '{space.name}': nothing to check")
    priced.sort(key=lambda p: p[1])
    fast = [p for p in priced if p[1] <= CHECK_CAP_MS] or priced[:CHECK_NETWORKS]
    picks = sorted({0, len(fast) // 2, len(fast) - 1})
    return [fast[i] for i in picks]


def check_table(table: LatencyTable, *, space: Any = None,
                progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Measured vs predicted latency of :func:`check_networks` here, and a one-line verdict.

    Raises:
        UsageError: the table's runtime cannot be timed on this machine.
    """
    from nas.latency.measure import measure_for_table, timing_backend
    from nas.latency.provenance import table_space

    timing_backend(table, instead="nothing to check here")
    space = table_space(table, space)
    rows = []
    for cfg, predicted in check_networks(space, table):
        measured = measure_for_table(cfg, table)["latency_ms"]
        rows.append({"name": cfg.name, "predicted_ms": round(predicted, 3), "measured_ms": round(measured, 3),
                     "ratio": round(measured / predicted, 3)})
        if progress:
            progress(f"{cfg.name}: predicted {predicted:.2f} ms, measured {measured:.2f} ms "
                     f"(x{measured / predicted:.2f})")
    ratios = [r["ratio"] for r in rows]
    holds = all(abs(r - 1) <= TOLERANCE for r in ratios)
    median = statistics.median(ratios)
    if holds:
        verdict = (f"table '{table.device}' holds here: measured/predicted {min(ratios):.2f}-{max(ratios):.2f} "
                   f"on {len(rows)} networks (within +-{TOLERANCE:.0%})")
    else:
        verdict = (f"table '{table.device}' does not hold here: measured/predicted {min(ratios):.2f}-"
                   f"{max(ratios):.2f} on {len(rows)} networks (median x{median:.2f}, tolerance +-{TOLERANCE:.0%}); "
                   f"adapt it: nas latency calibrate --device {table.device} --as NAME{table.tables_option()}")
    return {"device": table.device, "method": table.method, "runtime": table.runtime, "threads": table.threads or 1,
            "networks": rows, "median_ratio": round(median, 3), "holds": holds, "verdict": verdict}
