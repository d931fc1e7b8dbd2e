"""Helpers shared by command modules (kept light: no torch at import time)."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

stdout = Console()
stderr = Console(stderr=True)


def emit_json(obj: Any) -> None:
    """Print one JSON object on stdout (results go to stdout, logs to stderr)."""
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")


def load_arch(ref: str):
    """An ArchConfig from a preset name or a path to a config JSON (exported configs too)."""
    from pathlib import Path

    from nas.config import ArchConfig
    from nas.models.presets import get_preset

    if ref.endswith(".json") or Path(ref).is_file():
        return ArchConfig.load(ref)
    return get_preset(ref)
