"""Small real search runs for tests: a tiny ViT space with its latency table, and a shared report run.

``write_tiny_setup`` writes a ViT space of 18 networks at 64 px (``TINY_VIT_SPACE``) and a latency table of
device ``TINY_DEVICE`` for all its keys, in the real table format (priced from each block's tensor sizes), so
a search runs its real lookup. ``make_search_run`` / ``cached_search_run`` run a real ``run_search`` (Optuna
random sampler, SQLite storage, one worker, the real short-training proxy on the digits dataset, 3 steps in
rungs of 1 and 3) over a small real space at 64 px that holds DeiT-Ti and MobileViT-XXS, on device
``REPORT_DEVICE`` within ``REPORT_BUDGET_MS``: the fastest network and 4 sampled ones scored, a front of 2 or
more (about 10 s), shared by the report and export tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

TINY_VIT_SPACE = """\
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
TINY_DEVICE = "tinydev"


def write_tiny_setup(root: Path) -> tuple[Path, Path]:
    """Write the tiny space YAML and a latency table for all its keys; returns (space_path, tables_dir)."""
    from nas.space import load_space
    from nas.space_members import block_specs
    from nas.testing import write_table

    space_path = root / "tiny-vit.yaml"
    space_path.write_text(TINY_VIT_SPACE)
    tables = root / "tables"
    write_table(block_specs(load_space(space_path)), tables, device=TINY_DEVICE)
    return space_path, tables


REPORT_DEVICE = "reportdev"
REPORT_BUDGET_MS = 1.0
REPORT_SPACE = """\
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
    """The space file of the report run in ``run_dir``."""
    return run_dir.parent / "report-mix.yaml"


def _write_report_table(space_file: Path, tables: Path) -> Path:
    """A latency table (real format) for every block key of the space, priced from tensor sizes."""
    from nas.space import load_space
    from nas.space_members import block_specs
    from nas.testing import write_table as write_test_table

    return write_test_table(block_specs(load_space(space_file)), tables, device=REPORT_DEVICE).path


def make_search_run(root: Path, *, proxy: str = "train", proxy_options: dict[str, Any] | None = None,
                    trials: int = 5) -> Path:
    """Run the small real search under ``root`` (by default with the short-training proxy); returns its run
    folder."""
    from nas.search import SearchSettings, run_search

    space_file = root / "report-mix.yaml"
    space_file.write_text(REPORT_SPACE)
    _write_report_table(space_file, root / "tables")
    options = {"steps": 3, "min_steps": 1} if proxy_options is None and proxy == "train" else proxy_options or {}
    settings = SearchSettings(device=REPORT_DEVICE, budget_ms=REPORT_BUDGET_MS, space=str(space_file),
                              trials=trials, proxy=proxy, proxy_options=options, sampler="random", seed=1,
                              out=root / "run", workers=1, tables_dir=str(root / "tables"),
                              argv=("nas.testing.runs",))
    return run_search(settings).out


def cached_search_run(tmp_path_factory: Any) -> Path:
    """One run per test session, shared by the report and export test modules (do not modify it)."""
    if "run" not in _CACHE:
        _CACHE["run"] = make_search_run(tmp_path_factory.mktemp("search-run"))
    return _CACHE["run"]
