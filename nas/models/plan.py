"""Decompose an ArchConfig into the blocks that set its cost.

``plan(cfg)`` is pure arithmetic (no torch): it walks stem -> stages -> head, tracks the
tensor shape, inserts explicit layout changes between feature maps and tokens, and returns
one :class:`BlockSpec` per block. The builder turns each spec into a module, so a network is
literally the chain of the blocks the latency table prices; two networks that share a block
share its key.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

from nas.config import ArchConfig, HeadConfig, StageConfig, StemConfig
from nas.mixers import block_kind_of

Shape = tuple[int, ...]  # without the batch dim: (C, H, W) feature map or (N, C) tokens


@dataclass(frozen=True)
class BlockSpec:
    """One block of a network: its kind, input/output shapes and constructor arguments.

    ``args`` holds every argument that changes the block's computation, sorted by name, so
    ``key`` (kind, input shape, arguments) is canonical.
    """

    kind: str
    in_shape: Shape
    out_shape: Shape
    args: tuple[tuple[str, Any], ...]
    stage: int  # -1 stem, len(stages) head

    @cached_property
    def key(self) -> str:
        shape = "x".join(str(d) for d in self.in_shape)
        args = ",".join(f"{k}={_fmt(v)}" for k, v in self.args)
        return f"{self.kind}|{shape}|{args}"

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.args)


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return "x".join(_fmt(v) for v in value)
    return str(value)


def _spec(kind: str, in_shape: Shape, out_shape: Shape, stage: int, **args: Any) -> BlockSpec:
    return BlockSpec(kind, in_shape, out_shape, tuple(sorted(args.items())), stage)


def plan(cfg: ArchConfig, *, resolution: int | None = None) -> list[BlockSpec]:
    """The blocks of ``cfg`` at ``resolution`` (default: the config's deploy resolution)."""
    res = resolution or cfg.resolution
    if res != cfg.resolution:
        cfg = cfg.replace(resolution=res)  # re-validates divisibility at the new size
    stem, shape = _stem_block(cfg.stem, cfg.in_chans, res)
    specs: list[BlockSpec] = [stem]
    size = res // cfg.stem.stride
    grid = (size, size)
    for i, st in enumerate(cfg.stages):
        blocks, shape, grid = _stage_blocks(st, i, shape, grid)
        specs.extend(blocks)
    specs.append(_head_block(cfg.head, shape, cfg.num_classes, len(cfg.stages)))
    return specs


# The plan is memoised piecewise (stem, each stage, head): a search plans the same parts over and over, and
# the shared specs keep their formatted keys, so pricing a new network costs lookups for the parts seen before.
@lru_cache(maxsize=4096)
def _stem_block(stem: StemConfig, in_chans: int, res: int) -> tuple[BlockSpec, Shape]:
    size = res // stem.stride
    if stem.kind == "conv":
        shape: Shape = (stem.channels[-1], size, size)
        return _spec("stem_conv", (in_chans, res, res), shape, -1, channels=tuple(stem.channels), act=stem.act,
                     norm=stem.norm), shape
    dim = stem.channels[0]
    shape = (size * size + int(stem.cls_token), dim)
    return _spec("stem_patch", (in_chans, res, res), shape, -1, dim=dim, patch_size=stem.patch_size,
                 norm=stem.norm, cls_token=stem.cls_token, pos_embed=stem.pos_embed), shape


@lru_cache(maxsize=65_536)
def _stage_blocks(st: StageConfig, i: int, shape: Shape,
                  grid: tuple[int, int]) -> tuple[tuple[BlockSpec, ...], Shape, tuple[int, int]]:
    """The blocks of stage ``i`` entering with ``shape`` on ``grid``; equal blocks are one object."""
    specs: list[BlockSpec] = []
    shape, grid = _plan_stage(specs, st, i, shape, grid)
    distinct: dict[BlockSpec, BlockSpec] = {}
    return tuple(distinct.setdefault(s, s) for s in specs), shape, grid


@lru_cache(maxsize=4096)
def _head_block(head: HeadConfig, shape: Shape, num_classes: int, stage: int) -> BlockSpec:
    layout = "tokens" if len(shape) == 2 else "nchw"
    return _spec("head", shape, (num_classes,), stage, layout=layout, pool=head.pool, norm=head.norm,
                 conv_channels=head.conv_channels if layout == "nchw" else 0, act=head.act,
                 distillation=head.distillation, num_classes=num_classes)


def distinct_blocks(cfgs: Iterable[ArchConfig], *, resolution: int | None = None) -> dict[str, BlockSpec]:
    """Every distinct block of the planned ``cfgs`` (key -> spec, first seen first)."""
    found: dict[str, BlockSpec] = {}
    for cfg in cfgs:
        for spec in plan(cfg, resolution=resolution):
            found.setdefault(spec.key, spec)
    return found


def _to_layout(specs: list[BlockSpec], shape: Shape, grid: tuple[int, int], want: str, stage: int) -> Shape:
    """Append a layout change if ``shape`` is not in layout ``want``; return the new shape."""
    if want == "tokens" and len(shape) == 3:
        new: Shape = (shape[1] * shape[2], shape[0])
        specs.append(_spec("to_tokens", shape, new, stage))
        return new
    if want == "nchw" and len(shape) == 2:
        new = (shape[1], grid[0], grid[1])
        specs.append(_spec("to_image", shape, new, stage, grid=grid))
        return new
    return shape


def _plan_stage(
    specs: list[BlockSpec], st: StageConfig, i: int, shape: Shape, grid: tuple[int, int]
) -> tuple[Shape, tuple[int, int]]:
    ds = st.downsample
    if ds.kind != "none":
        shape = _to_layout(specs, shape, grid, "nchw", i)
        grid = (grid[0] // ds.stride, grid[1] // ds.stride)
        out: Shape = (st.channels, grid[0], grid[1])
        if ds.kind == "conv":
            specs.append(_spec("down_conv", shape, out, i, out_chs=st.channels, stride=ds.stride))
        elif ds.kind == "mbconv":
            specs.append(_spec("down_mbconv", shape, out, i, out_chs=st.channels, stride=ds.stride,
                               expand_ratio=ds.expand_ratio, act=st.act))
        else:
            specs.append(_spec("down_patch", shape, out, i, out_chs=st.channels, stride=ds.stride,
                               norm=st.norm))
        shape = out
    mixer = st.mixer
    kind = block_kind_of(mixer)
    if mixer.layout == "tokens":
        shape = _to_layout(specs, shape, grid, "tokens", i)
        extra = shape[0] - grid[0] * grid[1]  # class token
        args = dict(dim=st.channels, grid=grid, extra_tokens=extra, mlp_ratio=st.mlp_ratio, ffn=st.ffn,
                    act=st.act, norm=st.norm, layer_scale=st.layer_scale, **mixer.block_args(st))
        for _ in range(st.depth):
            specs.append(_spec(kind, shape, shape, i, **args))
        return shape, grid
    shape = _to_layout(specs, shape, grid, "nchw", i)
    out = (st.channels, grid[0], grid[1])
    args = mixer.block_args(st)
    for _ in range(1 if mixer.stage_block else st.depth):
        specs.append(_spec(kind, shape, out, i, **args))
        shape = out
    return shape, grid
