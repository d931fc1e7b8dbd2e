"""Errors of the export (each one line for the CLI)."""

from __future__ import annotations

from nas.errors import NasError, UsageError


class ExportError(NasError):
    """An export failed or its check did not pass (nothing is left under the final name)."""


class OutputPathError(UsageError):
    """The output path cannot be written (missing permission, wrong suffix, a folder in the way)."""


class CoremlMissingError(NasError):
    """coremltools is not installed."""
