"""Residual blocks: token blocks (ViT / Meta3D / LITv2) and EfficientFormer Meta4D."""

from __future__ import annotations

import torch
from torch import nn

from nas.layers.create import get_norm
from nas.layers.mlp import ConvMlp


class LayerScale(nn.Module):
    """Learned per-channel scale on a residual branch (channels last, or first for (B, C, H, W))."""

    def __init__(self, dim: int, init: float, *, channels_first: bool = False):
        super().__init__()
        self.gamma = nn.Parameter(init * torch.ones(dim))
        self.channels_first = channels_first

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * (self.gamma[:, None, None] if self.channels_first else self.gamma)


class TokenBlock(nn.Module):
    """Pre-norm residual block on (B, N, C): ``x + mixer(norm(x))`` then ``x + ffn(norm(x))``.

    ``mixer`` None gives an FFN-only block (LITv2's early stages).
    """

    def __init__(self, dim: int, *, mixer: nn.Module | None, ffn: nn.Module, norm: str, layer_scale: float = 0.0):
        super().__init__()
        self.norm1 = get_norm(norm, dim, layout="tokens") if mixer is not None else None
        self.mixer = mixer
        self.ls1 = LayerScale(dim, layer_scale) if layer_scale and mixer is not None else nn.Identity()
        self.norm2 = get_norm(norm, dim, layout="tokens")
        self.ffn = ffn
        self.ls2 = LayerScale(dim, layer_scale) if layer_scale else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mixer is not None:
            x = x + self.ls1(self.mixer(self.norm1(x)))
        return x + self.ls2(self.ffn(self.norm2(x)))


class Meta4D(nn.Module):
    """EfficientFormer Meta4D on (B, C, H, W): ``x + (avgpool(x) - x)``, then ``x + convmlp(x)``."""

    def __init__(
        self,
        dim: int,
        *,
        pool_size: int = 3,
        mlp_ratio: float = 4.0,
        act: str = "gelu",
        norm: str = "batchnorm",
        layer_scale: float = 0.0,
    ):
        super().__init__()
        self.pool = nn.AvgPool2d(pool_size, 1, pool_size // 2, count_include_pad=False)
        self.mlp = ConvMlp(dim, int(dim * mlp_ratio), act=act, norm=norm)
        self.ls1 = LayerScale(dim, layer_scale, channels_first=True) if layer_scale else nn.Identity()
        self.ls2 = LayerScale(dim, layer_scale, channels_first=True) if layer_scale else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.ls1(self.pool(x) - x)
        return x + self.ls2(self.mlp(x))
