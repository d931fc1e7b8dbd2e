"""MobileNetV2 inverted residual."""

from __future__ import annotations

import torch
from torch import nn

from nas.layers.conv import ConvNormAct
from nas.layers.helpers import make_divisible


class InvertedResidual(nn.Module):
    """1x1 expand (skipped at ratio 1) -> kxk depthwise -> 1x1 project; residual when shapes allow."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        *,
        stride: int = 1,
        expand_ratio: float = 4.0,
        kernel_size: int = 3,
        act: str = "silu",
        norm: str = "batchnorm",
    ):
        super().__init__()
        hidden = make_divisible(round(in_chs * expand_ratio), 8)
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(ConvNormAct(in_chs, hidden, 1, norm=norm, act=act))
        layers += [
            ConvNormAct(hidden, hidden, kernel_size, stride=stride, groups=hidden, norm=norm, act=act),
            ConvNormAct(hidden, out_chs, 1, norm=norm, act=None),
        ]
        self.block = nn.Sequential(*layers)
        self.use_residual = stride == 1 and in_chs == out_chs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        return x + out if self.use_residual else out
