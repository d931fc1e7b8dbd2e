"""Every block kind exports to ONNX (onnxruntime matches torch) and converts to Core ML (mlprogram).

Mixer blocks are converted by the mixer contract (tests/test_contracts.py, one smallest block per
registered mixer); here: one real spec of every other block kind (stems, downsamples, layout changes,
heads), taken from the presets planned at 64 x 64, plus the mixer variants whose conversion differs from
a mixer's defaults: MHSA with the attention bias and HiLo with window 1 (Lo-Fi heads only). ONNX
tolerance in fp32: atol 1e-4, rtol 1e-3.
"""

from __future__ import annotations

import pytest

from nas.mixers import MIXERS, block_kind_of
from nas.models.builder import BLOCK_BUILDERS, block_kinds
from nas.models.plan import BlockSpec, plan
from nas.models.presets import get_preset, list_presets
from nas.testing.contracts import check_block_converts

RESOLUTION = 64
MIXER_VARIANTS = ("mhsa-bias1", "hilo-window1")


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


ALL = _collect()
SPECS = {v: s for v, s in ALL.items() if s.kind in BLOCK_BUILDERS or v in MIXER_VARIANTS}
VARIANTS = sorted(SPECS)


def test_every_block_kind_and_variant_is_covered():
    assert {s.kind for s in ALL.values()} == set(block_kinds())
    assert set(block_kinds()) == {s.kind for s in SPECS.values() if s.kind in BLOCK_BUILDERS} | {
        block_kind_of(m) for m in MIXERS.values()}  # the rest by the mixer contract
    assert {"mhsa-bias0", "mhsa-bias1", "hilo-window1", "hilo-window2"} <= set(ALL)
    hilo2 = ALL["hilo-window2"].kwargs
    assert 0 < int(hilo2["num_heads"] * hilo2["alpha"]) < hilo2["num_heads"]  # both Hi-Fi and Lo-Fi heads


@pytest.mark.parametrize("variant", VARIANTS)
def test_block_exports_to_onnx_and_coreml(variant):
    check_block_converts(SPECS[variant])
