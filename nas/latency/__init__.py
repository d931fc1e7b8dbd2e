"""Per-device latency tables: block keys, table files, prediction, profiling and validation.

The table format is documented in :mod:`nas.latency.table`. Heavy modules (profile, backends,
measure, validate) import torch/onnxruntime; this package's top level stays light.
"""

from __future__ import annotations

from nas.latency.table import (
    LatencyTable,
    MissingKeysError,
    TableError,
    find_tables,
    load_table,
    read_table,
    save_table,
)

__all__ = [
    "LatencyTable", "MissingKeysError", "TableError", "find_tables", "load_table", "read_table", "save_table",
]
