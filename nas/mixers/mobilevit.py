"""The ``mobilevit`` mixer: the MobileViT v1 block (local conv, unfold, transformer layers, fold, fuse)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nas.errors import ConfigError
from nas.mixers.base import PatchMixer, check_positive, register_mixer


@register_mixer
@dataclass(frozen=True)
class MobileViTMixer(PatchMixer):
    """MobileViT v1 block: local conv, unfold, transformer layers (MHSA), fold, fuse."""

    kind: str = "mobilevit"
    dim: int = 64
    num_heads: int = 4
    patch_size: int = 2
    kernel_size: int = 3
    fusion: bool = True

    def validate(self, stage: Any, size: int, where: str) -> None:
        super().validate(stage, size, where)
        check_positive(self.num_heads, f"{where}.num_heads")
        if self.dim % self.num_heads:
            raise ConfigError(f"field '{where}.num_heads': dim {self.dim} is not divisible by num_heads "
                              f"{self.num_heads}")

    def attention_entries(self, stage: Any, size: int, *, cls_token: bool = False) -> int:
        pixels = self.patch_size * self.patch_size  # each pixel of a patch attends across the patches
        patches = (size // max(self.patch_size, 1)) ** 2
        return pixels * self.num_heads * patches * patches

    @staticmethod
    def build(spec: Any) -> Any:
        from nas.layers.mobilevit import MobileViTBlock

        a = spec.kwargs
        return MobileViTBlock(spec.in_shape[0], dim=a["dim"], depth=a["depth"], num_heads=a["num_heads"],
                              grid=(spec.in_shape[1], spec.in_shape[2]), patch_size=a["patch_size"],
                              kernel_size=a["kernel_size"], mlp_ratio=a["mlp_ratio"], fusion=a["fusion"],
                              act=a["act"], norm=a["norm"])
