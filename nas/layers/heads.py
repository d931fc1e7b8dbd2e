"""Classifier head for feature maps or tokens."""

from __future__ import annotations

import torch
from torch import nn

from nas.layers.conv import ConvNormAct
from nas.layers.create import get_norm


class ClassifierHead(nn.Module):
    """Optional 1x1 conv expansion (feature maps), norm, pooling (average or class token), linear.

    With ``distillation`` a second linear head is averaged with the first (DeiT/EfficientFormer
    at inference).
    """

    def __init__(
        self,
        in_chs: int,
        num_classes: int,
        *,
        layout: str,
        pool: str = "avg",
        norm: str = "none",
        conv_channels: int = 0,
        act: str = "silu",
        distillation: bool = False,
    ):
        super().__init__()
        self.layout, self.pool = layout, pool
        self.conv = ConvNormAct(in_chs, conv_channels, 1, act=act) if conv_channels else None
        width = conv_channels or in_chs
        self.norm = get_norm(norm, width, layout=layout)
        self.fc = nn.Linear(width, num_classes)
        self.fc_dist = nn.Linear(width, num_classes) if distillation else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.conv is not None:
            x = self.conv(x)
        x = self.norm(x)
        if self.layout == "nchw":
            x = x.mean(dim=(2, 3))  # (B, C)
        else:
            x = x[:, 0] if self.pool == "cls" else x.mean(dim=1)  # (B, C)
        out = self.fc(x)
        if self.fc_dist is not None:
            out = (out + self.fc_dist(x)) / 2
        return out
