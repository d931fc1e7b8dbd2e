"""Check: does moving the profiler from ONNX opset 17 to nas.convert's opset change what a table measured?

The shipped ``x86-2core-ort`` table was profiled with blocks exported at opset 17 (input "x"); the profiler,
the backends and ``nas export`` now share :mod:`nas.convert` (opset 18, input "input"). For up to N block
keys of every kind of the space, this exports the block both ways, lets onnxruntime optimise each graph
(``ORT_ENABLE_ALL``, as the backend does) and compares the optimised graphs' operator sequences. Names do
not reach the kernels; identical operator sequences mean the same kernels run.

    python benchmarks/onnx_opset_check.py --per-kind 8

Writes benchmarks/results/onnx_opset_check.json.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import tempfile
import time
from pathlib import Path

import onnx
import onnxruntime as ort
import torch

from nas.convert import ONNX_OPSET, onnx_bytes, quiet_tracing
from nas.models.builder import build_block, example_input
from nas.space import load_space
from nas.space_members import block_specs

RESULTS = Path(__file__).resolve().parent / "results"
OLD_OPSET = 17


def old_onnx_bytes(module: torch.nn.Module, example: torch.Tensor) -> bytes:
    """The profiler's conversion before nas.convert: opset 17, input "x", output "y"."""
    buf = io.BytesIO()
    with quiet_tracing(), torch.no_grad():
        torch.onnx.export(module, (example,), buf, opset_version=OLD_OPSET, dynamo=False,
                          input_names=["x"], output_names=["y"])
    return buf.getvalue()


def optimised_ops(model: bytes) -> list[str]:
    """Operator types of the graph onnxruntime runs after its optimisations, in order."""
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    fd, path = tempfile.mkstemp(suffix=".onnx")
    os.close(fd)
    so.optimized_model_filepath = path
    try:
        ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
        return [n.op_type for n in onnx.load(path).graph.node]
    finally:
        os.unlink(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", default="hybrid-vit")
    ap.add_argument("--per-kind", type=int, default=8, help="Block keys checked per kind (spread over the kind).")
    args = ap.parse_args()

    specs = block_specs(load_space(args.space))
    by_kind: dict[str, list] = {}
    for spec in specs.values():
        by_kind.setdefault(spec.kind, []).append(spec)
    started = time.process_time()
    rows, differ = [], []
    for _, members in sorted(by_kind.items()):
        step = max(len(members) // args.per_kind, 1)
        for spec in members[::step][: args.per_kind]:
            torch.manual_seed(0)
            module, x = build_block(spec).eval(), example_input(spec)
            old, new = optimised_ops(old_onnx_bytes(module, x)), optimised_ops(onnx_bytes(module, x))
            rows.append({"key": spec.key, "same": old == new, "ops": len(new)})
            if old != new:
                differ.append({"key": spec.key, f"opset{OLD_OPSET}": old, f"opset{ONNX_OPSET}": new})
    out = {
        "command": f"python benchmarks/onnx_opset_check.py --space {args.space} --per-kind {args.per_kind}",
        "onnxruntime": ort.__version__, "torch": torch.__version__, "opsets": [OLD_OPSET, ONNX_OPSET],
        "kinds": len(by_kind), "keys_checked": len(rows), "keys_in_space": len(specs),
        "identical_after_optimisation": len(rows) - len(differ), "differing": differ,
        "cpu_seconds": round(time.process_time() - started, 1),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "onnx_opset_check.json").write_text(json.dumps(out, indent=1) + "\n")
    print(f"{out['identical_after_optimisation']}/{len(rows)} block keys over {len(by_kind)} kinds run the same "
          f"optimised operators at opset {OLD_OPSET} and {ONNX_OPSET} (onnxruntime {ort.__version__})")


if __name__ == "__main__":
    main()
