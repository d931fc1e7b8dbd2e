"""A tiny search space and latency tables for it, written in the real file formats."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml

from nas.latency.table import LatencyTable, save_table
from nas.models.plan import BlockSpec

# Two families at 64 px, 8 networks, 18 distinct blocks: every layout change, a class token, MobileViT
# and MobileViTv2 blocks, and per-stage choices, in a space that profiles in seconds.
TINY_SPACE: dict[str, Any] = {
    "name": "tiny",
    "description": "a tiny space for tests: ViT and MobileViTv2 at 64 px",
    "resolution": 64,
    "num_classes": 10,
    "families": {
        "vit": {"embed_dim": [32], "head_dim": [16], "depth": [1, 2], "mlp_ratio": 2.0, "patch_size": [16],
                "act": ["gelu", "relu"], "norm": "layernorm"},
        "mobilevitv2": {"width_mult": [0.5], "depths": {"per_stage": [[1, 2], [1], [1]]},
                        "mixers": {"per_stage": [["separable", "mobilevit"], ["separable"], ["separable"]]},
                        "act": "relu", "norm": "layernorm2d"},
    },
}


def write_space(folder: str | Path, definition: dict[str, Any] | None = None, *, name: str | None = None,
                families: Iterable[str] | None = None) -> Path:
    """Write a space YAML (default: :data:`TINY_SPACE`) into ``folder``; returns its path.

    Args:
        definition: the space as a dict, as in a YAML file.
        name: the space's name (and file stem); default the definition's.
        families: keep only these families of the definition.
    """
    data = copy.deepcopy(TINY_SPACE if definition is None else definition)
    if name:
        data["name"] = name
    if families is not None:
        data["families"] = {fam: data["families"][fam] for fam in families}
    path = Path(folder) / f"{data['name']}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def tiny_space(folder: str | Path, **options: Any) -> Any:
    """:func:`write_space` then load it (a real :class:`nas.space.SearchSpace`)."""
    from nas.space import load_space

    return load_space(write_space(folder, **options))


def size_price(spec: BlockSpec) -> float:
    """A deterministic stand-in latency (ms) of one block, growing with its tensor sizes and depth;
    attention blocks cost four times more per element."""
    size = (math.prod(spec.in_shape) + math.prod(spec.out_shape)) * spec.kwargs.get("depth", 1)
    return round(0.02 + size * (4e-5 if spec.kind == "mhsa" else 1e-5), 6)


def write_table(specs: Iterable[BlockSpec] | dict[str, BlockSpec], folder: str | Path, *, device: str,
                price: Callable[[BlockSpec], float] = size_price, resolution: int = 64,
                method: str = "estimated", runtime: str = "onnxruntime", overhead_ms: float = 0.0,
                skip: Iterable[str] = ()) -> LatencyTable:
    """Write ``<folder>/<device>.json``, a table in the real format with an entry for every block of ``specs``
    (priced by ``price``) but the keys in ``skip``; returns the table as written."""
    blocks = specs.values() if isinstance(specs, dict) else specs
    left_out = set(skip)
    table = LatencyTable(
        device=device, runtime=runtime, method=method, resolution=resolution, threads=1,
        runtime_version="test", network_overhead_ms=overhead_ms,
        provenance={"date": "2025-01-01T00:00:00Z",
                    "source": f"nas.testing: priced by {getattr(price, '__name__', 'a test price')}"},
        entries={s.key: {"ms": price(s)} for s in blocks if s.key not in left_out},
    )
    save_table(table, Path(folder) / f"{device}.json")
    return table
