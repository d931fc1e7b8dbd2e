"""What a table's provenance says about how it was made: the space it was made for, the networks it was fitted on.

The readers here are shared by the commands that time networks for a table (``nas latency check|validate|
calibrate``) and those that extend it (``nas tables fit --space``), so none of them imports another for them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nas.config import ArchConfig
from nas.errors import NasError
from nas.latency.table import LatencyTable


def table_space(table: LatencyTable, space: Any = None) -> Any:
    """``space`` (a SearchSpace, name or YAML path), else the space ``table`` was made for (its YAML file if
    that was not a shipped space), else the default space."""
    from nas.errors import UnknownNameError
    from nas.space import DEFAULT_SPACE, load_space

    if space is not None and not isinstance(space, str):
        return space
    if space:
        return load_space(space)
    prov = table.provenance
    try:
        return load_space(prov.get("space") or DEFAULT_SPACE)
    except UnknownNameError:
        if prov.get("space_path") and Path(prov["space_path"]).is_file():
            return load_space(prov["space_path"])
        raise


def fitted_configs(table: LatencyTable) -> list[ArchConfig]:
    """The configs a calibrated table was fitted on (validation must not sample them)."""
    networks = table.provenance.get("calibration", {}).get("networks", [])
    out = []
    for net in networks:
        if isinstance(net, dict) and isinstance(net.get("arch"), dict):
            try:
                out.append(ArchConfig.from_dict(net["arch"]))
            except NasError:
                continue
    return out
