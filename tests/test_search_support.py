"""Shared helpers of the search tests: a tiny real search space and a latency table covering it.

The table is data written in the real table format (priced from each block's tensor sizes), so the
search runs its real latency lookup; the space is a small YAML of the ViT family at 64 px.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

TINY_SPACE = """\
name: tiny-vit
description: a tiny ViT space for tests
resolution: 64
num_classes: 10
families:
  vit:
    embed_dim: [32, 64, 96]
    head_dim: [32]
    depth: [1, 2, 3]
    mlp_ratio: [2.0]
    patch_size: [16]
    act: [gelu, relu]
    norm: [layernorm]
"""
DEVICE = "tinydev"


def write_tiny_setup(root: Path) -> tuple[Path, Path]:
    """Write the tiny space YAML and a latency table for all its keys; returns (space_path, tables_dir)."""
    from nas.models.plan import plan
    from nas.space import load_space

    space_path = root / "tiny-vit.yaml"
    space_path.write_text(TINY_SPACE)
    space = load_space(space_path)
    entries: dict[str, dict[str, float]] = {}
    for params in space.enumerate():
        for spec in plan(space.config_from_params(params)):
            size = math.prod(spec.in_shape) + math.prod(spec.out_shape)
            entries[spec.key] = {"ms": round(0.02 + size * (4e-5 if spec.kind == "mhsa" else 1e-5), 6)}
    tables = root / "tables"
    tables.mkdir()
    (tables / f"{DEVICE}.json").write_text(json.dumps({
        "schema": 1, "device": DEVICE, "runtime": "onnxruntime", "runtime_version": "test", "compute_unit": "cpu",
        "threads": 1, "resolution": 64, "batch": 1, "method": "estimated", "network_overhead_ms": 0.0,
        "provenance": {"date": "2025-01-01T00:00:00Z", "source": "tests: priced from tensor sizes"},
        "entries": entries,
    }))
    return space_path, tables


def test_tiny_table_covers_the_space(tmp_path: Path) -> None:
    from nas.latency.predict import min_latency, predict_latency
    from nas.latency.table import load_table
    from nas.space import load_space

    space_path, tables = write_tiny_setup(tmp_path)
    space, table = load_space(space_path), load_table(DEVICE, tables)
    latencies = sorted(predict_latency(space.config_from_params(p), table).total_ms for p in space.enumerate())
    assert len(latencies) == space.size() == 18
    assert min_latency(space, table)[0] == latencies[0] < latencies[-1]
