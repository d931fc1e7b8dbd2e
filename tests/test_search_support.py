"""Shared helpers of the search tests: a tiny real search space and a latency table covering it.

The table is data written in the real table format (``nas.testing.write_table``, priced from each block's
tensor sizes), so the search runs its real latency lookup; the space is a small YAML of the ViT family at 64 px.
"""

from __future__ import annotations

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
    from nas.space import load_space
    from nas.space_members import block_specs
    from nas.testing import write_table

    space_path = root / "tiny-vit.yaml"
    space_path.write_text(TINY_SPACE)
    tables = root / "tables"
    write_table(block_specs(load_space(space_path)), tables, device=DEVICE)
    return space_path, tables


def test_tiny_table_covers_the_space(tmp_path: Path) -> None:
    from functools import partial

    from nas.latency.predict import predict_latency, predict_ms
    from nas.latency.table import load_table
    from nas.space import load_space
    from nas.space_members import fastest_member

    space_path, tables = write_tiny_setup(tmp_path)
    space, table = load_space(space_path), load_table(DEVICE, tables)
    latencies = sorted(predict_latency(space.config_from_params(p), table).total_ms for p in space.enumerate())
    assert len(latencies) == space.size() == 18
    assert fastest_member(space, partial(predict_ms, table=table))[0] == latencies[0] < latencies[-1]
