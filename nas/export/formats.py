"""Write an ArchConfig as a config JSON, ONNX, Core ML or TorchScript, and check what was written.

Every exporter writes to a temporary path next to the target, checks the written artifact (reloads
it and compares its output with the torch model's on a seeded input), and only then renames it to
the final name: a failed export never leaves a half-written file under that name. The conversions are
:mod:`nas.convert`'s, the ones the latency profiler times.

The models carry freshly initialised weights (seed 0): the export delivers the architecture, to be
trained by the user's code; the output comparison proves the conversion, not the accuracy.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nas.config import CONFIG_FORMAT, CONFIG_SCHEMA, ArchConfig
from nas.convert import (
    COREML_TARGET,
    INPUT_NAME,
    ONNX_OPSET,
    OUTPUT_NAME,
    import_coremltools,
    quiet_coremltools,
    quiet_tracing,
)
from nas.export.errors import ExportError, OutputPathError
from nas.registry import Registry

WEIGHT_SEED = 0
INPUT_SEED = 1


@dataclass(frozen=True)
class Tolerance:
    """``|out - ref| <= atol + rtol * |ref|`` elementwise (numpy.allclose)."""

    atol: float
    rtol: float

    def __str__(self) -> str:
        return f"atol {self.atol:g}, rtol {self.rtol:g}"




@dataclass
class ExportResult:
    """What an export wrote and what it checked."""

    path: Path
    format: str
    checks: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what to do next with the written file
    max_abs_diff: float | None = None
    tolerance: Tolerance | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path), "format": self.format, "checks": self.checks, "notes": self.notes,
            "max_abs_diff": self.max_abs_diff,
            "tolerance": None if self.tolerance is None else {"atol": self.tolerance.atol,
                                                              "rtol": self.tolerance.rtol},
        }


@dataclass
class ExportContext:
    """What one exporter gets: the config, the built model (eval mode), a seeded input, its output."""

    cfg: ArchConfig
    model: Any  # nas.models.builder.Network
    example: Any  # torch.Tensor (1, C, R, R)
    reference: Any  # numpy array, the torch model's output on ``example``
    info: dict[str, Any]  # extra fields for the JSON export (latency, optuna params, source)
    result: ExportResult


Exporter = Callable[[ExportContext, Path], None]  # writes the format to a (temporary) path and checks it


@dataclass(frozen=True)
class ExportFormat:
    """A registered export format: its exporter and the facts about what it writes.

    Attributes:
        name: the ``--format`` name.
        exporter: writes the artifact to a temporary path and checks it (see :func:`export_model`).
        suffix: the suffix of what it writes (a folder's for a Core ML ``.mlpackage``).
        tolerance: how close the reloaded artifact's output must be to torch's; None for a format
            without an output to compare (the config JSON).
    """

    name: str
    exporter: Exporter
    suffix: str
    tolerance: Tolerance | None = None

    def __call__(self, ctx: ExportContext, tmp: Path) -> None:
        """Write and check the artifact at ``tmp``."""
        self.exporter(ctx, tmp)


EXPORTERS: Registry[ExportFormat] = Registry("export format")


def register_exporter(name: str, *, suffix: str,
                      tolerance: Tolerance | None = None) -> Callable[[Exporter], Exporter]:
    """Decorator: register the exporter it decorates as the format ``name`` (see :class:`ExportFormat`).

    Raises:
        DuplicateNameError: another format has that name.
    """
    def deco(exporter: Exporter) -> Exporter:
        EXPORTERS.register(name, ExportFormat(name, exporter, suffix, tolerance))
        return exporter

    return deco


def export_model(
    cfg: ArchConfig,
    fmt: str,
    out_path: str | Path,
    *,
    resolution: int | None = None,
    info: dict[str, Any] | None = None,
) -> ExportResult:
    """Export ``cfg`` as ``fmt`` (json, onnx, coreml, torchscript) to ``out_path`` and check it.

    Args:
        cfg: the architecture.
        fmt: one of ``EXPORTERS``.
        out_path: the file (a ``.mlpackage`` folder for coreml) to write; replaced if it exists.
        resolution: input size to export at (default: the config's resolution).
        info: extra fields written into the JSON export (predicted latency, Optuna params, source).

    Raises:
        UnknownNameError: unknown format. OutputPathError: the path cannot be written.
        CoremlMissingError: coreml without coremltools. ExportError: the written artifact failed its check.
    """
    import torch

    from nas.models.builder import build_model

    entry = EXPORTERS[fmt]  # UnknownNameError lists the formats
    out = Path(out_path)
    check_output(out, fmt)
    if fmt == "coreml":
        import_coremltools()  # fail in one line before any work
    if resolution is not None and resolution != cfg.resolution:
        cfg = cfg.replace(resolution=resolution)
    torch.manual_seed(WEIGHT_SEED)
    model = build_model(cfg).eval()
    gen = torch.Generator().manual_seed(INPUT_SEED)
    example = torch.randn(1, cfg.in_chans, cfg.resolution, cfg.resolution, generator=gen)
    with torch.no_grad():
        reference = model(example).numpy()
    result = ExportResult(path=out, format=fmt, tolerance=entry.tolerance)
    ctx = ExportContext(cfg=cfg, model=model, example=example, reference=reference, info=dict(info or {}),
                        result=result)
    with _staged(out) as tmp:
        entry(ctx, tmp)
    if fmt != "json":
        result.checks.append(f"weights are freshly initialised (seed {WEIGHT_SEED}): the architecture, to train")
    result.checks.append(f"wrote {out}")
    return result


# ----------------------------------------------------------------------------- output path
def check_output(out: Path, fmt: str) -> None:
    """Fail early (before any conversion) if ``out`` cannot receive format ``fmt``; creates its folder."""
    suffix = EXPORTERS[fmt].suffix
    if fmt == "coreml" and out.suffix != suffix:
        raise OutputPathError(f"a Core ML mlprogram is a '{suffix}' package; got '{out}'")
    if out.suffix.lower() != suffix:
        raise OutputPathError(f"--format {fmt} writes a '{suffix}' file; got '{out}' (e.g. --out model{suffix})")
    if out.is_dir() and fmt != "coreml":
        raise OutputPathError(f"'{out}' is a folder; give a file path such as '{out / ('model' + suffix)}'")
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        raise OutputPathError(f"cannot write '{out}': a file is in the way of the folder '{parent}'") from exc
    except OSError as exc:
        raise OutputPathError(f"cannot create the folder '{parent}': {exc.strerror or exc}") from exc
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputPathError(f"cannot write to '{parent}' (permission denied)")


@contextlib.contextmanager
def _staged(out: Path) -> Iterator[Path]:
    """A temporary path next to ``out``, renamed to ``out`` only if the body succeeds."""
    tmp = out.with_name(f".{out.stem}.tmp-{os.getpid()}{out.suffix}")
    _remove(tmp)
    try:
        yield tmp
        if out.is_dir():  # a previous .mlpackage: os.replace cannot overwrite a non-empty folder
            old = out.with_name(f".{out.stem}.old-{os.getpid()}{out.suffix}")
            os.replace(out, old)
            os.replace(tmp, out)
            _remove(old)
        else:
            os.replace(tmp, out)
    except OSError as exc:
        raise OutputPathError(f"cannot write '{out}': {exc.strerror or exc}") from exc
    finally:
        _remove(tmp)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


# ----------------------------------------------------------------------------- comparisons
def _compare(ctx: ExportContext, out: Any, runtime: str) -> None:
    import numpy as np

    out = np.asarray(out, dtype=np.float32)
    ref = ctx.reference
    if out.shape != ref.shape:
        raise ExportError(f"{runtime} output shape {list(out.shape)} != torch output shape {list(ref.shape)}")
    tol = ctx.result.tolerance
    assert tol is not None
    diff = float(np.abs(out - ref).max())
    ctx.result.max_abs_diff = diff
    if not np.allclose(out, ref, atol=tol.atol, rtol=tol.rtol):
        raise ExportError(f"{runtime} output differs from torch: max abs diff {diff:.3g} exceeds {tol}")
    ctx.result.checks.append(
        f"{runtime} output {list(out.shape)} matches torch on a seeded input: max abs diff {diff:.3g} "
        f"(tolerance {tol})"
    )


# ----------------------------------------------------------------------------- formats
@register_exporter("json", suffix=".json")
def _export_json(ctx: ExportContext, tmp: Path) -> None:
    from nas.models.builder import build_model
    from nas.models.stats import count_macs, count_params

    cfg = ctx.cfg
    params = count_params(ctx.model)
    macs = count_macs(ctx.model, tuple(ctx.example.shape))
    doc = {"format": CONFIG_FORMAT, "schema": CONFIG_SCHEMA, "arch": cfg.to_dict(), "resolution": cfg.resolution,
           "params": params, "macs": macs, **ctx.info}
    tmp.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    reloaded = ArchConfig.load(tmp)
    if reloaded != cfg:
        raise ExportError("the written config does not reload to the same ArchConfig")
    ctx.result.checks.append("config reloads with ArchConfig.load to the identical ArchConfig")
    rebuilt = count_params(build_model(reloaded))
    if rebuilt != params:
        raise ExportError(f"the reloaded config builds {rebuilt} params, the original {params}")
    ctx.result.checks.append(f"reloaded config rebuilds the same parameter count: {params:,} params, "
                             f"{macs / 1e6:,.1f} M MACs at {cfg.resolution}x{cfg.resolution}")
    latency = ctx.info.get("latency")
    if latency:
        ctx.result.checks.append(f"predicted latency {latency['ms']:.3f} ms on {latency.get('device')} "
                                 f"({latency.get('method')}, table {latency.get('table_hash')})")
    elif ctx.info.get("latency_note"):
        ctx.result.checks.append(f"no predicted latency: {ctx.info['latency_note']}")
    replay = ctx.info.get("replay_check")
    if replay:
        ctx.result.checks.append(replay)
    ctx.result.notes.append(f"train it with timm: {timm_command(ctx.result.path, cfg.num_classes)}  "
                            "(needs nas[timm] and timm's train.py; docs/training.md)")


def timm_command(config: Path | str, num_classes: int, data: str = "DATA") -> str:
    """The command that trains the exported ``config`` with timm's own ``train.py`` (docs/training.md)."""
    return (f"python train.py {data} --device-modules nas.timm --model nas_arch --model-kwargs config={config} "
            f"--num-classes {num_classes}")


# fp32 runtimes reorder sums: ONNX Runtime fuses ops
@register_exporter("onnx", suffix=".onnx", tolerance=Tolerance(atol=1e-4, rtol=1e-3))
def _export_onnx(ctx: ExportContext, tmp: Path) -> None:
    import onnx
    import onnxruntime as ort

    from nas.convert import onnx_bytes

    tmp.write_bytes(onnx_bytes(ctx.model, ctx.example))
    proto = onnx.load(str(tmp))
    onnx.checker.check_model(proto)
    nodes = len(proto.graph.node)
    ctx.result.checks.append(f"ONNX graph passes onnx.checker (opset {ONNX_OPSET}, {nodes} nodes)")
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(str(tmp), opts, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    if list(inp.shape) != list(ctx.example.shape):
        raise ExportError(f"ONNX input shape {inp.shape} != {list(ctx.example.shape)}")
    ctx.result.checks.append(f"onnxruntime {ort.__version__} loads it: input '{inp.name}' {inp.shape}")
    out = sess.run(None, {inp.name: ctx.example.numpy()})[0]
    _compare(ctx, out, "onnxruntime")


@register_exporter("torchscript", suffix=".pt", tolerance=Tolerance(atol=1e-5, rtol=1e-4))
def _export_torchscript(ctx: ExportContext, tmp: Path) -> None:
    import torch

    with quiet_tracing():
        traced = torch.jit.trace(ctx.model, ctx.example, check_trace=False)
    traced.save(str(tmp))
    with quiet_tracing():
        loaded = torch.jit.load(str(tmp)).eval()
    ctx.result.checks.append(f"traced, saved, reloaded with torch.jit.load (input {list(ctx.example.shape)})")
    with torch.no_grad():
        out = loaded(ctx.example).numpy()
    _compare(ctx, out, "reloaded TorchScript")


def _shape(feature: Any) -> list[int]:
    return [int(d) for d in feature.type.multiArrayType.shape]


# a Core ML mlprogram computes in fp16 by default
@register_exporter("coreml", suffix=".mlpackage", tolerance=Tolerance(atol=5e-2, rtol=5e-2))
def _export_coreml(ctx: ExportContext, tmp: Path) -> None:
    from nas.convert import to_coreml

    ct = import_coremltools()
    in_shape = list(ctx.example.shape)
    mlmodel = to_coreml(ctx.model, ctx.example)
    with quiet_coremltools():
        mlmodel.save(str(tmp))
        spec = ct.utils.load_spec(str(tmp))
    kind = spec.WhichOneof("Type")
    if kind != "mlProgram":
        raise ExportError(f"Core ML model type is {kind}, expected mlProgram")
    ins, outs = list(spec.description.input), list(spec.description.output)
    got_in = [(f.name, _shape(f)) for f in ins]
    want_out = list(ctx.reference.shape)
    got_out = [(f.name, _shape(f)) for f in outs]
    if got_in != [(INPUT_NAME, in_shape)]:
        raise ExportError(f"Core ML inputs {got_in} != [('{INPUT_NAME}', {in_shape})]")
    if len(got_out) != 1 or got_out[0][1] not in (want_out, []):
        raise ExportError(f"Core ML outputs {got_out} != [('{OUTPUT_NAME}', {want_out})]")
    ctx.result.checks.append(
        f"Core ML {kind} ({COREML_TARGET}, spec v{spec.specificationVersion}) loads with coremltools "
        f"{ct.__version__}: "
        f"input '{INPUT_NAME}' {in_shape}, output '{got_out[0][0]}' {got_out[0][1] or '(dynamic)'}"
    )
    if platform.system() == "Darwin":
        with quiet_coremltools():
            loaded = ct.models.MLModel(str(tmp))
            out = loaded.predict({INPUT_NAME: ctx.example.numpy()})[got_out[0][0]]
        _compare(ctx, out, "Core ML (fp16)")
    else:
        ctx.result.tolerance = None
        ctx.result.checks.append(f"prediction not compared: Core ML runs on macOS only, not {sys.platform}")
