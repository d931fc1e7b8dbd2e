"""Latency backends: run a torch module through a runtime and time it.

A backend is a small plug-in (:class:`LatencyBackend`) registered in :data:`BACKENDS` by runtime name; the
CLI's ``--runtime`` choices and the contract tests read the same registry.

Contract of a backend:

- ``name`` is the runtime name stored in tables (``table.runtime``); ``runtime_version()`` its version.
- ``compile(module, example, threads=...)`` turns an eval-mode module and an example input (batch included)
  into a :class:`Runner`: a no-argument callable that runs one inference on that input and blocks until
  the result exists. Everything that is not per-inference work (export, session creation, input upload,
  output allocation where the runtime allows) happens in ``compile``, not in the runner.
- ``can_time`` says whether the runner can run on this machine (a Core ML model converts on Linux but
  runs only on macOS); a backend that cannot time raises :class:`BackendError` from ``compile``.
- ``export(module, example, path)`` (optional) writes the model file a device owner times themselves.

:func:`time_runner` is the one timing loop every backend shares: warm-up, then adaptive repeats until the
time budget is spent (at least ``min_runs``), median kept.
"""

from __future__ import annotations

import statistics
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nas.errors import NasError
from nas.registry import Registry

Runner = Callable[[], Any]
BACKENDS: Registry[type[LatencyBackend]] = Registry("runtime")  # @BACKENDS.register() on a backend class


class BackendError(NasError):
    """A runtime cannot run or export a model here (missing package, unsupported platform)."""


@dataclass(frozen=True)
class TimingPolicy:
    """How long and how often to time one model (adaptive: enough runs for a stable median)."""

    warmup_runs: int = 3
    warmup_s: float = 0.03
    min_runs: int = 10
    max_runs: int = 400
    budget_s: float = 0.3
    clock: str = "thread"  # "thread": CPU time of the calling thread; "wall": elapsed time

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Timing:
    """Result of timing one runner: median and spread in ms, and how many timed runs."""

    median_ms: float
    p25_ms: float
    p75_ms: float
    runs: int


CLOCKS: dict[str, Callable[[], float]] = {"thread": time.thread_time, "wall": time.perf_counter}


def time_runner(run: Runner, policy: TimingPolicy = TimingPolicy()) -> Timing:
    """Warm up ``run``, then time it until ``policy.budget_s`` is spent (>= min_runs); median in ms.

    With ``clock="thread"`` each run is timed by the CPU time of the calling thread, which is exact for a
    single-threaded runtime (the work runs on the caller) and immune to other processes' time slices on a
    shared core; the budget is always wall time.
    """
    clock = CLOCKS[policy.clock]
    start = time.perf_counter()
    for i in range(max(policy.warmup_runs, 1) * 1000):
        run()
        if i + 1 >= policy.warmup_runs and time.perf_counter() - start >= policy.warmup_s:
            break
    samples: list[float] = []
    begin = time.perf_counter()
    while len(samples) < policy.max_runs:
        t0 = clock()
        run()
        samples.append((clock() - t0) * 1e3)
        if len(samples) >= policy.min_runs and time.perf_counter() - begin >= policy.budget_s:
            break
    q = statistics.quantiles(samples, n=4) if len(samples) > 1 else [samples[0]] * 3
    return Timing(statistics.median(samples), q[0], q[2], len(samples))


class LatencyBackend(ABC):
    """A runtime that runs (and times) torch modules; see the module docstring for the contract."""

    name: str = ""
    compute_unit: str = "cpu"
    can_time: bool = True
    file_suffix: str = ""

    @abstractmethod
    def runtime_version(self) -> str:
        """Version of the runtime package."""

    @abstractmethod
    def compile(self, module: Any, example: Any, *, threads: int = 1) -> Runner:
        """A no-argument callable running one inference of ``module`` on ``example``."""

    def export(self, module: Any, example: Any, path: Path) -> Path:
        """Write the runtime's model file for ``module`` (for timing on another device)."""
        raise BackendError(f"runtime '{self.name}' does not export model files")

    def measure(self, module: Any, example: Any, *, threads: int = 1,
                policy: TimingPolicy = TimingPolicy()) -> Timing:
        """Compile and time ``module`` on ``example``."""
        return time_runner(self.compile(module, example, threads=threads), policy)


@BACKENDS.register()
class OnnxRuntimeBackend(LatencyBackend):
    """onnxruntime on the CPU (:func:`nas.convert.onnx_bytes`): all graph optimisations, ``threads`` intra-op
    threads, sequential execution.

    The input is uploaded once and the output bound to an ORT-allocated buffer (IOBinding), so a run
    times the graph and the call, not numpy conversions.
    """

    name = "onnxruntime"
    file_suffix = ".onnx"

    def runtime_version(self) -> str:
        import onnxruntime

        return onnxruntime.__version__

    def session(self, model: bytes, *, threads: int = 1) -> Any:
        """An InferenceSession for serialized ONNX ``model`` with this backend's settings."""
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3
        return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])

    def compile(self, module: Any, example: Any, *, threads: int = 1) -> Runner:
        import onnxruntime as ort

        from nas.convert import onnx_bytes

        sess = self.session(onnx_bytes(module, example), threads=threads)
        binding = sess.io_binding()
        x = ort.OrtValue.ortvalue_from_numpy(example.detach().numpy())
        binding.bind_ortvalue_input(sess.get_inputs()[0].name, x)
        for out in sess.get_outputs():
            binding.bind_output(out.name, "cpu")

        def run() -> None:
            sess.run_with_iobinding(binding)

        run.keep_alive = (sess, binding, x)  # type: ignore[attr-defined]
        return run

    def export(self, module: Any, example: Any, path: Path) -> Path:
        from nas.convert import onnx_bytes

        path.write_bytes(onnx_bytes(module, example))
        return path


@BACKENDS.register()
class TorchBackend(LatencyBackend):
    """Eager PyTorch on the CPU (``torch.set_num_threads(threads)``, inference mode)."""

    name = "torch"

    def runtime_version(self) -> str:
        import torch

        return torch.__version__

    def compile(self, module: Any, example: Any, *, threads: int = 1) -> Runner:
        import torch

        torch.set_num_threads(threads)
        module = module.eval()

        def run() -> None:
            with torch.inference_mode():
                module(example)

        return run


@BACKENDS.register()
class CoreMLBackend(LatencyBackend):
    """Core ML (:func:`nas.convert.to_coreml`: an mlprogram). Converts anywhere, runs only on macOS."""

    name = "coreml"
    compute_unit = "all"
    file_suffix = ".mlpackage"

    @property
    def can_time(self) -> bool:  # type: ignore[override]
        import platform

        return platform.system() == "Darwin"

    def runtime_version(self) -> str:
        from nas.convert import import_coremltools

        return import_coremltools().__version__

    def export(self, module: Any, example: Any, path: Path) -> Path:
        from nas.convert import quiet_coremltools, to_coreml

        model = to_coreml(module, example)
        with quiet_coremltools():
            model.save(str(path))
        return path

    def compile(self, module: Any, example: Any, *, threads: int = 1) -> Runner:
        if not self.can_time:
            raise BackendError("runtime 'coreml' can only time on macOS; use --export DIR here and "
                               "'nas profile import CSV' with the timings measured on the device")
        from nas.convert import INPUT_NAME, to_coreml

        model = to_coreml(module, example)
        inputs = {INPUT_NAME: example.detach().numpy()}
        return lambda: model.predict(inputs)




def get_backend(name: str) -> LatencyBackend:
    """An instance of the backend registered as ``name`` (UnknownNameError lists the known ones)."""
    return BACKENDS[name]()
