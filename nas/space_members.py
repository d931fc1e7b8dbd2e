"""The members of a search space, enumerated: the blocks they use, the cheapest one, seeded samples.

Everything here walks a :class:`nas.space.SearchSpace`; nothing here knows about latency tables. A cost
is any function of an :class:`~nas.config.ArchConfig` (the latency code passes a table lookup), so the
pricing side only ever sees configs and blocks:

- :func:`block_specs`: every distinct block the space can produce (what a latency table must hold);
- :func:`fastest_member`: the exact minimum of an additive cost over the space, cached per space content
  and cost;
- :func:`calibration_members`, :func:`sample_members`: the seeded networks a measured table is calibrated
  on and validated with.
"""

from __future__ import annotations

import itertools
import json
import os
import random
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from nas.config import ArchConfig, arch_id
from nas.files import write_json
from nas.models.plan import BlockSpec, distinct_blocks

Cost = Callable[[ArchConfig], float]
Params = dict[str, Any]
_FASTEST: dict[tuple[str, str], tuple[float, Params]] = {}


def block_specs(space: Any, *, resolution: int | None = None,
                progress: Callable[[int, int], None] | None = None) -> dict[str, BlockSpec]:
    """Every distinct block the space can produce at ``resolution`` (default: the space's), key -> spec,
    in a stable order (kind, key); ``progress(members walked, members)`` after each member."""

    def members() -> Iterable[ArchConfig]:
        total = space.size() if progress else 0
        for n, params in enumerate(space.enumerate(), start=1):
            yield space.config_from_params(params)
            if progress:
                progress(n, total)

    found = distinct_blocks(members(), resolution=resolution)
    return dict(sorted(found.items(), key=lambda kv: (kv[1].kind, kv[0])))


def fastest_member(space: Any, cost: Cost, *, cost_id: str | None = None) -> tuple[float, Params]:
    """The smallest ``cost`` of any member of ``space`` and that member's trial params.

    Exact without costing every member, for a cost that is a sum over the network's blocks (a latency
    table lookup): within a family, the plain ("global") choices are enumerated; the per-stage choices
    (``<family>.<choice>.<stage>``) are grouped by stage, and a stage group only changes its own stage's
    blocks. So for each global combination, one cost of a base member plus one per option of each stage
    group gives every option's cost difference, and the minimum picks the cheapest option of each group.
    The picked member is then costed and checked against the sum; a global combination where the check
    fails (stage groups that interact) is enumerated in full, so the answer is exact either way.

    That takes seconds for the default space, so with ``cost_id`` (what identifies the cost, e.g. the
    latency table's hash) the result is cached in memory and on disk (``$XDG_CACHE_HOME/nas``), keyed by
    the space's :attr:`~nas.space.SearchSpace.content_hash` and ``cost_id``.
    """
    if cost_id is None:
        return _fastest(space, cost)
    key = (space.content_hash, cost_id)
    if key not in _FASTEST:
        cache_file = _cache_dir() / "min_latency" / f"{space.name}-{space.content_hash}-{cost_id}.json"
        try:
            cached = json.loads(cache_file.read_text())
            _FASTEST[key] = (float(cached["latency_ms"]), dict(cached["params"]))
        except (OSError, ValueError, KeyError, TypeError):
            _FASTEST[key] = _fastest(space, cost)
            try:
                write_json(cache_file, {"latency_ms": _FASTEST[key][0], "params": _FASTEST[key][1]}, indent=None)
            except OSError:
                pass  # a read-only home only costs the recomputation next time
    best, params = _FASTEST[key]
    return best, dict(params)


def _cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "nas"


def _fastest(space: Any, cost: Cost) -> tuple[float, Params]:
    best: tuple[float, Params] = (float("inf"), {})
    for family in space.families:
        found = _family_fastest(space, family, cost)
        if found[0] < best[0]:
            best = found
    return best


def _family_fastest(space: Any, family: str, cost: Cost) -> tuple[float, Params]:
    global_names, global_opts = [], []
    groups: dict[str, list[tuple[str, tuple]]] = {}  # stage index -> [(param, options)]
    for choice in space.families[family]:
        for pname, opts in zip(choice.param_names(family), choice.options):
            if choice.per_stage:
                groups.setdefault(pname.rsplit(".", 1)[1], []).append((pname, opts))
            else:
                global_names.append(pname)
                global_opts.append(opts)

    def price(params: Params) -> float:
        return cost(space.config_from_params(params))

    group_combos = [
        [dict(zip([n for n, _ in members], combo)) for combo in itertools.product(*[o for _, o in members])]
        for members in groups.values()
    ]
    best_ms, best = float("inf"), {}
    for combo in itertools.product(*global_opts):
        base = {"family": family, **dict(zip(global_names, combo))}
        for options in group_combos:
            base.update(options[0])
        base_ms = price(base)
        picked = dict(base)
        total = base_ms
        for options in group_combos:
            deltas = [price({**base, **opt}) - base_ms for opt in options[1:]]
            if deltas and min(deltas) < 0:
                i = min(range(len(deltas)), key=deltas.__getitem__)
                picked.update(options[i + 1])
                total += deltas[i]
        actual = price(picked)
        if abs(actual - total) > 1e-6 * max(1.0, actual):  # stage groups interact: enumerate this combination
            for full in itertools.product(*group_combos):
                params = dict(base)
                for opt in full:
                    params.update(opt)
                ms = price(params)
                if ms < actual:
                    actual, picked = ms, params
        if actual < best_ms:
            best_ms, best = actual, picked
    return best_ms, best


def calibration_members(space: Any, *, count: int, seed: int) -> list[ArchConfig]:
    """The space's presets (named after them) plus ``count`` members drawn with ``random.Random(seed)``,
    one family after another (named ``calib-<i>``)."""
    configs = [space.config_from_params(space.preset_params(name)).replace(name=name)
               for name in space.presets_in_space()]
    rng = random.Random(seed)
    by_family = {fam: list(space.enumerate(fam)) for fam in space.families}
    for i in range(count):
        params = rng.choice(by_family[list(by_family)[i % len(by_family)]])
        configs.append(space.config_from_params(params).replace(name=f"calib-{i}"))
    return configs


def sample_members(space: Any, *, samples: int, seed: int,
                   exclude: Iterable[ArchConfig] = ()) -> list[tuple[Params, ArchConfig]]:
    """``samples`` distinct networks (by :func:`~nas.config.arch_id`) drawn as a search draws them (Optuna's
    RandomSampler(seed): family first, then each choice), none of them a network of ``exclude``; each as
    (trial params, config named ``sample-<i>``). Fewer when the space runs out within 50 draws per sample."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    seen = {arch_id(cfg) for cfg in exclude}
    out: list[tuple[Params, ArchConfig]] = []
    for _ in range(samples * 50):
        trial = study.ask()
        cfg = space.sample(trial)
        study.tell(trial, 0.0)
        if arch_id(cfg) in seen:
            continue
        seen.add(arch_id(cfg))
        out.append((trial.params, cfg.replace(name=f"sample-{len(out)}")))
        if len(out) == samples:
            break
    return out
