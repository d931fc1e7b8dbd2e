"""What every accuracy proxy promises: the ProxyResult it returns and the small Proxy base class."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from nas.config import ArchConfig
from nas.proxy.data import Dataset
from nas.proxy.transforms import resize


@dataclass(frozen=True)
class ProxyResult:
    """One proxy's verdict on one architecture.

    Attributes:
        score: higher is better for every proxy (validation top-1 in [0, 1] for ``train``); None if failed.
        ok: False when the candidate failed (non-finite loss, out of memory); ``reason`` says why.
        reason: why it failed, or a note (e.g. the wall-clock cap stopped training early); "" otherwise.
        seconds: wall-clock time the evaluation took.
        final_loss: mean training loss over the last steps (``train`` only), else None.
        proxy: the proxy's registry name.
        name: the architecture's name.
        details: proxy-specific facts (steps run, resolution, parameter count...).
    """

    score: float | None
    ok: bool
    reason: str
    seconds: float
    final_loss: float | None
    proxy: str
    name: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Proxy(ABC):
    """A cheap estimate of an architecture's accuracy.

    Contract: ``evaluate(cfg, data, seed=...)`` builds ``cfg`` for ``data``'s class count at a small proxy
    resolution, returns a ProxyResult whose score is higher for better architectures, is deterministic for
    a given seed on CPU, and reports a failing candidate (non-finite values, out of memory) as a failed
    result instead of raising. Options (steps, resolution, batch size...) are constructor keywords.
    """

    name: str = ""

    def __init__(self, *, resolution: int = 32, threads: int | None = 1):
        self.resolution = resolution
        self.threads = threads

    @abstractmethod
    def evaluate(self, cfg: ArchConfig, data: Dataset, *, seed: int = 0) -> ProxyResult:
        """Score ``cfg`` on ``data``; see the class contract."""

    def failed(self, cfg: ArchConfig, reason: str, seconds: float, **details: Any) -> ProxyResult:
        return ProxyResult(None, False, reason, seconds, details.pop("final_loss", None), self.name,
                           cfg.name, details)


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
