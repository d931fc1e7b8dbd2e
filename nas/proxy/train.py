"""Training proxies: train the candidate briefly at a small resolution, in rungs, and score what it learned.

``train`` scores validation top-1; ``sotl`` scores the training losses of the last steps (SoTL-E, Ru et
al., "Speedy Performance Estimation for Neural Architecture Search", NeurIPS 2021). Both train the same
way, resumably (``open`` -> TrainSession), and define the fidelity schedule ``rungs`` a multi-fidelity
search promotes candidates along.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import torch

from nas.config import ArchConfig
from nas.proxy.base import Proxy, ProxyResult, Stopwatch, proxy_resolution, unscorable
from nas.proxy.data import Dataset
from nas.proxy.device import resolve_train_device
from nas.proxy.options import Option
from nas.proxy.registry import register_proxy
from nas.proxy.session import TrainSession


@register_proxy
class TrainProxy(Proxy):
    """Short training (AdamW, warm-up + cosine over ``steps``, crop/flip, label smoothing); score =
    validation top-1 (BatchNorm statistics re-estimated on the trained weights).

    Options: ``steps`` (the budget and the learning-rate schedule's horizon), ``batch_size``, ``lr`` (peak,
    after a linear warm-up over 10% of the steps), ``weight_decay``, ``label_smoothing``, ``resolution``,
    ``eta`` and ``min_steps`` (the rungs), ``max_seconds`` (a wall-clock cap that breaks determinism when it
    triggers; the result says so), ``threads``, ``eval_batch``.
    """

    name = "train"
    metric = "validation top-1"
    kind = "accuracy"
    trains = True
    OPTIONS: ClassVar[dict[str, Option]] = {
        **Proxy.OPTIONS,
        "steps": Option(int, 40, 0, doc="optimiser steps: the full budget, last rung, schedule horizon"),
        "batch_size": Option(int, 64, 0, doc="images per step"),
        "lr": Option(float, 2e-3, 0, doc="peak AdamW learning rate"),
        "weight_decay": Option(float, 0.05, 0, strict=False, doc="AdamW weight decay"),
        "label_smoothing": Option(float, 0.1, 0, strict=False, maximum=0.99, doc="of the cross-entropy"),
        "eta": Option(int, 3, 1, trajectory=False, doc="budget ratio between consecutive rungs"),
        "min_steps": Option(int, 10, 0, trajectory=False, doc="smallest rung"),
        "max_seconds": Option(float, None, 0, strict=False, trajectory=False,
                              doc="wall-clock cap per candidate (at least one step is taken per advance)"),
        "eval_batch": Option(int, 250, 0, trajectory=False, doc="images per forward pass when scoring"),
    }
    steps: int
    batch_size: int
    lr: float
    weight_decay: float
    label_smoothing: float
    eta: int
    min_steps: int
    max_seconds: float | None
    eval_batch: int
    resolution: int
    threads: int | None

    @property
    def rungs(self) -> list[int]:
        """Ascending step counts at which a candidate is scored: ``steps / eta^k`` (rounded up) down to
        ``min_steps``; the last is ``steps``, the full budget."""
        rungs = [self.steps]
        while (lower := math.ceil(rungs[0] / self.eta)) >= self.min_steps and lower < rungs[0]:
            rungs.insert(0, lower)
        return rungs

    def open(self, cfg: ArchConfig, data: Dataset, *, seed: int, device: torch.device | str | None = None,
             state: str | Path | None = None) -> TrainSession:
        """A training session of ``cfg`` on ``data``: no step done, or resumed from the saved ``state``.

        Raises:
            StateMismatchError: ``state`` was saved for another config, seed, dataset or options.
            StateError: ``state`` cannot be read.
            DeviceError: ``device`` is unknown or absent.
        """
        return TrainSession(self, cfg, data, seed=seed, device=_device(device), state=state)

    def evaluate(self, cfg: ArchConfig, data: Dataset, *, seed: int = 0, device: torch.device | str | None = None,
                 on_rung: Callable[[ProxyResult], None] | None = None) -> ProxyResult:
        """Train through every rung to the full budget (``on_rung`` sees each rung's result); the final
        result lists each rung's score in ``details["rungs"]``."""
        try:
            session = self.open(cfg, data, seed=seed, device=device)
        except Exception as exc:
            reason = unscorable(exc)
            if reason is None:
                raise
            res = proxy_resolution(cfg, self.resolution)
            return self.failed(cfg, reason, Stopwatch(), steps=0, resolution=res)
        rungs: list[dict[str, Any]] = []
        for steps in self.rungs:
            result = session.advance(steps)
            if on_rung is not None:
                on_rung(result)
            rungs.append({"steps": result.details["steps"], "score": result.score,
                          "seconds": round(result.seconds, 3), "cpu_seconds": round(result.cpu_seconds, 3)})
            if not result.ok or result.details["steps"] < steps:
                break
        return dataclasses.replace(result, details={**result.details, "rungs": rungs})

    def score(self, session: TrainSession) -> float:
        """The score of a session at its current step: validation top-1."""
        return session.validation_top1()


@register_proxy
class SotlProxy(TrainProxy):
    """SoTL-E: minus the mean training loss over the last ``window`` of the steps done (Ru et al. 2021).

    Trains exactly as ``train`` does and reads the losses it already computed, so scoring costs nothing
    and needs no validation split; the mean (not the sum) keeps scores of different rungs on one scale.
    """

    name = "sotl"
    metric = "minus the mean training loss over the last steps"
    kind = "loss-based score"
    OPTIONS: ClassVar[dict[str, Option]] = {
        **TrainProxy.OPTIONS,
        "window": Option(float, 0.5, 0, maximum=1.0, trajectory=False,
                         doc="share of the steps done whose losses are averaged (0 < window <= 1)"),
    }
    window: float

    def score(self, session: TrainSession) -> float:
        """Minus the mean loss of the last ``ceil(window * steps_done)`` steps."""
        if not session.losses:
            return float("nan")
        tail = session.losses[-max(1, math.ceil(self.window * len(session.losses))):]
        return -sum(tail) / len(tail)


def epochs_to_steps(epochs: float, *, train_images: int, batch_size: int) -> int:
    """The step budget of ``epochs`` passes over ``train_images`` images at ``batch_size`` per step."""
    return max(1, math.ceil(epochs * train_images / batch_size))


def _device(device: torch.device | str | None) -> torch.device:
    if device is None:
        return torch.device("cpu")
    return device if isinstance(device, torch.device) else resolve_train_device(device)
