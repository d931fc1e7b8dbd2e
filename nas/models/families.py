"""Architecture families: keyword choices -> ArchConfig.

One function per family (ViT/DeiT, MobileViT v1, MobileViTv2, EfficientFormer, LITv2). Each
takes the design choices the search space exposes, as keyword arguments, and returns a
concrete ArchConfig. The published presets call these functions with their published values,
and the search space calls them with sampled values, so every preset is a point of the space.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable, Mapping
from typing import Any

from nas.config import ArchConfig, DownsampleConfig, HeadConfig, StageConfig, StemConfig
from nas.errors import ConfigError
from nas.layers.helpers import make_divisible
from nas.mixers import make_mixer
from nas.mixers.conv import ConvMixer
from nas.mixers.mhsa import MhsaMixer
from nas.mixers.pool import PoolMixer
from nas.registry import Registry

FamilyBuilder = Callable[..., ArchConfig]
FAMILIES: Registry[FamilyBuilder] = Registry("family")
register_family = FAMILIES.register  # @register_family("name"): the space YAML refers to it by that name


def _pick(table: dict[str, Any], key: str, what: str) -> Any:
    if key not in table:
        raise ConfigError(f"field '{what}': unknown value '{key}'; accepted: {', '.join(table)}")
    return table[key]


_KINDS: dict[str, tuple[tuple[type, ...], str]] = {  # annotation -> (exact types accepted, what to call them)
    "int": ((int,), "an integer"), "float": ((int, float), "a number"), "str": ((str,), "a string"),
    "bool": ((bool,), "true or false"),
}


@functools.cache
def _parameters(family: str) -> Mapping[str, inspect.Parameter]:
    return inspect.signature(FAMILIES[family]).parameters


def choice_problem(family: str, choice: str, value: Any) -> str | None:
    """Why ``value`` cannot be (one stage's option of) ``choice`` of ``family``, judged by the type the
    family function declares for it; None when it can. Booleans are not numbers here."""
    declared = _declared(family, choice)
    if declared is None or type(value) in declared[0]:
        return None
    return f"expected {declared[1]}, got {json.dumps(value)}"


@functools.cache
def _declared(family: str, choice: str) -> tuple[tuple[type, ...], str] | None:
    """(the exact types accepted, what to call them) of one choice (of each stage's value of a tuple choice)."""
    annotation = str(_parameters(family)[choice].annotation)
    element = annotation.removeprefix("tuple[").split(",")[0].strip(" ]")  # tuple[int, int] -> int
    return _KINDS.get(element)


def build_family(family: str, choices: dict[str, Any], *, name: str, resolution: int,
                 num_classes: int | None = None) -> ArchConfig:
    """Build ``family`` with keyword ``choices`` (for ``num_classes`` classes, default the family's); the
    config records the family and choices.

    Raises:
        ConfigError: an unknown family or choice, a missing required choice, or a value of the wrong type
            (each naming the choice), or a config that does not validate.
    """
    if family not in FAMILIES:
        raise ConfigError(f"field 'family': unknown value '{family}'; accepted: {', '.join(FAMILIES)}")
    params = _parameters(family)
    accepted = [p for p in params if p not in ("name", "resolution")]
    for key, value in choices.items():
        if key not in accepted:
            raise ConfigError(f"family '{family}': unknown choice '{key}'; accepted: {', '.join(accepted)}")
        for item in value if isinstance(value, (list, tuple)) else [value]:
            problem = choice_problem(family, key, item)
            if problem:
                raise ConfigError(f"family '{family}': choice '{key}': {problem}")
    missing = [p for p in accepted if params[p].default is inspect.Parameter.empty and p not in choices]
    if missing:
        raise ConfigError(f"family '{family}': choice '{missing[0]}' is required (it has no default)")
    args = {k: tuple(v) if isinstance(v, list) else v for k, v in choices.items()}
    cfg = FAMILIES[family](**args, name=name, resolution=resolution)
    classes = {} if num_classes is None else {"num_classes": num_classes}
    return cfg.replace(choices={"family": family, **choices}, **classes)


# ----------------------------------------------------------------------------- ViT / DeiT
@register_family("vit")
def vit(
    *,
    embed_dim: int,
    head_dim: int = 64,
    depth: int = 12,
    mlp_ratio: float = 4.0,
    patch_size: int = 16,
    act: str = "gelu",
    norm: str = "layernorm",
    resolution: int = 224,
    name: str = "vit",
) -> ArchConfig:
    """Plain ViT/DeiT: patch stem, class token, ``depth`` global-MHSA blocks."""
    if head_dim <= 0:
        raise ConfigError(f"field 'head_dim': must be > 0, got {head_dim}")
    if embed_dim % head_dim:
        raise ConfigError(f"field 'head_dim': embed_dim {embed_dim} is not divisible by head_dim {head_dim}")
    return ArchConfig(
        name=name,
        stem=StemConfig(kind="patch", channels=(embed_dim,), patch_size=patch_size, norm="none",
                        cls_token=True, pos_embed=True),
        stages=(StageConfig(depth=depth, channels=embed_dim, mixer=MhsaMixer(num_heads=embed_dim // head_dim),
                            act=act, norm=norm, mlp_ratio=mlp_ratio),),
        head=HeadConfig(pool="cls", norm=norm),
        resolution=resolution,
    )


# ----------------------------------------------------------------------------- MobileViT v1
MOBILEVIT_SIZES: dict[str, dict[str, Any]] = {
    "xxs": {"widths": (16, 24, 48, 64, 80), "dims": (64, 80, 96), "expand": 2.0, "head": 320},
    "xs": {"widths": (32, 48, 64, 80, 96), "dims": (96, 120, 144), "expand": 4.0, "head": 384},
    "s": {"widths": (32, 64, 96, 128, 160), "dims": (144, 192, 240), "expand": 4.0, "head": 640},
}


def _mobile_stages(
    widths: tuple[int, ...], dims: tuple[int, ...], depths: tuple[int, int, int], mixers: tuple[str, str, str],
    *, expand: float, num_heads: int, mv2_depths: tuple[int, int], act: str, norm: str, mlp_ratio: float,
) -> tuple[StageConfig, ...]:
    """The shared MobileViT v1/v2 skeleton: two MV2 stages, then three MV2-downsample + attention stages."""
    mv2 = {"act": act, "norm": "batchnorm"}
    down = DownsampleConfig("mbconv", 2, expand)
    stages = [
        StageConfig(depth=mv2_depths[0], channels=widths[0], mixer=ConvMixer(expand_ratio=expand), **mv2),
        StageConfig(depth=mv2_depths[1], channels=widths[1], mixer=ConvMixer(expand_ratio=expand),
                    downsample=down, **mv2),
    ]
    for i, (width, dim, depth, kind) in enumerate(zip(widths[2:], dims, depths, mixers)):
        mixer = make_mixer(kind, f"mixers[{i}]", dim=dim, num_heads=num_heads)
        stages.append(StageConfig(depth=depth, channels=width, mixer=mixer, downsample=down, act=act, norm=norm,
                                  mlp_ratio=mlp_ratio))
    return tuple(stages)


@register_family("mobilevit")
def mobilevit(
    *,
    size: str,
    depths: tuple[int, int, int] = (2, 4, 3),
    mixers: tuple[str, str, str] = ("mobilevit", "mobilevit", "mobilevit"),
    act: str = "silu",
    norm: str = "layernorm",
    resolution: int = 256,
    name: str = "mobilevit",
) -> ArchConfig:
    """MobileViT v1 (XXS/XS/S widths): MV2 stages, then MobileViT blocks (``depths`` transformer layers)."""
    sz = _pick(MOBILEVIT_SIZES, size, "size")
    return ArchConfig(
        name=name,
        stem=StemConfig(kind="conv", channels=(16,), act=act),
        stages=_mobile_stages(sz["widths"], sz["dims"], depths, mixers, expand=sz["expand"], num_heads=4,
                              mv2_depths=(1, 2), act=act, norm=norm, mlp_ratio=2.0),
        head=HeadConfig(pool="avg", conv_channels=sz["head"], act=act),
        resolution=resolution,
    )


@register_family("mobilevitv2")
def mobilevitv2(
    *,
    width_mult: float,
    depths: tuple[int, int, int] = (2, 4, 3),
    mixers: tuple[str, str, str] = ("separable", "separable", "separable"),
    act: str = "silu",
    norm: str = "layernorm2d",
    resolution: int = 256,
    name: str = "mobilevitv2",
) -> ArchConfig:
    """MobileViTv2 at width multiplier ``width_mult`` (ml-cvnets' make_divisible formula)."""
    if width_mult <= 0:
        raise ConfigError(f"field 'width_mult': must be > 0, got {width_mult}")
    a = width_mult
    stem = make_divisible(max(16, min(64, 32 * a)), 8, min_value=16)
    widths = (make_divisible(64 * a, 16),) + tuple(make_divisible(c * a, 8) for c in (128, 256, 384, 512))
    dims = tuple(make_divisible(c * a, 8) for c in (128, 192, 256))
    return ArchConfig(
        name=name,
        stem=StemConfig(kind="conv", channels=(stem,), act=act),
        stages=_mobile_stages(widths, dims, depths, mixers, expand=2.0, num_heads=4, mv2_depths=(1, 1),
                              act=act, norm=norm, mlp_ratio=2.0),
        head=HeadConfig(pool="avg"),
        resolution=resolution,
    )


# ----------------------------------------------------------------------------- EfficientFormer
EFFICIENTFORMER_WIDTHS: dict[str, tuple[int, int, int, int]] = {
    "l1": (48, 96, 224, 448),
    "l3": (64, 128, 320, 512),
    "l7": (96, 192, 384, 768),
}


@register_family("efficientformer")
def efficientformer(
    *,
    size: str,
    depths: tuple[int, int, int, int],
    attn_blocks: int,
    act: str = "gelu",
    norm: str = "layernorm",
    mlp_ratio: float = 4.0,
    resolution: int = 224,
    name: str = "efficientformer",
) -> ArchConfig:
    """EfficientFormer (V1): conv stem, Meta4D pooling stages; the last ``attn_blocks`` blocks are Meta3D.

    ``attn_blocks`` is clamped to the last stage's depth. The last stage is written as a Meta4D
    stage plus a Meta3D stage of the same width.
    """
    widths = _pick(EFFICIENTFORMER_WIDTHS, size, "size")
    attn_blocks = max(1, min(attn_blocks, depths[-1]))
    meta = {"act": act, "mlp_ratio": mlp_ratio, "layer_scale": 1e-5}
    stages = []
    for i, (width, depth) in enumerate(zip(widths, depths)):
        ds = DownsampleConfig("conv", 2) if i else DownsampleConfig("none")
        n_pool = depth - attn_blocks if i == len(widths) - 1 else depth
        if n_pool:
            stages.append(StageConfig(depth=n_pool, channels=width, mixer=PoolMixer(), downsample=ds,
                                      norm="batchnorm", **meta))
            ds = DownsampleConfig("none")
    stages.append(StageConfig(depth=attn_blocks, channels=widths[-1], downsample=ds, norm=norm,
                              mixer=MhsaMixer(num_heads=8, key_dim=32, attn_ratio=4.0, attn_bias=True), **meta))
    return ArchConfig(
        name=name,
        stem=StemConfig(kind="conv", channels=(widths[0] // 2, widths[0]), act="relu"),
        stages=tuple(stages),
        head=HeadConfig(pool="avg", norm=norm, distillation=True),
        resolution=resolution,
        notes="last stage written as a Meta4D stage + a Meta3D stage (same width, no downsample)",
    )


# ----------------------------------------------------------------------------- LITv2 (HiLo)
@register_family("litv2")
def litv2(
    *,
    embed_dim: int = 96,
    depths: tuple[int, int, int, int] = (2, 2, 6, 2),
    mixers: tuple[str, str] = ("identity", "identity"),
    alpha: float = 0.9,
    window: int = 2,
    head_dim: int = 32,
    mlp_ratio: float = 4.0,
    act: str = "gelu",
    norm: str = "layernorm",
    resolution: int = 224,
    name: str = "litv2",
) -> ArchConfig:
    """LITv2: patch-4 stem, four stages of widths C, 2C, 4C, 8C; HiLo attention in stage 3 (window
    ``window``, Lo-Fi share ``alpha``) and global MSA in stage 4; ``mixers`` picks identity (FFN only)
    or hilo for stages 1-2. Deformable token merging is replaced by 2x2 conv patch merging.
    """
    if head_dim <= 0:
        raise ConfigError(f"field 'head_dim': must be > 0, got {head_dim}")
    common = {"act": act, "norm": norm, "mlp_ratio": mlp_ratio, "ffn": "convffn"}
    widths = [embed_dim * 2**i for i in range(4)]
    windows = (window, window, window, 1)
    kinds = (*mixers, "hilo", "hilo")
    stages = []
    for i, (width, depth, kind, ws) in enumerate(zip(widths, depths, kinds, windows)):
        mixer = make_mixer(kind, f"mixers[{i}]", num_heads=width // head_dim, alpha=alpha, window=ws)
        ds = DownsampleConfig("patch", 2) if i else DownsampleConfig("none")
        stages.append(StageConfig(depth=depth, channels=width, mixer=mixer, downsample=ds, **common))
    return ArchConfig(
        name=name,
        stem=StemConfig(kind="patch", channels=(embed_dim,), patch_size=4, norm=norm),
        stages=tuple(stages),
        head=HeadConfig(pool="avg", norm=norm),
        resolution=resolution,
        notes=(
            "LITv2's deformable token merging (DeformConv2d, not a Core ML op) is replaced by the nearest "
            "standard part: 2x2 stride-2 conv + norm patch merging (drops only DTM's small offset convs)"
        ),
    )
