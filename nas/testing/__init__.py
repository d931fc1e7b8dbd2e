"""Test helpers for nas and its plug-ins (as optuna's ``optuna.testing``): a tiny space, tiny latency tables
in the real file format, a fake latency backend with deterministic timings, and contract checks that every
mixer, backend, proxy, space and sampler must pass (the project's tests run them over the registries).

Nothing here is imported by the tool itself.
"""

from __future__ import annotations

from nas.testing.backend import FakeBackend
from nas.testing.fixtures import TINY_SPACE, size_price, tiny_space, write_space, write_table

__all__ = ["TINY_SPACE", "FakeBackend", "size_price", "tiny_space", "write_space", "write_table"]
