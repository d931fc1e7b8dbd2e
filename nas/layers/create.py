"""Activation and norm layers by name (the names ArchConfig uses)."""

from __future__ import annotations

import math

import torch
from torch import nn

_ACTS: dict[str, type[nn.Module]] = {
    "gelu": nn.GELU,
    "relu": nn.ReLU,
    "hardswish": nn.Hardswish,
    "silu": nn.SiLU,
}


def get_act(name: str) -> type[nn.Module]:
    """Activation class for ``name`` (gelu, relu, hardswish, silu)."""
    try:
        return _ACTS[name]
    except KeyError:
        raise ValueError(f"unknown activation '{name}'; accepted: {', '.join(_ACTS)}") from None


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channel dim of a (B, C, H, W) tensor, written without permutes."""

    def __init__(self, num_channels: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(num_channels))
        self.bias = nn.Parameter(torch.zeros(num_channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(1, keepdim=True)  # (B, 1, H, W)
        var = (x - mean).pow(2).mean(1, keepdim=True)
        x = (x - mean) / torch.sqrt(var + self.eps)
        return x * self.weight[:, None, None] + self.bias[:, None, None]


class TokenNorm(nn.Module):
    """Apply a channels-first norm (BatchNorm/GroupNorm) to (B, N, C) tokens."""

    def __init__(self, norm: nn.Module):
        super().__init__()
        self.norm = norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.transpose(1, 2)).transpose(1, 2)  # (B, N, C) -> (B, C, N) -> back


def _groups(num_channels: int) -> int:
    return math.gcd(num_channels, 32)


def get_norm(name: str, num_channels: int, *, layout: str) -> nn.Module:
    """Norm module ``name`` for ``num_channels`` channels.

    Args:
        name: layernorm (over channels), batchnorm, groupnorm (gcd(C, 32) groups),
            layernorm2d (one group over C, H, W: MobileViTv2's ``layer_norm_2d``), or none.
        layout: ``nchw`` for (B, C, H, W) feature maps, ``tokens`` for (B, N, C).
    """
    if name == "none":
        return nn.Identity()
    if layout == "nchw":
        makers = {
            "layernorm": lambda: ChannelLayerNorm(num_channels),
            "batchnorm": lambda: nn.BatchNorm2d(num_channels),
            "groupnorm": lambda: nn.GroupNorm(_groups(num_channels), num_channels),
            "layernorm2d": lambda: nn.GroupNorm(1, num_channels),
        }
    elif layout == "tokens":
        makers = {
            "layernorm": lambda: nn.LayerNorm(num_channels, eps=1e-6),
            "batchnorm": lambda: TokenNorm(nn.BatchNorm1d(num_channels)),
            "groupnorm": lambda: TokenNorm(nn.GroupNorm(_groups(num_channels), num_channels)),
            "layernorm2d": lambda: TokenNorm(nn.GroupNorm(1, num_channels)),
        }
    else:
        raise ValueError(f"unknown layout '{layout}'; accepted: nchw, tokens")
    if name not in makers:
        raise ValueError(f"unknown norm '{name}'; accepted: {', '.join(makers)}, none")
    return makers[name]()
