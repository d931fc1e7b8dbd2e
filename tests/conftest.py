"""Shared fixtures: the real default space and small helpers."""

from __future__ import annotations

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def default_space():
    from nas.space import load_space

    return load_space("hybrid-vit")
