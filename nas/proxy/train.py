"""The short-training proxy: train the candidate briefly at a small resolution, report validation top-1."""

from __future__ import annotations

import math
import time

import torch
import torch.nn.functional as F

from nas.config import ArchConfig
from nas.models.builder import build_model
from nas.models.stats import count_params
from nas.proxy.base import Proxy, ProxyResult, is_oom, proxy_resolution, torch_threads
from nas.proxy.data import Dataset
from nas.proxy.transforms import random_crop, random_hflip, resize


class TrainProxy(Proxy):
    """Short training (AdamW, warm-up + cosine, crop/flip, label smoothing); score = validation top-1.

    Args:
        steps: optimiser steps (the budget); ignored when ``epochs`` is given.
        epochs: passes over the training split; sets steps = ceil(epochs * N / batch_size).
        batch_size: images per step.
        lr, weight_decay: AdamW settings (peak learning rate after a linear warm-up of 10% of the steps).
        label_smoothing: of the cross-entropy loss.
        resolution: requested input side; the smallest multiple of the total stride >= it is used.
        max_seconds: optional wall-clock cap on the training loop (breaks determinism when it triggers;
            the result says so in ``reason``).
        threads: torch intra-op threads while evaluating (fixed for determinism; None keeps torch's).
        eval_batch: images per forward pass during validation.
    """

    name = "train"

    def __init__(self, *, steps: int = 100, epochs: float | None = None, batch_size: int = 64,
                 lr: float = 2e-3, weight_decay: float = 0.05, label_smoothing: float = 0.1,
                 resolution: int = 32, max_seconds: float | None = None, threads: int | None = 1,
                 eval_batch: int = 250):
        super().__init__(resolution=resolution, threads=threads)
        self.steps, self.epochs, self.batch_size = steps, epochs, batch_size
        self.lr, self.weight_decay, self.label_smoothing = lr, weight_decay, label_smoothing
        self.max_seconds, self.eval_batch = max_seconds, eval_batch

    def num_steps(self, data: Dataset) -> int:
        """The step budget for ``data`` (from epochs when given)."""
        if self.epochs is not None:
            return max(1, math.ceil(self.epochs * len(data.train_y) / self.batch_size))
        return max(1, self.steps)

    def evaluate(self, cfg: ArchConfig, data: Dataset, *, seed: int = 0) -> ProxyResult:
        start = time.perf_counter()
        res = proxy_resolution(cfg, self.resolution)
        steps = self.num_steps(data)
        details = {"steps": steps, "resolution": res, "batch_size": self.batch_size, "seed": seed}
        with torch_threads(self.threads):
            try:
                return self._run(cfg, data, seed=seed, res=res, steps=steps, start=start, details=details)
            except Exception as exc:
                if not is_oom(exc):
                    raise
                return self.failed(cfg, f"out of memory: {exc}".strip()[:300], time.perf_counter() - start,
                                   **details)

    def _run(self, cfg: ArchConfig, data: Dataset, *, seed: int, res: int, steps: int, start: float,
             details: dict) -> ProxyResult:
        torch.manual_seed(seed)
        model = build_model(cfg, resolution=res, num_classes=data.num_classes)
        details["params"] = count_params(model)
        decay = [p for p in model.parameters() if p.ndim > 1]
        no_decay = [p for p in model.parameters() if p.ndim <= 1]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": self.weight_decay},
                                 {"params": no_decay, "weight_decay": 0.0}], lr=self.lr)
        warmup = max(1, steps // 10)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _warmup_cosine(s, warmup, steps))
        g = torch.Generator().manual_seed(seed)
        n = len(data.train_y)
        order, pos = torch.randperm(n, generator=g), 0
        losses: list[float] = []
        model.train()
        for step in range(steps):
            if pos + self.batch_size > n:
                order, pos = torch.randperm(n, generator=g), 0
            idx = order[pos:pos + self.batch_size]
            pos += self.batch_size
            x = data.normalize(data.train_x[idx])  # (B, C, S, S)
            x = random_crop(x, padding=max(1, x.shape[-1] // 8), generator=g)
            if data.hflip:
                x = random_hflip(x, generator=g)
            x = resize(x, res)
            loss = F.cross_entropy(model(x), data.train_y[idx], label_smoothing=self.label_smoothing)
            if not torch.isfinite(loss):
                return self.failed(cfg, f"non-finite loss ({loss.item()}) at step {step + 1}/{steps}",
                                   time.perf_counter() - start, **details)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
            over_time = self.max_seconds is not None and time.perf_counter() - start > self.max_seconds
            if over_time and step + 1 < steps:
                details["reason"] = f"wall-clock cap {self.max_seconds:g}s hit after {step + 1}/{steps} steps"
                details["steps_done"] = step + 1
                break
        tail = losses[-max(1, min(10, len(losses) // 5)):]
        final_loss = sum(tail) / len(tail)
        recalibrate_batchnorm(model, data, res=res, batch=self.eval_batch)
        acc = evaluate_top1(model, data.val_x, data.val_y, data=data, res=res, batch=self.eval_batch)
        if not math.isfinite(acc):
            return self.failed(cfg, "non-finite validation outputs", time.perf_counter() - start,
                               final_loss=final_loss, **details)
        reason = details.pop("reason", "")
        return ProxyResult(acc, True, reason, time.perf_counter() - start, final_loss, self.name, cfg.name,
                           details)


def _warmup_cosine(step: int, warmup: int, total: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1.0 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


@torch.no_grad()
def recalibrate_batchnorm(model: torch.nn.Module, data: Dataset, *, res: int, batch: int = 250,
                          images: int = 500) -> None:
    """Re-estimate BatchNorm running statistics of the trained weights on up to ``images`` training images.

    After a few dozen steps the running averages still mix in the statistics of the first, very different
    weights; exact averages over the final weights make eval-mode accuracy reflect what was learned.
    """
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    momenta = [bn.momentum for bn in bns]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average
    model.train()
    for i in range(0, min(images, len(data.train_y)), batch):
        model(resize(data.normalize(data.train_x[i:i + batch]), res))
    for bn, m in zip(bns, momenta, strict=True):
        bn.momentum = m


@torch.no_grad()
def evaluate_top1(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, *, data: Dataset, res: int,
                  batch: int = 250) -> float:
    """Top-1 accuracy in [0, 1] of ``model`` on uint8 images ``x``; NaN if any output is non-finite."""
    model.eval()
    correct = 0
    for i in range(0, len(y), batch):
        logits = model(resize(data.normalize(x[i:i + batch]), res))
        if not torch.isfinite(logits).all():
            return float("nan")
        correct += int((logits.argmax(1) == y[i:i + batch]).sum())
    return correct / max(1, len(y))
