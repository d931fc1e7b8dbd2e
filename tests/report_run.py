"""A small REAL search run shared by the report and export tests.

A real `nas.search.run_search` (Optuna random sampler, SQLite storage, one worker, the real short-training
proxy on the digits dataset, 3 steps in rungs of 1 and 3) over a small real space at 64 px that holds DeiT-Ti
and MobileViT-XXS. The latency table is written in the real table format for every key of that space, priced
from each block's tensor sizes (there is no device to measure in a test); the search looks it up as usual.
Budget 1 ms, seed 1: the fastest network and 4 sampled ones scored, a front of 2 or more (about 10 s).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

DEVICE = "reportdev"
BUDGET_MS = 1.0
SPACE = """\
name: report-mix
description: a small real space for the report tests (DeiT-Ti and MobileViT-XXS are points of it)
resolution: 64
num_classes: 10
families:
  vit:
    embed_dim: [64, 128, 192]
    head_dim: [32, 64]
    depth: [2, 4, 12]
    mlp_ratio: [2.0, 4.0]
    patch_size: [16]
    act: [gelu, relu]
    norm: [layernorm]
  mobilevit:
    size: [xxs]
    depths: {per_stage: [[2], [4], [3]]}
    act: [silu]
    norm: layernorm
"""

_CACHE: dict[str, Path] = {}


def space_path(run_dir: Path) -> Path:
    return run_dir.parent / "report-mix.yaml"


def write_table(space_file: Path, tables: Path) -> Path:
    """A latency table (real format) for every block key of the space, priced from tensor sizes."""
    from nas.space import load_space
    from nas.space_members import block_specs
    from nas.testing import write_table as write_test_table

    return write_test_table(block_specs(load_space(space_file)), tables, device=DEVICE).path


def make_search_run(root: Path, *, proxy: str = "train", proxy_options: dict[str, Any] | None = None,
                    trials: int = 5) -> Path:
    """Run the small real search under ``root`` (by default with the short-training proxy); returns its run
    folder."""
    from nas.search import SearchSettings, run_search

    space_file = root / "report-mix.yaml"
    space_file.write_text(SPACE)
    write_table(space_file, root / "tables")
    options = {"steps": 3, "min_steps": 1} if proxy_options is None and proxy == "train" else proxy_options or {}
    settings = SearchSettings(device=DEVICE, budget_ms=BUDGET_MS, space=str(space_file), trials=trials, proxy=proxy,
                              proxy_options=options, sampler="random", seed=1, out=root / "run",
                              workers=1, tables_dir=str(root / "tables"), argv=["tests/report_run.py"])
    return run_search(settings).out


def cached_search_run(tmp_path_factory: Any) -> Path:
    """One run per test session, shared by the report and export test modules (do not modify it)."""
    if "run" not in _CACHE:
        _CACHE["run"] = make_search_run(tmp_path_factory.mktemp("search-run"))
    return _CACHE["run"]
