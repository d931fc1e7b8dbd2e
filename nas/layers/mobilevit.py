"""MobileViT v1 and v2 blocks, with a Core ML-safe unfold/fold.

Core ML has no im2col/col2im, so patches are unfolded with ``pixel_unshuffle`` and folded back
with ``pixel_shuffle`` (4-D reshapes that ONNX and Core ML both convert), instead of
``F.unfold``/``F.fold``. A feature map not divisible by the patch size is resized (bilinear)
to the next multiple and back, as ml-cvnets does (MobileViT at 224 has a 7 x 7 last stage).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nas.layers.attention import Attention
from nas.layers.blocks import TokenBlock
from nas.layers.conv import ConvNormAct
from nas.layers.create import get_act, get_norm
from nas.layers.mlp import Mlp


def unfold_patches(x: torch.Tensor, patch_size: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, P, N): P pixels per p x p patch, N patches."""
    b, c, h, w = x.shape
    x = F.pixel_unshuffle(x, patch_size)  # (B, C * P, H / p, W / p)
    return x.reshape(b, c, patch_size * patch_size, (h // patch_size) * (w // patch_size))


def patch_grid(grid: tuple[int, int], patch_size: int) -> tuple[int, int]:
    """``grid`` rounded up to a multiple of ``patch_size`` in both dims."""
    return (-(-grid[0] // patch_size) * patch_size, -(-grid[1] // patch_size) * patch_size)


def resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of a (B, C, H, W) map to ``size``; a no-op when it already has that size."""
    if tuple(x.shape[-2:]) == size:
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def fold_patches(x: torch.Tensor, patch_size: int, grid: tuple[int, int]) -> torch.Tensor:
    """Inverse of :func:`unfold_patches`: (B, C, P, N) -> (B, C, H, W) for an H x W ``grid``."""
    b, c, _, _ = x.shape
    x = x.reshape(b, c * patch_size * patch_size, grid[0] // patch_size, grid[1] // patch_size)
    return F.pixel_shuffle(x, patch_size)  # (B, C, H, W)


class MobileViTBlock(nn.Module):
    """MobileViT v1: kxk conv, 1x1 to ``dim``, unfold, ``depth`` transformer layers, fold, 1x1 back, fuse."""

    def __init__(
        self,
        in_chs: int,
        *,
        dim: int,
        depth: int,
        num_heads: int,
        grid: tuple[int, int],
        patch_size: int = 2,
        kernel_size: int = 3,
        mlp_ratio: float = 2.0,
        fusion: bool = True,
        act: str = "silu",
        norm: str = "layernorm",
    ):
        super().__init__()
        self.grid, self.patch_size = grid, patch_size
        self.padded = patch_grid(grid, patch_size)
        self.local = nn.Sequential(
            ConvNormAct(in_chs, in_chs, kernel_size, act=act),
            nn.Conv2d(in_chs, dim, 1, bias=False),
        )
        self.transformer = nn.Sequential(
            *[
                TokenBlock(
                    dim,
                    mixer=Attention(dim, num_heads=num_heads),
                    ffn=Mlp(dim, int(dim * mlp_ratio), act=act),
                    norm=norm,
                )
                for _ in range(depth)
            ]
        )
        self.norm = get_norm(norm, dim, layout="tokens")
        self.proj = ConvNormAct(dim, in_chs, 1, act=act)
        self.fusion = ConvNormAct(2 * in_chs, in_chs, kernel_size, act=act) if fusion else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        y = resize(self.local(x), self.padded)  # (B, d, H', W'), H' and W' multiples of p
        d = y.shape[1]
        patches = unfold_patches(y, self.patch_size)  # (B, d, P, N)
        p, n = patches.shape[2], patches.shape[3]
        tokens = patches.permute(0, 2, 3, 1).reshape(b * p, n, d)  # (B * P, N, d)
        tokens = self.norm(self.transformer(tokens))
        patches = tokens.reshape(b, p, n, d).permute(0, 3, 1, 2)  # (B, d, P, N)
        y = self.proj(resize(fold_patches(patches, self.patch_size, self.padded), self.grid))  # (B, C, H, W)
        return self.fusion(torch.cat([x, y], dim=1)) if self.fusion is not None else y


class SeparableSelfAttention(nn.Module):
    """MobileViTv2 separable self-attention on (B, d, P, N), linear in the number of tokens N."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim
        self.qkv = nn.Conv2d(dim, 1 + 2 * dim, 1)
        self.proj = nn.Conv2d(dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv(x).split([1, self.dim, self.dim], dim=1)  # (B, 1, P, N), (B, d, P, N) x2
        scores = q.softmax(dim=-1)  # context scores over the N tokens
        context = (k * scores).sum(dim=-1, keepdim=True)  # (B, d, P, 1)
        return self.proj(F.relu(v) * context)


class SeparableLayer(nn.Module):
    """Pre-norm separable attention then a 1x1-conv FFN, on (B, d, P, N)."""

    def __init__(self, dim: int, *, hidden: int, act: str, norm: str):
        super().__init__()
        self.norm1 = get_norm(norm, dim, layout="nchw")
        self.attn = SeparableSelfAttention(dim)
        self.norm2 = get_norm(norm, dim, layout="nchw")
        self.ffn = nn.Sequential(nn.Conv2d(dim, hidden, 1), get_act(act)(), nn.Conv2d(hidden, dim, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.ffn(self.norm2(x))


class MobileViTv2Block(nn.Module):
    """MobileViTv2: depthwise kxk conv, 1x1 to ``dim``, unfold, separable layers, fold, 1x1 back (no fusion)."""

    def __init__(
        self,
        in_chs: int,
        *,
        dim: int,
        depth: int,
        grid: tuple[int, int],
        patch_size: int = 2,
        kernel_size: int = 3,
        mlp_ratio: float = 2.0,
        act: str = "silu",
        norm: str = "layernorm2d",
    ):
        super().__init__()
        self.grid, self.patch_size = grid, patch_size
        self.padded = patch_grid(grid, patch_size)
        self.local = nn.Sequential(
            ConvNormAct(in_chs, in_chs, kernel_size, groups=in_chs, act=act),
            nn.Conv2d(in_chs, dim, 1, bias=False),
        )
        hidden = int(dim * mlp_ratio) // 16 * 16  # ml-cvnets rounds the FFN width to 16
        self.layers = nn.Sequential(*[SeparableLayer(dim, hidden=hidden, act=act, norm=norm) for _ in range(depth)])
        self.norm = get_norm(norm, dim, layout="nchw")
        self.proj = ConvNormAct(dim, in_chs, 1, act=None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        patches = unfold_patches(resize(self.local(x), self.padded), self.patch_size)  # (B, d, P, N)
        patches = self.norm(self.layers(patches))
        return self.proj(resize(fold_patches(patches, self.patch_size, self.padded), self.grid))  # (B, C, H, W)
