"""The ``separable`` mixer: the MobileViTv2 block (separable self-attention, linear in the tokens)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nas.mixers.base import PatchMixer, register_mixer


@register_mixer
@dataclass(frozen=True)
class SeparableMixer(PatchMixer):
    """MobileViTv2 block: local conv, unfold into patches, separable (linear) self-attention layers."""

    kind: str = "separable"
    dim: int = 64
    patch_size: int = 2
    kernel_size: int = 3

    @staticmethod
    def build(spec: Any) -> Any:
        from nas.layers.mobilevit import MobileViTv2Block

        a = spec.kwargs
        return MobileViTv2Block(spec.in_shape[0], dim=a["dim"], depth=a["depth"],
                                grid=(spec.in_shape[1], spec.in_shape[2]), patch_size=a["patch_size"],
                                kernel_size=a["kernel_size"], mlp_ratio=a["mlp_ratio"], act=a["act"],
                                norm=a["norm"])
