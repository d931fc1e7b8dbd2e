"""What every accuracy proxy promises: the ProxyResult it returns and the small Proxy base class."""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import torch

from nas.config import ArchConfig
from nas.proxy.data import Dataset
from nas.proxy.options import Option, check_options
from nas.proxy.transforms import resize

# What a score is: a validation accuracy, a score derived from training losses, a count (parameters,
# MACs), or another score (training-free proxies, combinations). Reports label their axis with it.
SCORE_KINDS = ("accuracy", "loss-based score", "count", "score")


@dataclass(frozen=True)
class ProxyResult:
    """One proxy's verdict on one architecture.

    Attributes:
        score: higher is better for every proxy (what it is: ``metric`` and ``kind``); None if failed.
        ok: False when the candidate failed (non-finite loss, out of memory); ``reason`` says why.
        reason: why it failed, or a note (e.g. the wall-clock cap stopped training early); "" otherwise.
        seconds: wall-clock seconds spent on this architecture (for a resumed training, since it started).
        final_loss: mean training loss over the last steps (training proxies only), else None.
        proxy: the proxy's registry name.
        name: the architecture's name.
        details: proxy-specific facts (steps run, resolution, parameter count, device, rungs...).
        metric: what the score measures, e.g. "validation top-1".
        kind: one of SCORE_KINDS.
        cpu_seconds: CPU seconds of this process spent on this architecture (same span as ``seconds``).
    """

    score: float | None
    ok: bool
    reason: str
    seconds: float
    final_loss: float | None
    proxy: str
    name: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    metric: str = ""
    kind: str = "score"
    cpu_seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Stopwatch:
    """Wall-clock and CPU seconds spent inside ``running()`` blocks, starting from earlier totals."""

    def __init__(self, seconds: float = 0.0, cpu_seconds: float = 0.0):
        self._seconds, self._cpu_seconds = seconds, cpu_seconds
        self._since: tuple[float, float] | None = None

    @contextmanager
    def running(self) -> Iterator[Stopwatch]:
        """Count the time spent in the block (nested blocks count once)."""
        if self._since is not None:
            yield self
            return
        self._since = (time.perf_counter(), time.process_time())
        try:
            yield self
        finally:
            self._seconds, self._cpu_seconds = self.seconds, self.cpu_seconds
            self._since = None

    @property
    def seconds(self) -> float:
        """Wall-clock seconds counted so far."""
        return self._seconds + (time.perf_counter() - self._since[0] if self._since else 0.0)

    @property
    def cpu_seconds(self) -> float:
        """CPU seconds of this process counted so far."""
        return self._cpu_seconds + (time.process_time() - self._since[1] if self._since else 0.0)


class Proxy(ABC):
    """A cheap estimate of an architecture's accuracy.

    Contract: ``evaluate(cfg, data, seed=..., device=...)`` builds ``cfg`` for ``data``'s class count at a
    small proxy resolution and returns a ProxyResult whose score is higher for better architectures,
    labelled with the proxy's ``metric`` and ``kind``; it is deterministic for a given seed on CPU, and
    reports a failing candidate (non-finite values, out of memory) as a failed result instead of raising.
    Options are the keywords declared in ``OPTIONS`` (checked: unknown names, wrong types and out-of-range
    values raise ProxyOptionError); ``options`` holds every option's value, defaults included.
    """

    name: ClassVar[str] = ""
    metric: ClassVar[str] = ""
    kind: ClassVar[str] = "score"
    trains: ClassVar[bool] = False  # True for proxies that train the candidate (cost: seconds, not ms)
    runs_network: ClassVar[bool] = True  # False for a proxy that predicts from the architecture alone
    OPTIONS: ClassVar[dict[str, Option]] = {
        "resolution": Option(int, 32, 0, doc="requested input side (rounded up to the network's stride)"),
        "threads": Option(int, 1, 0, trajectory=False, doc="torch intra-op threads (None keeps torch's)"),
    }

    def __init__(self, **options: Any):
        self.options: dict[str, Any] = check_options(self.name, self.OPTIONS, options)
        for key, value in self.options.items():
            setattr(self, key, value)

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Every option's default value: what ``get_proxy(name)`` and ``nas proxy`` use when given none."""
        return {key: opt.default for key, opt in cls.OPTIONS.items()}

    @abstractmethod
    def evaluate(self, cfg: ArchConfig, data: Dataset, *, seed: int = 0,
                 device: torch.device | str | None = None) -> ProxyResult:
        """Score ``cfg`` on ``data`` (on ``device``, default CPU); see the class contract."""

    def result(self, cfg: ArchConfig, score: float, clock: Stopwatch, *, reason: str = "",
               final_loss: float | None = None, **details: Any) -> ProxyResult:
        """A successful ProxyResult labelled with this proxy's name, metric and kind."""
        return ProxyResult(score, True, reason, clock.seconds, final_loss, self.name, cfg.name, details,
                           self.metric, self.kind, clock.cpu_seconds)

    def failed(self, cfg: ArchConfig, reason: str, clock: Stopwatch, *, final_loss: float | None = None,
               **details: Any) -> ProxyResult:
        """A failed ProxyResult (no score) that says why."""
        return ProxyResult(None, False, reason, clock.seconds, final_loss, self.name, cfg.name, details,
                           self.metric, self.kind, clock.cpu_seconds)


def proxy_resolution(cfg: ArchConfig, requested: int) -> int:
    """The smallest multiple of the network's total stride that is >= ``requested``."""
    stride = cfg.total_stride
    return max(1, math.ceil(requested / stride)) * stride


def is_oom(exc: BaseException) -> bool:
    """True for the out-of-memory errors torch raises on CPU and accelerators."""
    if isinstance(exc, (MemoryError, torch.OutOfMemoryError)):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def unscorable(exc: BaseException) -> str | None:
    """Why a candidate cannot be scored, for the errors that fail one candidate rather than the run: out of
    memory, or a network the config limits refuse at the proxy's resolution; None for any other error."""
    from nas.errors import ConfigError

    if is_oom(exc):
        return f"out of memory: {exc}".strip()[:300]
    if isinstance(exc, ConfigError):
        return f"cannot be built at the proxy's resolution: {exc}"[:300]
    return None


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run with ``threads`` intra-op threads (None keeps torch's setting), restored afterwards."""
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def real_batches(data: Dataset, *, batch_size: int, num_batches: int, resolution: int,
                 seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``num_batches`` disjoint normalised training batches drawn with ``seed``, at ``resolution``."""
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(data.train_y), generator=g)
    out = []
    for i in range(num_batches):
        idx = order[(i * batch_size) % len(order):][:batch_size]
        out.append((resize(data.normalize(data.train_x[idx]), resolution), data.train_y[idx]))
    return out
