"""The ``separable`` mixer: the MobileViTv2 block (separable self-attention, linear in the tokens)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nas.mixers.base import MapMixer, check_odd, check_positive, register_mixer


@register_mixer
@dataclass(frozen=True)
class SeparableMixer(MapMixer):
    """MobileViTv2 block: local conv, unfold into patches, separable (linear) self-attention layers."""

    kind: str = "separable"
    dim: int = 64
    patch_size: int = 2
    kernel_size: int = 3

    stage_block = True
    stage_fields = ("depth", "mlp_ratio", "act", "norm")

    def validate(self, stage: Any, size: int, where: str) -> None:
        check_positive(self.dim, f"{where}.dim")
        check_positive(self.patch_size, f"{where}.patch_size")
        check_odd(self.kernel_size, f"{where}.kernel_size")

    @staticmethod
    def build(spec: Any) -> Any:
        from nas.layers.mobilevit import MobileViTv2Block

        a = spec.kwargs
        return MobileViTv2Block(spec.in_shape[0], dim=a["dim"], depth=a["depth"],
                                grid=(spec.in_shape[1], spec.in_shape[2]), patch_size=a["patch_size"],
                                kernel_size=a["kernel_size"], mlp_ratio=a["mlp_ratio"], act=a["act"],
                                norm=a["norm"])
