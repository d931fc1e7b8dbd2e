"""Predict a network's latency from a table: plan the blocks, look up each key, sum.

``predict_latency(cfg, table)`` is a lookup and a sum: a config planned before costs a dict lookup, a new one
plans only the stages never seen before (``nas.models.plan`` memoises stages and their keys). Pricing takes
configs (or their blocks) and a table, nothing else: the fastest network of a search space is found on the
space side (``nas.space_members.fastest_member(space, partial(predict_ms, table=table), cost_id=table.hash)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from nas.config import ArchConfig
from nas.errors import NasError
from nas.latency.table import LatencyTable
from nas.models.plan import plan

_PLAN_CACHE: dict[tuple, tuple[tuple[str, str], ...]] = {}
_ID_CACHE: dict[int, tuple[ArchConfig, tuple[tuple[str, str], ...]]] = {}  # the same object: no hashing at all
_PLAN_CACHE_MAX = 100_000
_PLANNED_FIELDS: tuple[str, ...] | None = None


@dataclass(frozen=True)
class LatencyPrediction:
    """A predicted latency: total, the table's method, and where it comes from."""

    total_ms: float
    method: str
    device: str
    per_block: list[tuple[str, str, float]] = field(default_factory=list)  # (key, kind, ms)
    overhead_ms: float = 0.0  # per network, included in total_ms
    on_demand: tuple[str, ...] = ()  # keys an estimated table's cost model priced (not in its file)
    cost_model: str | None = None  # the version of that cost model

    def to_dict(self) -> dict[str, Any]:
        added = set(self.on_demand)
        return {
            "latency_ms": round(self.total_ms, 4), "method": self.method, "device": self.device,
            "overhead_ms": self.overhead_ms, "on_demand_blocks": len(self.on_demand), "cost_model": self.cost_model,
            "blocks": [{"key": k, "kind": kind, "ms": ms, "source": "cost model" if k in added else "table"}
                       for k, kind, ms in self.per_block],
        }


def block_keys(cfg: ArchConfig) -> tuple[tuple[str, str], ...]:
    """(key, kind) of every block of ``cfg`` at its deploy resolution (cached by what builds the network)."""
    hit = _ID_CACHE.get(id(cfg))
    if hit is not None and hit[0] is cfg:
        return hit[1]
    sig = _plan_signature(cfg)
    keys = _PLAN_CACHE.get(sig)
    if keys is None:
        keys = tuple((s.key, s.kind) for s in plan(cfg))
        if len(_PLAN_CACHE) >= _PLAN_CACHE_MAX:
            _PLAN_CACHE.clear()
        _PLAN_CACHE[sig] = keys
    if len(_ID_CACHE) >= _PLAN_CACHE_MAX:
        _ID_CACHE.clear()
    _ID_CACHE[id(cfg)] = (cfg, keys)  # holds cfg, so its id cannot be reused while cached
    return keys


def _plan_signature(cfg: ArchConfig) -> tuple:
    """The fields that set ``plan(cfg)`` (not the name, choices or notes): hashing them costs microseconds, a
    JSON dump of the config a tenth of a millisecond."""
    global _PLANNED_FIELDS
    if _PLANNED_FIELDS is None:
        _PLANNED_FIELDS = tuple(f.name for f in fields(ArchConfig) if f.name not in ("name", "choices", "notes"))
    return tuple(getattr(cfg, name) for name in _PLANNED_FIELDS)


def predict_latency(cfg: ArchConfig, table: LatencyTable, *, extend: bool = True) -> LatencyPrediction:
    """Predicted latency of ``cfg`` on the table's device.

    A block key an estimated table lacks is priced by the table's cost model (:mod:`nas.latency.extend`) and
    listed in ``on_demand``; ``extend=False`` uses only the entries it has.

    Raises:
        MissingKeysError: a measured or calibrated table lacks some of the network's block keys (never priced
            as zero).
    """
    keys = block_keys(cfg)
    per_block, on_demand, missing = _look_up(keys, table)
    if missing and extend and table.method == "estimated":
        from nas.latency import extend as extension

        if extension.cost_model(table) is not None:
            extension.load_added(table)
            wanted = set(missing) - set(table.added)
            if wanted:
                extension.price_blocks(table, [s for s in plan(cfg) if s.key in wanted])
            per_block, on_demand, missing = _look_up(keys, table)
    if missing:
        hint = ""
        if cfg.resolution != table.resolution:
            hint = f"or price it at {table.resolution} px: --resolution {table.resolution}"
        raise table.missing(*missing, hint=hint, resolution=cfg.resolution)
    total = table.network_overhead_ms + sum(ms for _, _, ms in per_block)
    version = None
    if on_demand:
        from nas.latency.extend import model_version

        version = model_version(table)
    return LatencyPrediction(total, table.method, table.device, per_block, table.network_overhead_ms,
                             tuple(on_demand), version)


def _look_up(keys: tuple[tuple[str, str], ...],
             table: LatencyTable) -> tuple[list[tuple[str, str, float]], list[str], list[str]]:
    """(per block (key, kind, ms), keys found among the added entries, keys found nowhere)."""
    entries, added = table.entries, table.added
    per_block, on_demand, missing = [], [], []
    for key, kind in keys:
        entry = entries.get(key)
        if entry is None:
            entry = added.get(key)
            if entry is None:
                missing.append(key)
                continue
            on_demand.append(key)
        per_block.append((key, kind, entry["ms"]))
    return per_block, on_demand, missing


def predict_ms(cfg: ArchConfig, table: LatencyTable) -> float:
    """Just the total (ms); same errors as :func:`predict_latency`."""
    return predict_latency(cfg, table).total_ms


def resolution_note(arch: str, cfg: ArchConfig, table: LatencyTable, at: int) -> str | None:
    """What to know about ``arch`` (``cfg``, at its own resolution) priced at ``at`` px on ``table``: that it is not
    its own resolution, or that the table's (where searches of its space price it) gives another number; None
    when both agree."""
    from nas.models.presets import PRESETS

    own = cfg.resolution
    if at != own:
        return f"{arch} is priced at {at} px, not at its own {own} px"
    if at == table.resolution:
        return None
    where = " (where searches of its space price the presets)" if arch in PRESETS else ""
    try:
        there = predict_latency(cfg.replace(resolution=table.resolution), table, extend=False).total_ms
    except NasError:
        return f"{arch} is priced at its own {own} px; the table is at {table.resolution} px{where}"
    return (f"{arch} is priced at its own {own} px; at the table's {table.resolution} px{where} it is "
            f"{there:.2f} ms: --resolution {table.resolution}")
