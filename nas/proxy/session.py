"""A resumable training run of one candidate: advance it step by step, score it at any point, save it.

The learning-rate schedule's horizon is the proxy's full step budget, so a score read after ``k`` steps is
a snapshot of the same run whatever rung it is read at, and a run saved after ``a`` steps and resumed in a
fresh process continues exactly as if it had never stopped (same seed, CPU). Scoring leaves the run as it
was: it draws no random numbers of the run and restores the BatchNorm statistics it re-estimates.
"""

from __future__ import annotations

import hashlib
import io
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from nas.config import ArchConfig
from nas.errors import NasError, UsageError
from nas.files import write_atomic
from nas.models.builder import build_model
from nas.models.stats import count_params
from nas.proxy.base import Proxy, ProxyResult, Stopwatch, is_oom, proxy_resolution, torch_threads
from nas.proxy.data import Dataset
from nas.proxy.transforms import random_crop, random_hflip, resize

STATE_FORMAT = 1


class StateError(NasError):
    """A saved training state cannot be read."""


class StateMismatchError(UsageError):
    """A saved training state belongs to another config, seed, dataset or proxy options."""


class TrainSession:
    """One candidate's training under a TrainProxy; made by ``TrainProxy.open``.

    Attributes:
        steps_done: optimiser steps taken so far.
        losses: the training loss of every step taken.
        failure: why the run failed (non-finite loss, out of memory), or "".
    """

    def __init__(self, proxy: Proxy, cfg: ArchConfig, data: Dataset, *, seed: int,
                 device: torch.device, state: str | Path | None = None):
        self.proxy, self.cfg, self.data, self.seed, self.device = proxy, cfg, data, seed, device
        self.resolution = proxy_resolution(cfg, proxy.resolution)
        saved = _read_state(state) if state is not None else None
        if saved is not None:
            self._check_identity(saved["identity"], state)
        self.clock = Stopwatch(saved["seconds"], saved["cpu_seconds"]) if saved else Stopwatch()
        self.steps_done: int = saved["steps_done"] if saved else 0
        self.losses: list[float] = list(saved["losses"]) if saved else []
        self.failure: str = saved["failure"] if saved else ""
        self.stopped_early = ""
        with torch_threads(proxy.threads), self.clock.running():
            self._build()
            if saved is not None:
                self._restore(saved)

    def _build(self) -> None:
        """The freshly initialised model (seeded), its optimiser, the data order, the data on the device."""
        device, cuda = self.device, [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda):
            torch.manual_seed(self.seed)
            self.model = build_model(self.cfg, resolution=self.resolution,
                                     num_classes=self.data.num_classes).to(device)
            # the run's own streams for anything random in the model (none of today's layers draw any)
            self._rng = torch.get_rng_state()
            self._device_rng = torch.cuda.get_rng_state(device) if cuda else None
        self.generator = torch.Generator().manual_seed(self.seed)  # data order, crops and flips
        self._order = torch.randperm(len(self.data.train_y), generator=self.generator)
        self._pos = 0
        decay = [p for p in self.model.parameters() if p.ndim > 1]
        no_decay = [p for p in self.model.parameters() if p.ndim <= 1]
        self.optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": self.proxy.weight_decay},
                                            {"params": no_decay, "weight_decay": 0.0}], lr=self.proxy.lr)
        self.params = count_params(self.model)
        self.train_x, self.train_y = _on_device(self.data.train_x, device), _on_device(self.data.train_y, device)
        self.val_x, self.val_y = _on_device(self.data.val_x, device), _on_device(self.data.val_y, device)

    # ------------------------------------------------------------------ training
    def advance(self, steps: int) -> ProxyResult:
        """Train until ``steps`` steps are done in total (at most the proxy's budget), then score.

        Returns the score after ``steps`` steps (``details["steps"]``), or a failed result if the run
        failed now or earlier. With the proxy's ``max_seconds`` cap, training may stop before ``steps``;
        the result then says so in ``reason`` and ``details["steps"]``.
        """
        budget = self.proxy.steps
        if isinstance(steps, bool) or not isinstance(steps, int) or not self.steps_done <= steps <= budget:
            raise UsageError(f"advance to {steps!r} steps: must be an integer from the {self.steps_done} "
                             f"steps already done to the proxy's budget of {budget}")
        self.stopped_early = ""
        with torch_threads(self.proxy.threads), self.clock.running():
            try:
                with self._run_rng():
                    self._train_until(steps)
                if self.failure:
                    return self._failed()
                return self._scored()
            except Exception as exc:
                if not is_oom(exc):
                    raise
                self.failure = f"out of memory: {exc}".strip()[:300]
                return self._failed()

    def _train_until(self, steps: int) -> None:
        proxy, data = self.proxy, self.data
        total = proxy.steps
        warmup = max(1, total // 10)
        n, batch = len(self.train_y), proxy.batch_size
        self.model.train()
        while self.steps_done < steps and not self.failure:
            if self._pos + batch > n:
                self._order, self._pos = torch.randperm(n, generator=self.generator), 0
            idx = self._order[self._pos:self._pos + batch]
            self._pos += batch
            x = data.normalize(self.train_x[idx.to(self.train_x.device)].to(self.device))  # (B, C, S, S)
            x = random_crop(x, padding=max(1, x.shape[-1] // 8), generator=self.generator)
            if data.hflip:
                x = random_hflip(x, generator=self.generator)
            x = resize(x, self.resolution)  # (B, C, R, R)
            y = self.train_y[idx.to(self.train_y.device)].to(self.device)
            for group in self.optimizer.param_groups:
                group["lr"] = proxy.lr * warmup_cosine(self.steps_done, warmup, total)
            loss = F.cross_entropy(self.model(x), y, label_smoothing=proxy.label_smoothing)
            if not torch.isfinite(loss):
                self.failure = f"non-finite loss ({loss.item()}) at step {self.steps_done + 1}/{total}"
                return
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            self.losses.append(loss.item())
            self.steps_done += 1
            over_time = proxy.max_seconds is not None and self.clock.seconds > proxy.max_seconds
            if over_time and self.steps_done < steps:
                self.stopped_early = (f"wall-clock cap {proxy.max_seconds:g}s hit after "
                                      f"{self.steps_done}/{steps} steps")
                return

    @contextmanager
    def _run_rng(self) -> Iterator[None]:
        """Run with the session's own global RNG stream, so other work in the process cannot shift it."""
        devices = [self.device] if self._device_rng is not None else []
        with torch.random.fork_rng(devices=devices):
            torch.set_rng_state(self._rng)
            if self._device_rng is not None:
                torch.cuda.set_rng_state(self._device_rng, self.device)
            try:
                yield
            finally:
                self._rng = torch.get_rng_state()
                if self._device_rng is not None:
                    self._device_rng = torch.cuda.get_rng_state(self.device)

    # ------------------------------------------------------------------ scoring
    def final_loss(self) -> float | None:
        """Mean training loss over the last fifth of the steps done (at most 10 steps); None before any."""
        if not self.losses:
            return None
        tail = self.losses[-max(1, min(10, len(self.losses) // 5)):]
        return sum(tail) / len(tail)

    def _details(self) -> dict[str, Any]:
        return {"steps": self.steps_done, "budget_steps": self.proxy.steps, "resolution": self.resolution,
                "batch_size": self.proxy.batch_size, "seed": self.seed, "params": self.params,
                "device": str(self.device)}

    def _scored(self) -> ProxyResult:
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            score = self.proxy.score(self)
        if score is None or not math.isfinite(score):
            return self.proxy.failed(self.cfg, "non-finite validation outputs", self.clock,
                                     final_loss=self.final_loss(), **self._details())
        return self.proxy.result(self.cfg, score, self.clock, reason=self.stopped_early,
                                 final_loss=self.final_loss(), **self._details())

    def _failed(self) -> ProxyResult:
        return self.proxy.failed(self.cfg, self.failure, self.clock, final_loss=self.final_loss(),
                                 **self._details())

    @torch.no_grad()
    def validation_top1(self) -> float:
        """Top-1 in [0, 1] on the validation split, BatchNorm statistics re-estimated on the current weights
        (restored afterwards); NaN if any output is non-finite."""
        bns = [m for m in self.model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        saved = [{k: v.clone() for k, v in bn.state_dict().items()} for bn in bns]
        try:
            recalibrate_batchnorm(self.model, bns, self.train_x, data=self.data, res=self.resolution,
                                  device=self.device, batch=self.proxy.eval_batch)
            return top1(self.model, self.val_x, self.val_y, data=self.data, res=self.resolution,
                        device=self.device, batch=self.proxy.eval_batch)
        finally:
            for bn, state in zip(bns, saved, strict=True):
                bn.load_state_dict(state)
            self.model.train()

    # ------------------------------------------------------------------ saving
    def identity(self) -> dict[str, Any]:
        """What a saved state must match to be resumed here: proxy, its training options, config, seed, data."""
        options = {k: v for k, v in self.proxy.options.items() if self.proxy.OPTIONS[k].trajectory}
        arch = {k: v for k, v in self.cfg.to_dict().items() if k not in ("name", "choices")}
        labels = hashlib.sha1(self.data.train_y.numpy().tobytes()).hexdigest()[:16]
        return {"proxy": self.proxy.name, "options": options, "config": arch, "config_name": self.cfg.name,
                "seed": self.seed, "data": {"name": self.data.name, "train": len(self.data.train_y),
                                            "labels": labels}}

    def save(self, path: str | Path) -> Path:
        """Atomically write what resuming needs (weights, optimiser, data order, RNG, losses) to ``path``."""
        state = {
            "format": STATE_FORMAT, "identity": self.identity(), "steps_done": self.steps_done,
            "losses": self.losses, "failure": self.failure, "seconds": self.clock.seconds,
            "cpu_seconds": self.clock.cpu_seconds, "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "data_order": {"order": self._order, "pos": self._pos, "generator": self.generator.get_state()},
            "rng": {"cpu": self._rng, "device": self._device_rng.cpu() if self._device_rng is not None else None},
        }
        buffer = io.BytesIO()
        torch.save(state, buffer)
        return write_atomic(path, buffer.getvalue())

    def _check_identity(self, saved: dict[str, Any], path: str | Path) -> None:
        mine = self.identity()
        if saved.get("proxy") != mine["proxy"]:
            why = f"by proxy '{saved.get('proxy')}', not '{mine['proxy']}'"
        elif saved.get("config") != mine["config"]:
            why = f"for another network (saved as '{saved.get('config_name')}')"
        elif saved.get("seed") != mine["seed"]:
            why = f"with seed {saved.get('seed')}, not {mine['seed']}"
        elif saved.get("data") != mine["data"]:
            theirs, ours = saved.get("data") or {}, mine["data"]
            why = (f"for dataset {theirs.get('name')} ({theirs.get('train')} training images), not "
                   f"{ours['name']} ({ours['train']})")
        elif saved.get("options") != mine["options"]:
            theirs, ours = saved.get("options") or {}, mine["options"]
            diff = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
            why = (f"with options {', '.join(f'{k}={theirs.get(k)}' for k in diff)}, not "
                   f"{', '.join(f'{k}={ours.get(k)}' for k in diff)}")
        else:
            return
        raise StateMismatchError(f"training state '{path}' was saved {why}; start afresh without it")

    def _restore(self, saved: dict[str, Any]) -> None:
        self.model.load_state_dict(saved["model"])
        self.optimizer.load_state_dict(saved["optimizer"])
        order = saved["data_order"]
        self._order, self._pos = order["order"], order["pos"]
        self.generator.set_state(order["generator"])
        self._rng = saved["rng"]["cpu"]
        if self._device_rng is not None and saved["rng"]["device"] is not None:
            self._device_rng = saved["rng"]["device"]


def warmup_cosine(step: int, warmup: int, total: int) -> float:
    """Learning-rate factor of step ``step`` (0-based): linear warm-up, then cosine decay to 0 at ``total``."""
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1.0 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


@torch.no_grad()
def recalibrate_batchnorm(model: torch.nn.Module, bns: list[torch.nn.Module], x: torch.Tensor, *,
                          data: Dataset, res: int, device: torch.device, batch: int = 250,
                          images: int = 500) -> None:
    """Re-estimate the running statistics of ``bns`` on the first ``images`` of uint8 images ``x``.

    After a few dozen steps the running averages still mix in the statistics of the first, very different
    weights; exact averages over the final weights make eval-mode accuracy reflect what was learned.
    """
    if not bns:
        return
    momenta = [bn.momentum for bn in bns]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average
    model.train()
    for i in range(0, min(images, len(x)), batch):
        model(resize(data.normalize(x[i:i + batch].to(device)), res))
    for bn, m in zip(bns, momenta, strict=True):
        bn.momentum = m


@torch.no_grad()
def top1(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, *, data: Dataset, res: int,
         device: torch.device, batch: int = 250) -> float:
    """Top-1 accuracy in [0, 1] of ``model`` on uint8 images ``x``; NaN if any output is non-finite."""
    model.eval()
    correct = 0
    for i in range(0, len(y), batch):
        logits = model(resize(data.normalize(x[i:i + batch].to(device)), res))
        if not torch.isfinite(logits).all():
            return float("nan")
        correct += int((logits.argmax(1) == y[i:i + batch].to(device)).sum())
    return correct / max(1, len(y))


def _on_device(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``t`` moved to ``device`` once (the whole split), or left on the CPU if it does not fit there."""
    if t.device == device:
        return t
    try:
        return t.to(device)
    except Exception as exc:
        if not is_oom(exc):
            raise
        return t  # batches are then copied per step


def _read_state(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        state = torch.load(io.BytesIO(path.read_bytes()), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise StateError(f"training state '{path}': no such file") from None
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means "not a state file"
        raise StateError(f"training state '{path}' is unreadable ({type(exc).__name__}); "
                         "delete it to start afresh") from None
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise StateError(f"training state '{path}' is not a format-{STATE_FORMAT} nas training state")
    return state
