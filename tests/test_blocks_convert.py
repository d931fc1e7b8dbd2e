"""Every block kind exports to ONNX (onnxruntime matches torch) and converts to Core ML (mlprogram).

One real spec per block kind, taken from the presets planned at 64 x 64, plus the variants whose
conversion differs: MHSA with and without the attention bias, HiLo with window 2 (Hi-Fi + Lo-Fi heads)
and window 1 (Lo-Fi only). ONNX tolerance in fp32: atol 1e-4, rtol 1e-3.
"""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pytest
import torch

from nas.models.builder import BLOCK_BUILDERS, build_block
from nas.models.plan import BlockSpec, plan
from nas.models.presets import get_preset, list_presets

RESOLUTION = 64
ATOL, RTOL = 1e-4, 1e-3


def _variant(spec: BlockSpec) -> str:
    if spec.kind == "mhsa":
        return f"mhsa-bias{int(spec.kwargs['attn_bias'])}"
    if spec.kind == "hilo":
        return f"hilo-window{spec.kwargs['window']}"
    return spec.kind


def _collect() -> dict[str, BlockSpec]:
    specs: dict[str, BlockSpec] = {}
    for name in list_presets():
        for spec in plan(get_preset(name), resolution=RESOLUTION):
            specs.setdefault(_variant(spec), spec)
    return specs


SPECS = _collect()
VARIANTS = sorted(SPECS)


def test_every_block_kind_and_variant_is_covered():
    assert {s.kind for s in SPECS.values()} == set(BLOCK_BUILDERS)
    assert {"mhsa-bias0", "mhsa-bias1", "hilo-window1", "hilo-window2"} <= set(SPECS)
    hilo2 = SPECS["hilo-window2"].kwargs
    assert 0 < int(hilo2["num_heads"] * hilo2["alpha"]) < hilo2["num_heads"]  # both Hi-Fi and Lo-Fi heads


def _randomize_constants(block: torch.nn.Module) -> None:
    """Give constant-initialised tensors random values, so every op reaches the output.

    At init, layer scale is 1e-5 (EfficientFormer), attention biases, norm shifts and class tokens
    are 0, BatchNorm statistics are 0/1: a conversion error in those paths would hide below the tolerance.
    """
    with torch.no_grad():
        for p in block.parameters():
            if p.numel() and bool((p == p.flatten()[0]).all()):
                p.copy_(torch.randn_like(p) * 0.5 + (1.0 if float(p.flatten()[0]) != 0.0 else 0.0))
        for m in block.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.copy_(torch.randn_like(m.running_mean) * 0.2)
                m.running_var.copy_(torch.rand_like(m.running_var) + 0.5)


def _block(variant: str) -> tuple[torch.nn.Module, torch.Tensor, np.ndarray]:
    spec = SPECS[variant]
    torch.manual_seed(0)
    block = build_block(spec).eval()
    _randomize_constants(block)
    x = torch.randn(1, *spec.in_shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = block(x).numpy()
    assert ref.shape == (1, *spec.out_shape)
    return block, x, ref


@contextlib.contextmanager
def _quiet():
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


@pytest.mark.parametrize("variant", VARIANTS)
def test_block_onnx_matches_torch(variant, tmp_path):
    import onnxruntime as ort

    block, x, ref = _block(variant)
    path = tmp_path / "block.onnx"
    with _quiet():
        torch.onnx.export(block, (x,), str(path), opset_version=18, dynamo=False)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0]
    np.testing.assert_allclose(got, ref, atol=ATOL, rtol=RTOL, err_msg=SPECS[variant].key)


@pytest.fixture(scope="module")
def ct():
    with _quiet():
        return pytest.importorskip("coremltools")


@pytest.mark.parametrize("variant", VARIANTS)
def test_block_converts_to_coreml(variant, ct, tmp_path):
    block, x, ref = _block(variant)
    path = tmp_path / "block.mlpackage"
    with _quiet():
        traced = torch.jit.trace(block, x, check_trace=False)
        model = ct.convert(traced, convert_to="mlprogram", inputs=[ct.TensorType(name="x", shape=x.shape)],
                           outputs=[ct.TensorType(name="y")], minimum_deployment_target=ct.target.iOS16)
        model.save(str(path))
        spec = ct.utils.load_spec(str(path))
    assert spec.WhichOneof("Type") == "mlProgram"
    (inp,), (out,) = spec.description.input, spec.description.output
    assert list(inp.type.multiArrayType.shape) == list(x.shape)
    assert list(out.type.multiArrayType.shape) == list(ref.shape), SPECS[variant].key
