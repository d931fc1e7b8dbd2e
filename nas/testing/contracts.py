"""Contract checks every plug-in must pass: mixers, latency backends, proxies, spaces and samplers.

Each ``check_*`` function raises ``AssertionError`` naming what broke. The project's tests run them over
every registered entry (``tests/test_contracts.py``), so a new mixer, backend, proxy, space or sampler is
tested by registering it; a plug-in's own tests can call them the same way.
"""

from __future__ import annotations

import math
import platform
from pathlib import Path
from typing import Any

import numpy as np

from nas.config import ArchConfig, DownsampleConfig, StageConfig, StemConfig
from nas.mixers import MIXERS, block_kind_of

ONNX_TOLERANCE = (1e-4, 1e-3)  # atol, rtol in fp32 (ONNX Runtime fuses and reorders sums)
COREML_TOLERANCE = (5e-2, 5e-2)  # mlprogram computes in fp16 on the device
MIXER_HINTS = {"dim": 32, "num_heads": 4, "alpha": 0.5, "window": 2}  # what a family would pass a mixer


# ----------------------------------------------------------------------------- mixers
def mixer_network(kind: str, *, depth: int = 1, channels: int = 32, resolution: int = 32) -> ArchConfig:
    """A small network around one stage of mixer ``kind``: conv stem, conv downsample to an 8 x 8 map (at
    the default resolution), ``depth`` layers of the mixer at ``channels``, head. The mixer is made the way a
    family makes one (:meth:`~nas.mixers.MixerConfig.from_hints` with :data:`MIXER_HINTS`)."""
    return ArchConfig(
        name=f"contract-{kind}", stem=StemConfig(kind="conv", channels=(16,)),
        stages=(StageConfig(depth=depth, channels=channels, mixer=MIXERS[kind].from_hints(**MIXER_HINTS),
                            downsample=DownsampleConfig("conv", 2)),),
        resolution=resolution, num_classes=10,
    )


def check_mixer(kind: str, *, coreml: bool = True) -> None:
    """The mixer contract: a registered dataclass that round-trips through config JSON, plans blocks whose
    key names every block argument, builds blocks that run at batch 1 and 2 with the planned shapes and a
    network around them, exports to ONNX (onnxruntime matches torch) and, with ``coreml`` and coremltools
    installed, converts to a Core ML mlprogram with the planned shapes (its smallest block, once)."""
    import torch

    from nas.models.builder import build_block, build_model
    from nas.models.plan import plan

    mixer_cls = MIXERS[kind]
    cfg = mixer_network(kind, depth=2)
    mixer = cfg.stages[0].mixer
    assert type(mixer) is mixer_cls and mixer.kind == kind, f"{kind}: from_hints made {mixer!r}"
    assert ArchConfig.from_json(cfg.to_json()) == cfg, f"{kind}: config JSON does not round-trip"

    specs = [s for s in plan(cfg) if s.stage == 0 and s.kind == block_kind_of(mixer)]
    assert len(specs) == (1 if mixer_cls.stage_block else 2), f"{kind}: {len(specs)} blocks for a depth-2 stage"
    replayed = [s.key for s in plan(ArchConfig.from_json(cfg.to_json())) if s.kind == block_kind_of(mixer)]
    assert replayed == [s.key for s in specs], f"{kind}: the keys change through config JSON"
    for name, value in mixer.block_args(cfg.stages[0]).items():
        assert dict(specs[0].args).get(name) == value, f"{kind}: block argument {name} is not in the plan"
        assert f"{name}=" in specs[0].key, f"{kind}: block argument {name} is not in the key {specs[0].key}"
    shape = "x".join(str(d) for d in specs[0].in_shape)
    assert specs[0].key.startswith(f"{block_kind_of(mixer)}|{shape}|"), f"{kind}: key {specs[0].key}"

    torch.manual_seed(0)
    block = build_block(specs[0]).eval()
    for batch in (1, 2):
        with torch.no_grad():
            out = block(torch.randn(batch, *specs[0].in_shape))
        assert tuple(out.shape) == (batch, *specs[0].out_shape), f"{kind}: output {tuple(out.shape)} at batch {batch}"
    with torch.no_grad():
        logits = build_model(cfg).eval()(torch.randn(2, 3, cfg.resolution, cfg.resolution))
    assert tuple(logits.shape) == (2, 10) and bool(torch.isfinite(logits).all()), f"{kind}: network output"

    smallest = plan(mixer_network(kind, depth=1))
    spec = next(s for s in smallest if s.stage == 0 and s.kind == block_kind_of(mixer))
    check_block_converts(spec, coreml=coreml)


