"""Parameter and MAC counts of built networks: the one counter every command and benchmark uses."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_params(model: nn.Module) -> int:
    """Number of parameters (learned tensors only, buffers excluded)."""
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of one forward pass at ``input_shape`` (batch included).

    Counted by torch's FlopCounterMode over matmuls, convolutions and attention kernels
    (FLOPs / 2); element-wise ops are not counted, as in the papers' MAC figures.
    """
    with _eval(model):
        _, macs = _forward_macs(model, torch.zeros(input_shape))
    return macs


def block_stats(blocks: nn.Sequential, input_shape: tuple[int, ...]) -> list[tuple[int, int]]:
    """(parameters, MACs) of each module of the chain ``blocks`` (a built Network), fed one after another
    from a zero input of ``input_shape`` (batch included); MACs as in :func:`count_macs`."""
    out = []
    x = torch.zeros(input_shape)
    with _eval(blocks):
        for block in blocks:
            x, macs = _forward_macs(block, x)
            out.append((count_params(block), macs))
    return out


def _forward_macs(module: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, int]:
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        y = module(x)
    return y, counter.get_total_flops() // 2


@contextmanager
def _eval(model: nn.Module) -> Iterator[None]:
    """Eval mode for the count, the model's own mode restored afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


_STATS_KEPT = 256  # networks whose counts a process remembers (a search asks twice per candidate)
_stats: OrderedDict[tuple[str, int | None], tuple[int, int]] = OrderedDict()


def network_stats(cfg: Any, *, resolution: int | None = None) -> tuple[int, int]:
    """(parameters, MACs) of the ArchConfig ``cfg`` built at ``resolution`` (default: its own), batch 1.

    Remembered per network (``arch_id``) for the recent ones: a search's proxy and its record of the
    candidate ask for the same counts, and building a large network twice costs a good part of a
    training-free score.
    """
    from nas.config import arch_id
    from nas.models.builder import build_model

    key = (arch_id(cfg), resolution)
    if key in _stats:
        _stats.move_to_end(key)
        return _stats[key]
    model = build_model(cfg, resolution=resolution)
    res = model.cfg.resolution
    _stats[key] = count_params(model), count_macs(model, (1, model.cfg.in_chans, res, res))
    if len(_stats) > _STATS_KEPT:
        _stats.popitem(last=False)
    return _stats[key]


_BLOCKS_KEPT = 4096  # blocks whose counts a process remembers (a space has a few thousand distinct blocks)
_block_counts: OrderedDict[str, tuple[int, int]] = OrderedDict()


def block_counts(spec: Any) -> tuple[int, int]:
    """(parameters, MACs) of one planned block (a :class:`~nas.models.plan.BlockSpec`), built alone and fed an
    input of its shape; remembered per block key."""
    from nas.models.builder import build_block, example_input

    hit = _block_counts.get(spec.key)
    if hit is not None:
        _block_counts.move_to_end(spec.key)
        return hit
    block = build_block(spec)
    with _eval(block):
        _, macs = _forward_macs(block, example_input(spec))
    _block_counts[spec.key] = count_params(block), macs
    if len(_block_counts) > _BLOCKS_KEPT:
        _block_counts.popitem(last=False)
    return _block_counts[spec.key]


def planned_stats(cfg: Any, *, resolution: int | None = None) -> tuple[int, int]:
    """(parameters, MACs) of ``cfg`` as the sum over its planned blocks: the same numbers as
    :func:`network_stats` (a network is the chain of its blocks), at the cost of the blocks not counted yet, so
    a search can test size limits on every proposal and find the smallest network of a space."""
    from nas.models.plan import plan

    params = macs = 0
    for spec in plan(cfg, resolution=resolution):
        p, m = block_counts(spec)
        params, macs = params + p, macs + m
    return params, macs
