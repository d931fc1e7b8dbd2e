"""Global multi-head self-attention (ViT/DeiT, EfficientFormer Meta3D, MobileViT v1 transformer)."""

from __future__ import annotations

import itertools

import torch
from torch import nn


class Attention(nn.Module):
    """Multi-head self-attention over (B, N, C) tokens.

    Per head, queries and keys have ``key_dim`` channels and values ``attn_ratio * key_dim``
    (ViT: key_dim = dim // num_heads, ratio 1; EfficientFormer: 32 and 4). With ``grid`` set,
    a learned attention bias indexed by the (|dy|, |dx|) offset between grid points is added
    to the logits (LeViT / EfficientFormer).
    """

    def __init__(
        self,
        dim: int,
        *,
        num_heads: int,
        key_dim: int = 0,
        attn_ratio: float = 1.0,
        qkv_bias: bool = True,
        bias_grid: tuple[int, int] | None = None,
    ):
        super().__init__()
        self.num_heads = num_heads
        self.key_dim = key_dim or dim // num_heads
        self.value_dim = int(attn_ratio * self.key_dim)
        self.scale = self.key_dim**-0.5
        self.qkv = nn.Linear(dim, num_heads * (2 * self.key_dim + self.value_dim), bias=qkv_bias)
        self.proj = nn.Linear(num_heads * self.value_dim, dim)
        if bias_grid is not None:
            points = list(itertools.product(range(bias_grid[0]), range(bias_grid[1])))
            offsets: dict[tuple[int, int], int] = {}
            idxs = []
            for p1 in points:
                for p2 in points:
                    off = (abs(p1[0] - p2[0]), abs(p1[1] - p2[1]))
                    idxs.append(offsets.setdefault(off, len(offsets)))
            n = len(points)
            self.attention_biases = nn.Parameter(torch.zeros(num_heads, len(offsets)))
            self.register_buffer("bias_idxs", torch.tensor(idxs, dtype=torch.long).view(n, n), persistent=False)
        else:
            self.attention_biases = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        qkv = self.qkv(x).view(b, n, self.num_heads, -1)  # (B, N, nh, 2kd + vd)
        q, k, v = qkv.split([self.key_dim, self.key_dim, self.value_dim], dim=3)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)  # (B, nh, N, d)
        attn = (q @ k.transpose(-2, -1)) * self.scale  # (B, nh, N, N)
        if self.attention_biases is not None:
            attn = attn + self.attention_biases[:, self.bias_idxs]
        attn = attn.softmax(dim=-1)
        out = (attn @ v).transpose(1, 2).reshape(b, n, -1)  # (B, N, nh * vd)
        return self.proj(out)
