"""The tiny search setup of ``nas.testing.runs`` prices every network of its space."""

from __future__ import annotations

from pathlib import Path

from nas.testing.runs import TINY_DEVICE as DEVICE
from nas.testing.runs import write_tiny_setup


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
