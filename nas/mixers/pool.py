"""The ``pool`` mixer: EfficientFormer's Meta4D block."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nas.mixers.base import MapMixer, check_odd, register_mixer


@register_mixer
@dataclass(frozen=True)
class PoolMixer(MapMixer):
    """EfficientFormer Meta4D: average pooling minus identity, then a conv-BN MLP."""

    kind: str = "pool"
    pool_size: int = 3

    stage_fields = ("mlp_ratio", "act", "norm", "layer_scale")

    def validate(self, stage: Any, size: int, where: str) -> None:
        check_odd(self.pool_size, f"{where}.pool_size")

    @staticmethod
    def build(spec: Any) -> Any:
        from nas.layers.blocks import Meta4D

        a = spec.kwargs
        return Meta4D(spec.in_shape[0], pool_size=a["pool_size"], mlp_ratio=a["mlp_ratio"], act=a["act"],
                      norm=a["norm"], layer_scale=a["layer_scale"])
