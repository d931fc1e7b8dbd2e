"""Every latency table found, described as ``nas devices`` lists it (and prints it with ``--json``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nas.latency.extend import added_summary
from nas.latency.host import host_notice, host_status
from nas.latency.table import TableError, find_tables, hidden_tables, is_shipped, read_table


def device_rows(tables_dir: str | Path | None = None) -> list[dict[str, Any]]:
    """One record per table name found (first match of the search path), in search order.

    A readable table's record is its :meth:`~nas.latency.table.LatencyTable.summary` with ``host_status`` and
    ``host_notice`` (:mod:`nas.latency.host`), ``added`` (entries its cost model priced beyond its file) and
    ``forced`` (written despite failing its sanity checks); an unreadable one's is its device, path and
    ``error``. Both say which tables of the same name it ``hides`` and whether it is a ``user_copy_of_shipped``.
    """
    rows = []
    hidden = hidden_tables(tables_dir)
    for name, path in find_tables(tables_dir).items():
        hides = {"hides": [str(p) for p in hidden.get(name, [])],
                 "user_copy_of_shipped": any(is_shipped(p) for p in hidden.get(name, []))}
        try:
            table = read_table(path)
        except TableError as exc:
            rows.append({"device": name, "path": str(path), "error": str(exc), **hides})
            continue
        rows.append({**table.summary(), "host_status": host_status(table), "host_notice": host_notice(table),
                     "added": added_summary(table), **hides,
                     "forced": bool(table.provenance.get("forced"))})
    return rows
