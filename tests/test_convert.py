"""The priced graph is the exported graph: the profiler, the latency backends and `nas export` convert alike."""

from __future__ import annotations

import onnx
import torch

from nas.convert import INPUT_NAME, ONNX_OPSET, OUTPUT_NAME, onnx_bytes
from nas.export.formats import EXPORTERS, ExportContext, ExportResult, export_model
from nas.latency.profile import export_blocks
from nas.models.builder import build_block, build_model, example_input
from nas.models.presets import get_preset
from nas.space import parse_space
from nas.space_members import block_specs

TINY_VIT = {"name": "tiny-vit", "resolution": 32, "num_classes": 10,
            "families": {"vit": {"embed_dim": 32, "head_dim": 16, "depth": 1, "mlp_ratio": 2.0,
                                 "patch_size": 16, "act": "gelu", "norm": "layernorm"}}}


def _graph(proto: onnx.ModelProto) -> dict:
    """What makes two ONNX files the same graph: opset, tensor names and every node in order."""
    g = proto.graph
    return {
        "opset": [(o.domain, o.version) for o in proto.opset_import],
        "inputs": [(i.name, [d.dim_value for d in i.type.tensor_type.shape.dim]) for i in g.input],
        "outputs": [o.name for o in g.output],
        "nodes": [(n.op_type, n.name, list(n.input), list(n.output)) for n in g.node],
        "initializers": sorted(t.name for t in g.initializer),
    }


def test_exported_onnx_equals_the_profiled_graph_for_a_block(tmp_path):
    space = parse_space(TINY_VIT)
    manifest = export_blocks(space, runtime="onnxruntime", out_dir=tmp_path / "blocks", device="box")
    entry = next(b for b in manifest["blocks"] if b["kind"] == "mhsa")
    profiled = onnx.load(str(tmp_path / "blocks" / entry["file"]))

    spec = block_specs(space)[entry["key"]]
    torch.manual_seed(0)
    block, x = build_block(spec).eval(), example_input(spec)
    with torch.no_grad():
        reference = block(x).numpy()
    out = tmp_path / "block.onnx"
    result = ExportResult(path=out, format="onnx", tolerance=EXPORTERS["onnx"].tolerance)
    EXPORTERS["onnx"](ExportContext(cfg=None, model=block, example=x, reference=reference, info={},
                                    result=result), out)
    exported = onnx.load(str(out))

    assert _graph(exported) == _graph(profiled)
    assert _graph(profiled)["opset"] == [("", ONNX_OPSET)]
    assert entry["input_name"] == INPUT_NAME and _graph(profiled)["outputs"] == [OUTPUT_NAME]


def test_exported_network_is_the_graph_the_latency_backends_time(tmp_path):
    cfg = get_preset("mobilevit-xxs").replace(resolution=64)
    out = tmp_path / "net.onnx"
    export_model(cfg, "onnx", out)
    torch.manual_seed(0)  # measure_network and export_model build the network the same way
    timed = onnx.load_from_string(onnx_bytes(build_model(cfg).eval(), torch.randn(1, 3, 64, 64)))
    assert _graph(onnx.load(str(out))) == _graph(timed)
    assert _graph(timed)["inputs"] == [(INPUT_NAME, [1, 3, 64, 64])]

