"""The ``mhsa`` mixer: global multi-head self-attention (ViT/DeiT, EfficientFormer Meta3D)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nas.errors import ConfigError
from nas.mixers.base import TokenMixer, check_positive, register_mixer


@register_mixer
@dataclass(frozen=True)
class MhsaMixer(TokenMixer):
    """Global multi-head self-attention (ViT/DeiT block, EfficientFormer Meta3D).

    ``key_dim`` 0 means channels // num_heads; the value dim per head is attn_ratio * key_dim.
    ``attn_bias`` adds a learned LeViT-style attention bias over the token grid.
    """

    kind: str = "mhsa"
    num_heads: int = 4
    key_dim: int = 0
    attn_ratio: float = 1.0
    attn_bias: bool = False
    qkv_bias: bool = True

    class_token = True

    def validate(self, stage: Any, size: int, where: str) -> None:
        check_positive(self.num_heads, f"{where}.num_heads")
        if self.key_dim < 0:
            raise ConfigError(f"field '{where}.key_dim': must be >= 0 (0: channels / num_heads), got {self.key_dim}")
        if self.key_dim == 0 and stage.channels % self.num_heads:
            raise ConfigError(f"field '{where}.num_heads': channels {stage.channels} are not divisible by "
                              f"num_heads {self.num_heads}")
        check_positive(self.attn_ratio, f"{where}.attn_ratio")

    def attention_entries(self, stage: Any, size: int, *, cls_token: bool = False) -> int:
        tokens = size * size + int(cls_token)
        return self.num_heads * tokens * tokens

    @staticmethod
    def build(spec: Any) -> Any:
        from nas.layers.attention import Attention

        a = spec.kwargs
        return Attention(a["dim"], num_heads=a["num_heads"], key_dim=a["key_dim"], attn_ratio=a["attn_ratio"],
                         qkv_bias=a["qkv_bias"], bias_grid=a["grid"] if a["attn_bias"] else None)
