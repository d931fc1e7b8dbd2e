"""Each export format round-trips on two presets; failed exports leave nothing under the final name."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch

from nas.config import ArchConfig
from nas.export import CoremlMissingError, OutputPathError, export_model
from nas.export.formats import EXPORTERS, INPUT_SEED, WEIGHT_SEED, register_exporter
from nas.models.builder import build_model
from nas.models.presets import get_preset
from nas.models.stats import count_params

# Two presets of different families at small inputs: a plain ViT and a MobileViT hybrid.
PRESETS = [("deit-tiny", 32), ("mobilevit-xxs", 64)]


def _torch_reference(cfg: ArchConfig) -> tuple[torch.Tensor, np.ndarray]:
    """The model and input export_model uses, rebuilt independently (same seeds)."""
    torch.manual_seed(WEIGHT_SEED)
    model = build_model(cfg).eval()
    x = torch.randn(1, 3, cfg.resolution, cfg.resolution, generator=torch.Generator().manual_seed(INPUT_SEED))
    with torch.no_grad():
        return x, model(x).numpy()


@pytest.fixture(params=PRESETS, ids=[p for p, _ in PRESETS])
def cfg(request) -> ArchConfig:
    name, res = request.param
    return get_preset(name).replace(resolution=res)


def test_json_rebuilds_same_param_count(cfg, tmp_path):
    out = tmp_path / "arch.json"
    res = export_model(cfg, "json", out, info={"optuna_params": {"family": "x"}})
    doc = json.loads(out.read_text())
    rebuilt = ArchConfig.load(out)
    assert rebuilt == cfg
    assert count_params(build_model(rebuilt)) == count_params(build_model(cfg)) == doc["params"]
    assert doc["macs"] > 0 and doc["optuna_params"] == {"family": "x"}
    assert any("same parameter count" in c for c in res.checks)


def test_onnx_matches_torch(cfg, tmp_path):
    import onnxruntime as ort

    out = tmp_path / "model.onnx"
    res = export_model(cfg, "onnx", out)
    x, ref = _torch_reference(cfg)
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0]
    tol = EXPORTERS["onnx"].tolerance
    np.testing.assert_allclose(got, ref, atol=tol.atol, rtol=tol.rtol)
    assert res.max_abs_diff == pytest.approx(float(np.abs(got - ref).max()), abs=1e-6)
    assert res.max_abs_diff <= tol.atol + tol.rtol * float(np.abs(ref).max())


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")
def test_torchscript_matches_torch(cfg, tmp_path):
    out = tmp_path / "model.pt"
    res = export_model(cfg, "torchscript", out)
    x, ref = _torch_reference(cfg)
    with torch.no_grad():
        got = torch.jit.load(str(out))(x).numpy()
    tol = EXPORTERS["torchscript"].tolerance
    np.testing.assert_allclose(got, ref, atol=tol.atol, rtol=tol.rtol)
    assert res.max_abs_diff is not None and res.max_abs_diff <= tol.atol


def test_coreml_spec_has_right_shapes(cfg, tmp_path):
    ct = pytest.importorskip("coremltools")
    out = tmp_path / "model.mlpackage"
    res = export_model(cfg, "coreml", out)
    spec = ct.utils.load_spec(str(out))
    assert spec.WhichOneof("Type") == "mlProgram"
    (inp,), (outp,) = spec.description.input, spec.description.output
    assert list(inp.type.multiArrayType.shape) == [1, 3, cfg.resolution, cfg.resolution]
    assert list(outp.type.multiArrayType.shape) == [1, cfg.num_classes]
    assert any("loads with coremltools" in c for c in res.checks)


def test_resolution_override(tmp_path):
    res = export_model(get_preset("deit-tiny"), "json", tmp_path / "a.json", resolution=48)
    assert ArchConfig.load(res.path).resolution == 48


def test_failed_export_keeps_old_file_and_leaves_no_temp(tmp_path):
    out = tmp_path / "model.bin"
    out.write_text("previous export")

    @register_exporter("half-written", suffix=".bin")
    def _fail(ctx, tmp):
        tmp.write_text("partial")
        raise RuntimeError("conversion crashed")

    try:
        with pytest.raises(RuntimeError, match="crashed"):
            export_model(get_preset("deit-tiny").replace(resolution=32), "half-written", out)
    finally:
        EXPORTERS.unregister("half-written")
    assert out.read_text() == "previous export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.bin"]


def test_unwritable_output_path(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(OutputPathError, match="a file is in the way"):
        export_model(get_preset("deit-tiny"), "json", blocker / "sub" / "arch.json")


def test_coreml_needs_mlpackage_suffix(tmp_path):
    with pytest.raises(OutputPathError, match=r"\.mlpackage"):
        export_model(get_preset("deit-tiny"), "coreml", tmp_path / "model.mlmodel")


def test_coremltools_missing_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "coremltools", None)  # makes `import coremltools` raise ImportError
    with pytest.raises(CoremlMissingError, match="pip install"):
        export_model(get_preset("deit-tiny"), "coreml", tmp_path / "m.mlpackage")
    assert not (tmp_path / "m.mlpackage").exists()


def test_every_format_carries_its_suffix_and_tolerance():
    assert EXPORTERS.names() == ["json", "onnx", "torchscript", "coreml"]
    for name, entry in EXPORTERS.items():
        assert entry.name == name and entry.suffix.startswith(".")
        assert (entry.tolerance is None) == (name == "json")  # the config JSON has no output to compare
