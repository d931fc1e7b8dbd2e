"""Published reference networks as named ArchConfigs (facts from shared/reference/reference_configs.md).

Each preset carries the published parameter count (and MACs where published) it is tested against.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from nas.config import (
    ArchConfig,
    ConvMixer,
    DownsampleConfig,
    HeadConfig,
    HiloMixer,
    IdentityMixer,
    MhsaMixer,
    MobileViTMixer,
    PoolMixer,
    SeparableMixer,
    StageConfig,
    StemConfig,
)
from nas.errors import UnknownNameError
from nas.layers.mbconv import make_divisible


@dataclass(frozen=True)
class Preset:
    """A published network: its config and the numbers it is checked against."""

    name: str
    make: Callable[[], ArchConfig]
    params_m: float
    macs_g: float | None  # at the config's resolution; None where not published
    source: str

    @property
    def config(self) -> ArchConfig:
        return self.make()


PRESETS: dict[str, Preset] = {}


def register_preset(name: str, *, params_m: float, macs_g: float | None, source: str):
    """Register a function returning the ArchConfig of a published network."""

    def deco(fn: Callable[[], ArchConfig]) -> Callable[[], ArchConfig]:
        PRESETS[name] = Preset(name, fn, params_m, macs_g, source)
        return fn

    return deco


def get_preset(name: str) -> ArchConfig:
    """The ArchConfig of preset ``name``; UnknownNameError lists the known ones."""
    if name not in PRESETS:
        raise UnknownNameError("preset", name, list(PRESETS))
    return PRESETS[name].config


def list_presets() -> list[str]:
    return list(PRESETS)


# ----------------------------------------------------------------------------- DeiT
def _deit(name: str, dim: int, heads: int) -> ArchConfig:
    return ArchConfig(
        name=name,
        stem=StemConfig(kind="patch", channels=(dim,), patch_size=16, norm="none", cls_token=True, pos_embed=True),
        stages=(StageConfig(depth=12, channels=dim, mixer=MhsaMixer(num_heads=heads), act="gelu", norm="layernorm"),),
        head=HeadConfig(pool="cls", norm="layernorm"),
        resolution=224,
        choices={"family": "vit"},
    )


@register_preset("deit-tiny", params_m=5.7, macs_g=1.3, source="facebookresearch/deit models.py; DeiT paper Table 1")
def deit_tiny() -> ArchConfig:
    return _deit("deit-tiny", 192, 3)


@register_preset("deit-small", params_m=22.1, macs_g=4.6, source="facebookresearch/deit models.py; DeiT paper Table 1")
def deit_small() -> ArchConfig:
    return _deit("deit-small", 384, 6)


# ----------------------------------------------------------------------------- MobileViT v1
def _mobilevit(name: str, widths: tuple[int, ...], dims: tuple[int, int, int], exp: float, head: int) -> ArchConfig:
    mv2 = {"act": "silu", "norm": "batchnorm"}
    depths = (2, 4, 3)
    stages = [
        StageConfig(depth=1, channels=widths[0], mixer=ConvMixer(expand_ratio=exp), **mv2),
        StageConfig(depth=2, channels=widths[1], mixer=ConvMixer(expand_ratio=exp),
                    downsample=DownsampleConfig("mbconv", 2, exp), **mv2),
    ]
    for width, dim, depth in zip(widths[2:], dims, depths):
        stages.append(
            StageConfig(depth=depth, channels=width, mixer=MobileViTMixer(dim=dim, num_heads=4),
                        downsample=DownsampleConfig("mbconv", 2, exp), act="silu", norm="layernorm", mlp_ratio=2.0)
        )
    return ArchConfig(
        name=name,
        stem=StemConfig(kind="conv", channels=(16,), act="silu"),
        stages=tuple(stages),
        head=HeadConfig(pool="avg", conv_channels=head, act="silu"),
        resolution=256,
        choices={"family": "mobilevit"},
    )


_MOBILEVIT_SRC = "apple/ml-cvnets config/mobilevit.py; MobileViT paper Table 4"


@register_preset("mobilevit-xxs", params_m=1.3, macs_g=None, source=_MOBILEVIT_SRC)
def mobilevit_xxs() -> ArchConfig:
    return _mobilevit("mobilevit-xxs", (16, 24, 48, 64, 80), (64, 80, 96), 2.0, 320)


@register_preset("mobilevit-xs", params_m=2.3, macs_g=None, source=_MOBILEVIT_SRC)
def mobilevit_xs() -> ArchConfig:
    return _mobilevit("mobilevit-xs", (32, 48, 64, 80, 96), (96, 120, 144), 4.0, 384)


@register_preset("mobilevit-s", params_m=5.6, macs_g=None, source=_MOBILEVIT_SRC)
def mobilevit_s() -> ArchConfig:
    return _mobilevit("mobilevit-s", (32, 64, 96, 128, 160), (144, 192, 240), 4.0, 640)


# ----------------------------------------------------------------------------- MobileViT v2
def mobilevitv2(alpha: float, name: str | None = None) -> ArchConfig:
    """MobileViTv2 at width multiplier ``alpha`` (ml-cvnets' make_divisible formula)."""
    stem = int(make_divisible(max(16, min(64, 32 * alpha)), 8, min_value=16))
    w = [make_divisible(64 * alpha, 16)] + [make_divisible(c * alpha, 8) for c in (128, 256, 384, 512)]
    dims = [make_divisible(c * alpha, 8) for c in (128, 192, 256)]
    mv2 = {"act": "silu", "norm": "batchnorm"}
    down = DownsampleConfig("mbconv", 2, 2.0)
    stages = [
        StageConfig(depth=1, channels=w[0], mixer=ConvMixer(expand_ratio=2.0), **mv2),
        StageConfig(depth=1, channels=w[1], mixer=ConvMixer(expand_ratio=2.0), downsample=down, **mv2),
    ]
    for width, dim, depth in zip(w[2:], dims, (2, 4, 3)):
        stages.append(StageConfig(depth=depth, channels=width, mixer=SeparableMixer(dim=dim), downsample=down,
                                  act="silu", norm="layernorm2d", mlp_ratio=2.0))
    return ArchConfig(
        name=name or f"mobilevitv2-{alpha:g}",
        stem=StemConfig(kind="conv", channels=(stem,), act="silu"),
        stages=tuple(stages),
        head=HeadConfig(pool="avg"),
        resolution=256,
        choices={"family": "mobilevitv2", "width_mult": alpha},
    )


_V2_PUBLISHED = {0.5: (1.4, 0.5), 0.75: (2.9, 1.0), 1.0: (4.9, 1.8), 1.25: (7.5, 2.8), 1.5: (10.6, 4.0),
                 1.75: (14.3, 5.5), 2.0: (18.5, 7.2)}
for _alpha, (_params, _macs) in _V2_PUBLISHED.items():
    _name = f"mobilevitv2-{_alpha:.1f}" if _alpha in (1.0, 2.0) else f"mobilevitv2-{_alpha:g}"
    register_preset(_name, params_m=_params, macs_g=_macs,
                    source="apple/ml-cvnets config/mobilevit_v2.py; MobileViTv2 paper Table 6")(
        lambda a=_alpha, n=_name: mobilevitv2(a, n)
    )


# ----------------------------------------------------------------------------- EfficientFormer
def _efficientformer(name: str, widths: tuple[int, ...], depths: tuple[int, ...], vit_num: int) -> ArchConfig:
    meta = {"act": "gelu", "mlp_ratio": 4.0, "layer_scale": 1e-5}
    down = DownsampleConfig("conv", 2)
    stages = []
    for i, (width, depth) in enumerate(zip(widths, depths)):
        ds = down if i else DownsampleConfig("none")
        n_pool = depth - vit_num if i == len(widths) - 1 else depth
        if n_pool:
            stages.append(StageConfig(depth=n_pool, channels=width, mixer=PoolMixer(), downsample=ds,
                                      norm="batchnorm", **meta))
            ds = DownsampleConfig("none")
    stages.append(
        StageConfig(depth=vit_num, channels=widths[-1], downsample=ds, norm="layernorm",
                    mixer=MhsaMixer(num_heads=8, key_dim=32, attn_ratio=4.0, attn_bias=True), **meta)
    )
    return ArchConfig(
        name=name,
        stem=StemConfig(kind="conv", channels=(widths[0] // 2, widths[0]), act="relu"),
        stages=tuple(stages),
        head=HeadConfig(pool="avg", norm="layernorm", distillation=True),
        resolution=224,
        choices={"family": "efficientformer", "attn_blocks": vit_num},
        notes="last stage written as Meta4D stage + Meta3D stage (same width, no downsample)",
    )


_EF_SRC = "snap-research/EfficientFormer models/efficientformer.py; params/MACs from RepViT paper Table 1"


@register_preset("efficientformer-l1", params_m=12.3, macs_g=1.3, source=_EF_SRC)
def efficientformer_l1() -> ArchConfig:
    return _efficientformer("efficientformer-l1", (48, 96, 224, 448), (3, 2, 6, 4), 1)


@register_preset("efficientformer-l3", params_m=31.3, macs_g=3.9, source=_EF_SRC)
def efficientformer_l3() -> ArchConfig:
    return _efficientformer("efficientformer-l3", (64, 128, 320, 512), (4, 4, 12, 6), 4)


@register_preset("efficientformer-l7", params_m=82.1, macs_g=10.2, source=_EF_SRC)
def efficientformer_l7() -> ArchConfig:
    return _efficientformer("efficientformer-l7", (96, 192, 384, 768), (6, 6, 18, 8), 8)


# ----------------------------------------------------------------------------- LITv2
@register_preset("litv2-s", params_m=28.0, macs_g=3.7, source="ziplab/LITv2 configs/litv2-small.yaml; README")
def litv2_s() -> ArchConfig:
    common = {"act": "gelu", "norm": "layernorm", "mlp_ratio": 4.0, "ffn": "convffn"}
    merge = DownsampleConfig("patch", 2)
    return ArchConfig(
        name="litv2-s",
        stem=StemConfig(kind="patch", channels=(96,), patch_size=4, norm="layernorm"),
        stages=(
            StageConfig(depth=2, channels=96, mixer=IdentityMixer(), **common),
            StageConfig(depth=2, channels=192, mixer=IdentityMixer(), downsample=merge, **common),
            StageConfig(depth=6, channels=384, mixer=HiloMixer(num_heads=12, alpha=0.9, window=2),
                        downsample=merge, **common),
            StageConfig(depth=2, channels=768, mixer=HiloMixer(num_heads=24, alpha=0.9, window=1),
                        downsample=merge, **common),
        ),
        head=HeadConfig(pool="avg", norm="layernorm"),
        resolution=224,
        choices={"family": "litv2", "alpha": 0.9},
        notes=(
            "LITv2's deformable token merging (DeformConv2d, not a Core ML op) is replaced by the nearest "
            "standard part: a 2x2 stride-2 conv + LayerNorm patch merging (drops only DTM's small offset convs)"
        ),
    )
