"""LITv2 HiLo attention: Hi-Fi heads inside s x s windows, Lo-Fi heads to average-pooled keys."""

from __future__ import annotations

import torch
from torch import nn


class HiLo(nn.Module):
    """HiLo attention over (B, N, C) tokens laid out on an H x W ``grid``.

    ``int(num_heads * alpha)`` heads are Lo-Fi: every token attends to keys/values average-pooled
    with kernel = stride = ``window``. The other heads are Hi-Fi: attention inside each
    non-overlapping window. With ``window`` 1 every head is Lo-Fi and no pooling happens
    (plain global MHSA), as in LITv2.
    """

    def __init__(
        self,
        dim: int,
        *,
        num_heads: int,
        grid: tuple[int, int],
        alpha: float = 0.5,
        window: int = 2,
        qkv_bias: bool = True,
    ):
        super().__init__()
        head_dim = dim // num_heads
        self.grid, self.window, self.head_dim = grid, window, head_dim
        self.scale = head_dim**-0.5
        self.l_heads = num_heads if window == 1 else int(num_heads * alpha)
        self.h_heads = num_heads - self.l_heads
        self.l_dim, self.h_dim = self.l_heads * head_dim, self.h_heads * head_dim
        if self.l_heads > 0:
            self.pool = nn.AvgPool2d(window, window) if window > 1 else nn.Identity()
            self.l_q = nn.Linear(dim, self.l_dim, bias=qkv_bias)
            self.l_kv = nn.Linear(dim, 2 * self.l_dim, bias=qkv_bias)
            self.l_proj = nn.Linear(self.l_dim, self.l_dim)
        if self.h_heads > 0:
            self.h_qkv = nn.Linear(dim, 3 * self.h_dim, bias=qkv_bias)
            self.h_proj = nn.Linear(self.h_dim, self.h_dim)

    def hifi(self, x: torch.Tensor) -> torch.Tensor:
        # Tensors stay at rank <= 5 (batch and window rows folded together): Core ML rejects rank 6.
        b, h, w, _ = x.shape
        s, nh, hd = self.window, self.h_heads, self.head_dim
        gh, gw = h // s, w // s
        g = b * gh * gw  # windows in the whole batch
        x = x.reshape(b * gh, s, gw, s, -1).transpose(1, 2).reshape(g, s * s, -1)  # (B*G, s*s, C)
        qkv = self.h_qkv(x).reshape(g, s * s, 3, nh, hd).permute(2, 0, 3, 1, 4)  # (3, B*G, nh, s*s, hd)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)  # (B*G, nh, s*s, s*s)
        out = (attn @ v).transpose(1, 2).reshape(b * gh, gw, s, s, self.h_dim)  # (B*gh, gw, s, s, h_dim)
        out = out.transpose(1, 2).reshape(b, h, w, self.h_dim)
        return self.h_proj(out)

    def lofi(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        nh, hd = self.l_heads, self.head_dim
        q = self.l_q(x).reshape(b, h * w, nh, hd).transpose(1, 2)  # (B, nh, N, hd)
        pooled = self.pool(x.permute(0, 3, 1, 2)).flatten(2).transpose(1, 2)  # (B, N / s^2, C)
        kv = self.l_kv(pooled).reshape(b, -1, 2, nh, hd).permute(2, 0, 3, 1, 4)  # (2, B, nh, M, hd)
        attn = ((q @ kv[0].transpose(-2, -1)) * self.scale).softmax(dim=-1)  # (B, nh, N, M)
        out = (attn @ kv[1]).transpose(1, 2).reshape(b, h, w, self.l_dim)
        return self.l_proj(out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        x = x.view(b, self.grid[0], self.grid[1], c)  # (B, H, W, C)
        if self.h_heads == 0:
            return self.lofi(x).reshape(b, n, c)
        if self.l_heads == 0:
            return self.hifi(x).reshape(b, n, c)
        return torch.cat([self.hifi(x), self.lofi(x)], dim=-1).reshape(b, n, c)
