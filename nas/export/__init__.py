"""Export a chosen architecture as a config JSON, ONNX, Core ML (.mlpackage) or TorchScript, checked."""

from __future__ import annotations

from nas.export.errors import CoremlMissingError, ExportError, OutputPathError
from nas.export.formats import (
    EXPORTERS,
    ExportFormat,
    ExportResult,
    Tolerance,
    check_output,
    export_model,
    register_exporter,
)
from nas.export.source import PICKS, Selection, select_arch

__all__ = [
    "EXPORTERS", "PICKS", "CoremlMissingError", "ExportError", "ExportFormat", "ExportResult", "OutputPathError",
    "Selection", "Tolerance", "check_output", "export_model", "register_exporter", "select_arch",
]
