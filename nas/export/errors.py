"""Errors of the export (each one line for the CLI)."""

from __future__ import annotations

from nas.convert import CoremlMissingError
from nas.errors import NasError, UsageError

__all__ = ["CoremlMissingError", "ExportError", "OutputPathError"]


class ExportError(NasError):
    """An export failed or its check did not pass (nothing is left under the final name)."""


class OutputPathError(UsageError):
    """The output path cannot be written (missing permission, wrong suffix, a folder in the way)."""
