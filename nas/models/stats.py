"""Parameter and MAC counts of built networks."""

from __future__ import annotations

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
    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(torch.zeros(input_shape))
    model.train(was_training)
    return counter.get_total_flops() // 2
