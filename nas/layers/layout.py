"""Explicit layout changes between (B, C, H, W) feature maps and (B, N, C) tokens.

They are blocks of their own so the latency table prices them: reshapes and transposes are
expensive on mobile compilers.
"""

from __future__ import annotations

import torch
from torch import nn


class ToTokens(nn.Module):
    """(B, C, H, W) -> (B, H * W, C)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(2).transpose(1, 2)


class ToImage(nn.Module):
    """(B, H * W, C) -> (B, C, H, W) for a fixed H x W ``grid``."""

    def __init__(self, grid: tuple[int, int]):
        super().__init__()
        self.grid = grid

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, c = x.shape
        return x.transpose(1, 2).reshape(b, c, self.grid[0], self.grid[1])