def check_block_converts(spec: Any, *, coreml: bool = True) -> None:
    """One planned block exports to ONNX (onnxruntime matches torch within :data:`ONNX_TOLERANCE`) and, with
    ``coreml`` and coremltools installed, converts to a Core ML mlprogram with the planned input and output
    shapes (its prediction is compared on macOS only, where Core ML runs)."""
    import torch

    from nas.convert import CoremlMissingError, import_coremltools, onnx_bytes, to_coreml
    from nas.latency.backends import get_backend
    from nas.models.builder import build_block

    torch.manual_seed(0)
    block = build_block(spec).eval()
    randomize_constants(block)
    x = torch.randn(1, *spec.in_shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = block(x).numpy()
    assert ref.shape == (1, *spec.out_shape), f"{spec.key}: output {ref.shape}"
    sess = get_backend("onnxruntime").session(onnx_bytes(block, x))
    got = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0]
    np.testing.assert_allclose(got, ref, atol=ONNX_TOLERANCE[0], rtol=ONNX_TOLERANCE[1], err_msg=spec.key)
    if not coreml:
        return
    try:
        import_coremltools()
    except CoremlMissingError:
        return
    model = to_coreml(block, x)
    assert model.get_spec().WhichOneof("Type") == "mlProgram", f"{spec.key}: not an mlprogram"
    desc = model.get_spec().description
    (inp,), (out,) = desc.input, desc.output
    assert list(inp.type.multiArrayType.shape) == list(x.shape), f"{spec.key}: Core ML input shape"
    assert list(out.type.multiArrayType.shape) == list(ref.shape), f"{spec.key}: Core ML output shape"
    if platform.system() == "Darwin":
        pred = next(iter(model.predict({inp.name: x.numpy()}).values()))
        np.testing.assert_allclose(pred, ref, atol=COREML_TOLERANCE[0], rtol=COREML_TOLERANCE[1], err_msg=spec.key)


def randomize_constants(block: Any) -> None:
    """Give constant-initialised tensors random values, so every op reaches the output.

    At init, layer scale is 1e-5 (EfficientFormer), attention biases, norm shifts and class tokens
    are 0, BatchNorm statistics are 0/1: a conversion error in those paths would hide below the tolerance.
    """
    import torch

    with torch.no_grad():
        for p in block.parameters():
            if p.numel() and bool((p == p.flatten()[0]).all()):
                p.copy_(torch.randn_like(p) * 0.5 + (1.0 if float(p.flatten()[0]) != 0.0 else 0.0))
        for m in block.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.copy_(torch.randn_like(m.running_mean) * 0.2)
                m.running_var.copy_(torch.rand_like(m.running_var) + 0.5)


# ----------------------------------------------------------------------------- latency backends
def check_backend(backend: Any, *, export_dir: Path | None = None) -> None:
    """The latency-backend contract (see ``nas.latency.backends``): a named runtime with a version; on a
    machine where it can time, a runner that runs and a timing of at least ``min_runs`` runs with ordered
    quartiles; where it cannot, a BackendError from ``compile`` that points to ``--export``; and, with
    ``export_dir`` and a ``file_suffix``, an exported model file."""
    import pytest
    import torch

    from nas.latency.backends import BackendError, LatencyBackend, TimingPolicy
    from nas.models.builder import build_block, example_input
    from nas.models.plan import plan

    assert isinstance(backend, LatencyBackend) and backend.name, f"{backend!r}: not a named LatencyBackend"
    assert backend.runtime_version(), f"{backend.name}: no runtime version"
    spec = next(s for s in plan(mixer_network("mhsa")) if s.kind == "mhsa")
    torch.manual_seed(0)
    module, x = build_block(spec).eval(), example_input(spec)
    if not backend.can_time:
        with pytest.raises(BackendError, match="--export"):
            backend.compile(module, x)
    else:
        backend.compile(module, x, threads=1)()
        policy = TimingPolicy(warmup_runs=1, warmup_s=0.0, min_runs=3, max_runs=20, budget_s=0.005)
        timing = backend.measure(module, x, policy=policy)
        assert timing.runs >= policy.min_runs, f"{backend.name}: {timing.runs} runs"
        assert 0 < timing.p25_ms <= timing.median_ms <= timing.p75_ms, f"{backend.name}: {timing}"
    if export_dir is not None and backend.file_suffix:
        path = backend.export(module, x, Path(export_dir) / f"block{backend.file_suffix}")
        assert path.exists(), f"{backend.name}: export wrote nothing at {path}"


