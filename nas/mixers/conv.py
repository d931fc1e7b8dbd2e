"""The ``conv`` mixer: MobileNetV2 inverted residual blocks (MobileViT's MV2 stages)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nas.mixers.base import MapMixer, check_odd, check_positive, register_mixer


@register_mixer
@dataclass(frozen=True)
class ConvMixer(MapMixer):
    """MobileNetV2 inverted residual (1x1 expand, kxk depthwise, 1x1 project); its first block may change
    the width."""

    kind: str = "conv"
    expand_ratio: float = 4.0
    kernel_size: int = 3

    block_kind = "mbconv"
    stage_fields = ("act", "norm")
    changes_channels = True

    def validate(self, stage: Any, size: int, where: str) -> None:
        check_positive(self.expand_ratio, f"{where}.expand_ratio")
        check_odd(self.kernel_size, f"{where}.kernel_size")

    def block_args(self, stage: Any) -> dict[str, Any]:
        return {**super().block_args(stage), "out_chs": stage.channels}

    @staticmethod
    def build(spec: Any) -> Any:
        from nas.layers.mbconv import InvertedResidual

        a = spec.kwargs
        return InvertedResidual(spec.in_shape[0], a["out_chs"], expand_ratio=a["expand_ratio"],
                                kernel_size=a["kernel_size"], act=a["act"], norm=a["norm"])
