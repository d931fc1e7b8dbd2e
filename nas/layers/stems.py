"""Stems: how pixels enter the network (conv stack or ViT patch embedding)."""

from __future__ import annotations

import torch
from torch import nn

from nas.layers.conv import ConvNormAct
from nas.layers.create import get_norm


class ConvStem(nn.Sequential):
    """A stack of 3x3 stride-2 conv-norm-act layers (EfficientFormer, MobileViT)."""

    def __init__(self, in_chs: int, channels: tuple[int, ...], *, act: str = "relu", norm: str = "batchnorm"):
        layers = []
        for out_chs in channels:
            layers.append(ConvNormAct(in_chs, out_chs, 3, stride=2, norm=norm, act=act))
            in_chs = out_chs
        super().__init__(*layers)


class PatchStem(nn.Module):
    """Non-overlapping p x p patch embedding to tokens, optional norm, class token, position embedding.

    Output: (B, N, C) tokens, with the class token first when ``cls_token``.
    """

    def __init__(
        self,
        in_chs: int,
        dim: int,
        *,
        patch_size: int,
        grid: tuple[int, int],
        norm: str = "none",
        cls_token: bool = False,
        pos_embed: bool = False,
    ):
        super().__init__()
        self.proj = nn.Conv2d(in_chs, dim, patch_size, patch_size)
        self.norm = get_norm(norm, dim, layout="tokens")
        num_tokens = grid[0] * grid[1] + int(cls_token)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim)) if cls_token else None
        self.pos_embed = nn.Parameter(torch.randn(1, num_tokens, dim) * 0.02) if pos_embed else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(x).flatten(2).transpose(1, 2)  # (B, C, H, W) -> (B, N, C)
        if self.cls_token is not None:
            x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)  # (B, 1 + N, C)
        if self.pos_embed is not None:
            x = x + self.pos_embed
        return self.norm(x)