# ----------------------------------------------------------------------------- proxies
def check_proxy(name: str, cfg: ArchConfig, data: Any, **options: Any) -> None:
    """The proxy contract (see ``nas.proxy.base.Proxy``): on CPU the same seed gives the same finite score,
    labelled with the proxy's metric and kind (an accuracy within [0, 1]); the score is what the search
    maximises, so higher is better by declaration; a candidate that cannot be scored (here: a batch too large
    to allocate) comes back as a failed result with a reason, not as an exception."""
    from nas.proxy import SCORE_KINDS, ProxyResult, get_proxy

    proxy = get_proxy(name, **options)
    a, b = proxy.evaluate(cfg, data, seed=0), proxy.evaluate(cfg, data, seed=0)
    assert isinstance(a, ProxyResult) and a.ok and a.proxy == name, f"{name}: {a}"
    assert isinstance(a.score, float) and math.isfinite(a.score) and a.score == b.score, \
        f"{name}: scores {a.score} and {b.score} for the same seed"
    assert proxy.kind in SCORE_KINDS and (a.metric, a.kind) == (proxy.metric, proxy.kind), f"{name}: labels"
    if proxy.kind == "accuracy":
        top = 100.0 if proxy.metric.endswith("(%)") else 1.0  # a fraction unless the metric says percent
        assert 0.0 <= a.score <= top, f"{name}: accuracy {a.score}"
    if proxy.runs_network and _overcommit_refuses_huge_allocations():
        huge = get_proxy(name, **{**options, "resolution": 1 << 16}).evaluate(cfg, data, seed=0)
        assert not huge.ok and huge.score is None and huge.reason, f"{name}: {huge}"


def _overcommit_refuses_huge_allocations() -> bool:
    """Linux in overcommit mode 0 or 2 refuses a terabyte request at once (instead of swapping to death)."""
    try:
        return Path("/proc/sys/vm/overcommit_memory").read_text().strip() in ("0", "2")
    except OSError:
        return False


# ----------------------------------------------------------------------------- spaces
def check_space(space: Any, *, samples: int = 5) -> None:
    """The search-space contract: every preset the space holds replays from its params to a config that
    builds; seeded samples build, plan and round-trip through config JSON and through their params; the
    content hash is stable."""
    import optuna

    from nas.models.builder import build_model
    from nas.models.plan import plan

    for name in space.presets_in_space():
        cfg = space.config_from_params(space.preset_params(name))
        build_model(cfg)
        assert plan(cfg), f"{space.name}: preset {name} plans no block"
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(samples):
        trial = study.ask()
        cfg = space.sample(trial)
        study.tell(trial, 0.0)
        assert space.config_from_params(trial.params) == cfg, f"{space.name}: params do not replay {trial.params}"
        assert ArchConfig.from_json(cfg.to_json()) == cfg, f"{space.name}: sampled config does not round-trip"
        assert plan(cfg)[-1].out_shape == (space.num_classes,), f"{space.name}: head of {trial.params}"
    assert space.content_hash == space.content_hash and len(space.content_hash) == 12


# ----------------------------------------------------------------------------- samplers
def check_sampler(name: str, workdir: Path) -> None:
    """The sampler contract: a search on the tiny space (tiny table, ``params`` proxy) proposes the same
    candidates in the same order for the same seed, and another seed explores differently."""
    from nas.search import SearchSettings, run_search
    from nas.space import load_space
    from nas.space_members import block_specs
    from nas.testing.fixtures import write_space, write_table

    workdir = Path(workdir)
    space_path = write_space(workdir, name="contract")
    tables = workdir / "tables"
    write_table(block_specs(load_space(space_path)), tables, device="contract-dev")

    def proposals(seed: int, run: str) -> list[dict[str, Any]]:
        import optuna

        settings = SearchSettings(device="contract-dev", budget_ms=1000.0, space=str(space_path), trials=4,
                                  proxy="params", sampler=name, seed=seed, out=workdir / run, workers=1,
                                  tables_dir=str(tables), report=False, enqueue_presets=False)
        result = run_search(settings)
        study = optuna.load_study(study_name=result.study, storage=result.storage)
        return [t.params for t in sorted(study.trials, key=lambda t: t.number)]

    first, again = proposals(0, "a"), proposals(0, "b")
    assert first == again, f"sampler {name}: seed 0 proposed {first} then {again}"
    assert proposals(1, "c") != first, f"sampler {name}: seeds 0 and 1 proposed the same candidates"
