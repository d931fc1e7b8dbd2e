"""Feed-forward layers: token MLP, conv-BN MLP (Meta4D), ConvFFN (LITv2 DWMlp)."""

from __future__ import annotations

import torch
from torch import nn

from nas.layers.create import get_act, get_norm


class Mlp(nn.Module):
    """Linear -> act -> Linear on (B, N, C) tokens."""

    def __init__(self, dim: int, hidden: int, *, act: str = "gelu"):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = get_act(act)()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class ConvMlp(nn.Module):
    """1x1 conv -> norm -> act -> 1x1 conv -> norm on (B, C, H, W) (EfficientFormer Meta4D)."""

    def __init__(self, dim: int, hidden: int, *, act: str = "gelu", norm: str = "batchnorm"):
        super().__init__()
        self.fc1 = nn.Conv2d(dim, hidden, 1)
        self.norm1 = get_norm(norm, hidden, layout="nchw")
        self.act = get_act(act)()
        self.fc2 = nn.Conv2d(hidden, dim, 1)
        self.norm2 = get_norm(norm, dim, layout="nchw")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm2(self.fc2(self.act(self.norm1(self.fc1(x)))))


class ConvFFN(nn.Module):
    """LITv2 DWMlp on tokens: Linear -> 3x3 depthwise conv on the grid -> act -> Linear."""

    def __init__(self, dim: int, hidden: int, *, grid: tuple[int, int], act: str = "gelu"):
        super().__init__()
        self.grid = grid
        self.fc1 = nn.Linear(dim, hidden)
        self.dwconv = nn.Conv2d(hidden, hidden, 3, 1, 1, groups=hidden)
        self.act = get_act(act)()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        h, w = self.grid
        x = self.fc1(x)  # (B, N, hidden)
        x = x.transpose(1, 2).reshape(b, -1, h, w)  # (B, hidden, H, W)
        x = self.dwconv(x).flatten(2).transpose(1, 2)  # (B, N, hidden)
        return self.fc2(self.act(x))
