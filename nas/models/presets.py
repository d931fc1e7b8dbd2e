"""Published reference networks as named points of the architecture families.

Facts from shared/reference/reference_configs.md (read from the official code); each preset
carries the published parameter count (and MACs where published) it is tested against.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nas.config import ArchConfig
from nas.models.families import build_family
from nas.registry import Registry


@dataclass(frozen=True)
class Preset:
    """A published network: family, the family choices that rebuild it, and its published numbers."""

    name: str
    family: str
    choices: dict[str, Any] = field(hash=False)
    resolution: int
    params_m: float
    macs_g: float | None  # at ``resolution``; None where not published
    source: str

    @property
    def config(self) -> ArchConfig:
        return build_family(self.family, self.choices, name=self.name, resolution=self.resolution)


_DEIT = "facebookresearch/deit models.py; DeiT paper Table 1"
_MVIT = "apple/ml-cvnets config/mobilevit.py; MobileViT paper Table 4"
_MVIT2 = "apple/ml-cvnets config/mobilevit_v2.py; MobileViTv2 paper Table 6 (params, MACs at 256)"
_EF = "snap-research/EfficientFormer models/efficientformer.py; params/MACs: RepViT paper Table 1"
_LIT = "ziplab/LITv2 configs/litv2-small.yaml; README (params, FLOPs)"

_PRESET_LIST = [
    Preset("deit-tiny", "vit", {"embed_dim": 192, "head_dim": 64, "depth": 12, "mlp_ratio": 4.0, "patch_size": 16},
           224, 5.7, 1.3, _DEIT),
    Preset("deit-small", "vit", {"embed_dim": 384, "head_dim": 64, "depth": 12, "mlp_ratio": 4.0, "patch_size": 16},
           224, 22.1, 4.6, _DEIT),
    Preset("mobilevit-xxs", "mobilevit", {"size": "xxs"}, 256, 1.3, None, _MVIT),
    Preset("mobilevit-xs", "mobilevit", {"size": "xs"}, 256, 2.3, None, _MVIT),
    Preset("mobilevit-s", "mobilevit", {"size": "s"}, 256, 5.6, None, _MVIT),
    *[
        Preset(f"mobilevitv2-{alpha}", "mobilevitv2", {"width_mult": float(alpha)}, 256, params, macs, _MVIT2)
        for alpha, params, macs in [("0.5", 1.4, 0.5), ("0.75", 2.9, 1.0), ("1.0", 4.9, 1.8), ("1.25", 7.5, 2.8),
                                    ("1.5", 10.6, 4.0), ("1.75", 14.3, 5.5), ("2.0", 18.5, 7.2)]
    ],
    Preset("efficientformer-l1", "efficientformer", {"size": "l1", "depths": [3, 2, 6, 4], "attn_blocks": 1},
           224, 12.3, 1.3, _EF),
    Preset("efficientformer-l3", "efficientformer", {"size": "l3", "depths": [4, 4, 12, 6], "attn_blocks": 4},
           224, 31.3, 3.9, _EF),
    Preset("efficientformer-l7", "efficientformer", {"size": "l7", "depths": [6, 6, 18, 8], "attn_blocks": 8},
           224, 82.1, 10.2, _EF),
    Preset("litv2-s", "litv2", {"embed_dim": 96, "depths": [2, 2, 6, 2], "alpha": 0.9, "window": 2},
           224, 28.0, 3.7, _LIT),
]
PRESETS: Registry[Preset] = Registry("preset")
for _preset in _PRESET_LIST:
    PRESETS.register(_preset.name, _preset)


def get_preset(name: str) -> ArchConfig:
    """The ArchConfig of preset ``name``; UnknownNameError lists the known ones."""
    return PRESETS[name].config


def list_presets() -> list[str]:
    """Names of every preset, in registration order."""
    return PRESETS.names()
