"""A fake latency backend: a real :class:`~nas.latency.backends.LatencyBackend` with deterministic timings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nas.latency.backends import LatencyBackend, Runner, Timing, TimingPolicy


class FakeBackend(LatencyBackend):
    """Runs the torch module eagerly and reports a timing computed from the work, not from a clock.

    The "latency" of a module is ``fixed_ms + ms_per_mparam * parameters / 1e6 + ms_per_melement *
    (input + output elements) / 1e6``: the same module and input always give the same timing, so tests of
    profiling, calibration and validation get exact, repeatable numbers. It is registered nowhere by
    default; a test registers it (``BACKENDS.register("fake", FakeBackend)``) to run it through the tool.
    """

    name = "fake"
    file_suffix = ".pt"

    def __init__(self, *, fixed_ms: float = 0.05, ms_per_mparam: float = 2.0, ms_per_melement: float = 5.0):
        self.fixed_ms, self.ms_per_mparam, self.ms_per_melement = fixed_ms, ms_per_mparam, ms_per_melement

    def runtime_version(self) -> str:
        from nas import __version__

        return f"fake-{__version__}"

    def compile(self, module: Any, example: Any, *, threads: int = 1) -> Runner:
        import torch

        module = module.eval()

        def run() -> Any:
            with torch.inference_mode():
                return module(example)

        return run

    def latency_ms(self, module: Any, example: Any) -> float:
        """The deterministic latency this backend reports for ``module`` on ``example``."""
        from nas.models.stats import count_params

        out = self.compile(module, example)()
        elements = example.numel() + out.numel()
        return self.fixed_ms + self.ms_per_mparam * count_params(module) / 1e6 + self.ms_per_melement * elements / 1e6

    def measure(self, module: Any, example: Any, *, threads: int = 1,
                policy: TimingPolicy | None = None) -> Timing:
        ms = self.latency_ms(module, example)
        return Timing(ms, ms, ms, (policy or TimingPolicy()).min_runs)

    def export(self, module: Any, example: Any, path: Path) -> Path:
        """Write the module traced by TorchScript (a real file a test can reload)."""
        import torch

        with torch.no_grad():
            torch.jit.trace(module.eval(), example, check_trace=False).save(str(path))
        return path
