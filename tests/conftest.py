"""Shared fixtures: the real default space and small helpers."""

from __future__ import annotations

import os

import pytest
import torch

torch.set_num_threads(1)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``slow`` run in CI (``CI`` set) or when a ``-m`` expression is given; a developer's plain
    ``python -m pytest`` skips them, saying how to run them."""
    if os.environ.get("CI") or config.getoption("markexpr"):
        return
    skip = pytest.mark.skip(reason="slow: runs in CI (CI=true) or with -m slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def own_config_home(tmp_path_factory: pytest.TempPathFactory):
    """The suite's user folder (tables of one's devices, blocks an estimated table priced on demand, derived
    interval evidence) is its own: the developer's is never written, and what it holds (say, blocks a search
    priced earlier) cannot change what a test sees. Subprocesses inherit it; a test may still set its own."""
    saved = {k: os.environ.get(k) for k in ("XDG_CONFIG_HOME", "NAS_TABLES_DIR")}
    os.environ["XDG_CONFIG_HOME"] = str(tmp_path_factory.mktemp("config-home"))
    os.environ.pop("NAS_TABLES_DIR", None)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def default_space():
    from nas.space import load_space

    return load_space("hybrid-vit")
