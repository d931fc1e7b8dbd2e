"""Predict a network's latency from a table: plan the blocks, look up each key, sum.

``predict_latency(cfg, table)`` is a lookup and a sum (plans are cached by config JSON, so a repeated
config costs a dict lookup). ``min_latency(space, table)`` finds the fastest network of a space exactly
without planning every member (see its docstring).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nas.config import ArchConfig
from nas.files import write_json
from nas.latency.table import LatencyTable
from nas.models.plan import plan

_PLAN_CACHE: dict[str, tuple[tuple[str, str], ...]] = {}
_ID_CACHE: dict[int, tuple[ArchConfig, tuple[tuple[str, str], ...]]] = {}  # same object: skip to_json
_PLAN_CACHE_MAX = 100_000
_MIN_CACHE: dict[tuple[str, str, str], tuple[float, dict[str, Any]]] = {}


@dataclass(frozen=True)
class LatencyPrediction:
    """A predicted latency: total, the table's method, and where it comes from."""

    total_ms: float
    method: str
    device: str
    per_block: list[tuple[str, str, float]] = field(default_factory=list)  # (key, kind, ms)
    overhead_ms: float = 0.0  # per network, included in total_ms

    def to_dict(self) -> dict[str, Any]:
        return {
            "latency_ms": round(self.total_ms, 4), "method": self.method, "device": self.device,
            "overhead_ms": self.overhead_ms,
            "blocks": [{"key": k, "kind": kind, "ms": ms} for k, kind, ms in self.per_block],
        }


def block_keys(cfg: ArchConfig) -> tuple[tuple[str, str], ...]:
    """(key, kind) of every block of ``cfg`` at its deploy resolution (cached by config JSON)."""
    hit = _ID_CACHE.get(id(cfg))
    if hit is not None and hit[0] is cfg:
        return hit[1]
    sig = cfg.to_json()
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


def predict_latency(cfg: ArchConfig, table: LatencyTable) -> LatencyPrediction:
    """Predicted latency of ``cfg`` on the table's device.

    Raises:
        MissingKeysError: the table lacks some of the network's block keys (never priced as zero).
    """
    entries = table.entries
    per_block = []
    missing = []
    for key, kind in block_keys(cfg):
        entry = entries.get(key)
        if entry is None:
            missing.append(key)
        else:
            per_block.append((key, kind, entry["ms"]))
    if missing:
        hint = ""
        if cfg.resolution != table.resolution:
            hint = (f"the table is at resolution {table.resolution}, the network at {cfg.resolution}: "
                    f"predict it at {table.resolution} (--resolution {table.resolution}) or profile a space at "
                    f"{cfg.resolution}")
        raise table.missing(*missing, hint=hint)
    total = table.network_overhead_ms + sum(ms for _, _, ms in per_block)
    return LatencyPrediction(total, table.method, table.device, per_block, table.network_overhead_ms)


def predict_ms(cfg: ArchConfig, table: LatencyTable) -> float:
    """Just the total (ms); same errors as :func:`predict_latency`."""
    return predict_latency(cfg, table).total_ms


def min_latency(space: Any, table: LatencyTable) -> tuple[float, dict[str, Any]]:
    """The smallest predicted latency of any network of ``space`` and its trial params.

    Exact without planning all members: within a family, fix the plain ("global") choices; the
    per-stage choices (``<family>.<choice>.<stage>``) are grouped by stage, and a network's latency is a
    sum over blocks whose stage groups only change their own stage's blocks. So for each global
    combination, one plan of a base member plus one per option of each stage group gives every group's
    cost difference; the minimum picks the cheapest option of each group. The picked member is then
    planned and checked against the sum; a global combination where the check fails (stage groups that
    interact) is enumerated in full, so the answer is exact either way. That takes a few seconds for
    the default space, so the result is cached in memory and on disk (``$XDG_CACHE_HOME/nas``), keyed by
    the space's choices and the table's hash.
    """
    fingerprint = json.dumps([space.resolution, space.num_classes, repr(space.families)])
    space_hash = hashlib.sha256(fingerprint.encode()).hexdigest()[:12]
    cache_key = (space.name, space_hash, table.hash)
    if cache_key in _MIN_CACHE:
        best_ms, best = _MIN_CACHE[cache_key]
        return best_ms, dict(best)
    cache_file = _cache_dir() / "min_latency" / f"{space.name}-{space_hash}-{table.hash}.json"
    try:
        cached = json.loads(cache_file.read_text())
        best_ms, best = float(cached["latency_ms"]), dict(cached["params"])
    except (OSError, ValueError, KeyError, TypeError):
        best_ms, best = float("inf"), {}
        for family, choices in space.families.items():
            ms, params = _family_min(space, family, choices, table)
            if ms < best_ms:
                best_ms, best = ms, params
        try:
            write_json(cache_file, {"latency_ms": best_ms, "params": best}, indent=None)
        except OSError:
            pass  # a read-only home only costs the recomputation next time
    _MIN_CACHE[cache_key] = (best_ms, dict(best))
    return best_ms, dict(best)


def _cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "nas"


def _family_min(space: Any, family: str, choices: tuple, table: LatencyTable) -> tuple[float, dict[str, Any]]:
    global_names, global_opts = [], []
    groups: dict[str, list[tuple[str, tuple]]] = {}  # stage index -> [(param, options)]
    for choice in choices:
        for pname, opts in zip(choice.param_names(family), choice.options):
            if choice.per_stage:
                groups.setdefault(pname.rsplit(".", 1)[1], []).append((pname, opts))
            else:
                global_names.append(pname)
                global_opts.append(opts)

    from nas.models.families import build_family

    def cost(params: dict[str, Any]) -> float:
        # SearchSpace.sample without an Optuna trial (this loop plans a few thousand members)
        values = {c.name: [params[n] for n in c.param_names(family)] for c in choices}
        values = {c.name: v if c.per_stage else v[0] for c, v in zip(choices, values.values())}
        cfg = build_family(family, values, name=family, resolution=space.resolution)
        return predict_ms(cfg.replace(num_classes=space.num_classes), table)

    group_combos = [
        [dict(zip([n for n, _ in members], combo)) for combo in itertools.product(*[o for _, o in members])]
        for members in groups.values()
    ]
    best_ms, best = float("inf"), {}
    for combo in itertools.product(*global_opts):
        base = {"family": family, **dict(zip(global_names, combo))}
        for options in group_combos:
            base.update(options[0])
        base_ms = cost(base)
        picked = dict(base)
        total = base_ms
        for options in group_combos:
            deltas = [cost({**base, **opt}) - base_ms for opt in options[1:]]
            if deltas and min(deltas) < 0:
                i = min(range(len(deltas)), key=deltas.__getitem__)
                picked.update(options[i + 1])
                total += deltas[i]
        actual = cost(picked)
        if abs(actual - total) > 1e-6 * max(1.0, actual):  # stage groups interact: enumerate this combination
            for full in itertools.product(*group_combos):
                params = dict(base)
                for opt in full:
                    params.update(opt)
                ms = cost(params)
                if ms < actual:
                    actual, picked = ms, params
        if actual < best_ms:
            best_ms, best = actual, picked
    return best_ms, best
