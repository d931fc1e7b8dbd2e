"""Convert a torch module to ONNX or Core ML: the one conversion the profiler, the backends and the export share.

The graph a latency table priced is the graph a user exports: a block timed by ``nas profile``, a network
timed by ``nas latency measure|validate|calibrate|check`` and a model written by ``nas export`` all go
through :func:`onnx_bytes` or :func:`to_coreml`, with the same opset, deployment target and tensor names.

ONNX: opset :data:`ONNX_OPSET` with the TorchScript-based exporter (``dynamo=False``: 2-4x faster than the
dynamo exporter for these models, same outputs). The shipped ``x86-2core-ort`` table was profiled at opset
17; after onnxruntime's graph optimisations every block kind has the same operators at 17 and 18
(``benchmarks/onnx_opset_check.py``), so its entries still price the opset-18 graph.

Core ML: an ``mlprogram`` for iOS 16 (``pixel_unshuffle``, MobileViT's unfold, needs that opset), traced with
``torch.jit.trace``, compute units ``ALL`` as on the device; coremltools' logging and progress bars are kept
off stderr.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Iterator
from typing import Any

from nas.errors import NasError

ONNX_OPSET = 18
COREML_TARGET = "iOS16"
INPUT_NAME, OUTPUT_NAME = "input", "logits"  # blocks use the same names, so their graphs match the exports'


class ConversionError(NasError):
    """A conversion failed on a module; the message names the converter and the cause."""


class CoremlMissingError(ConversionError):
    """coremltools is not installed."""


@contextlib.contextmanager
def quiet_tracing() -> Iterator[None]:
    """Silence tracer warnings about shape-dependent Python branches (shapes are fixed at conversion)."""
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.onnx.*")
        yield


def onnx_bytes(module: Any, example: Any) -> bytes:
    """Serialized ONNX of eval-mode ``module`` traced on ``example`` (batch included)."""
    import torch

    buf = io.BytesIO()
    with quiet_tracing(), torch.inference_mode(False), torch.no_grad():
        torch.onnx.export(module, (example,), buf, opset_version=ONNX_OPSET, dynamo=False,
                          input_names=[INPUT_NAME], output_names=[OUTPUT_NAME])
    return buf.getvalue()


@contextlib.contextmanager
def quiet_coremltools() -> Iterator[None]:
    """coremltools logs version warnings and draws progress bars: keep stderr clean, raise errors as usual."""
    logger = logging.getLogger("coremltools")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def import_coremltools() -> Any:
    """The coremltools module, or a one-line :class:`CoremlMissingError` saying how to install it."""
    try:
        with quiet_coremltools():
            import coremltools as ct
    except ImportError as exc:
        raise CoremlMissingError(
            "Core ML conversion needs coremltools: pip install 'nas-mobile-vit[coreml]' (or coremltools>=8)"
        ) from exc
    return ct


def to_coreml(module: Any, example: Any) -> Any:
    """The ``coremltools.models.MLModel`` (mlprogram, :data:`COREML_TARGET`) of eval-mode ``module``.

    Raises:
        CoremlMissingError: coremltools is not installed.
        ConversionError: the conversion failed (names the exception).
    """
    import torch

    ct = import_coremltools()
    with quiet_tracing(), torch.no_grad():
        traced = torch.jit.trace(module.eval(), example, check_trace=False)
    try:
        with quiet_coremltools():
            return ct.convert(traced, convert_to="mlprogram",
                              inputs=[ct.TensorType(name=INPUT_NAME, shape=tuple(example.shape))],
                              outputs=[ct.TensorType(name=OUTPUT_NAME)],
                              minimum_deployment_target=getattr(ct.target, COREML_TARGET),
                              compute_units=ct.ComputeUnit.ALL)
    except Exception as exc:  # noqa: BLE001 - coremltools raises many types; name the failing op
        raise ConversionError(f"Core ML conversion failed: {type(exc).__name__}: {exc}") from exc
