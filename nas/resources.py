"""Locate the data folders shipped with the package (search spaces, latency tables)."""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """Return the shipped folder `name` (`search_spaces` or `latency_tables`).

    In a source checkout or editable install it is the top-level folder beside `nas/`;
    in a wheel it is `nas/_data/<name>`.
    """
    for candidate in (_PKG.parent / name, _PKG / "_data" / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"shipped data folder '{name}' not found next to {_PKG}")
