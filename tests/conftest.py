"""Shared fixtures: the real default space and small helpers."""

from __future__ import annotations

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(scope="session", autouse=True)
def own_config_home(tmp_path_factory: pytest.TempPathFactory):
    """The suite's user folder (tables of one's devices, blocks an estimated table priced on demand, derived
    interval evidence) is its own: the developer's is never written, and what it holds (say, blocks a search
    priced earlier) cannot change what a test sees. Subprocesses inherit it; a test may still set its own."""
    import os

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
