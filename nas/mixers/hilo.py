"""The ``hilo`` mixer: LITv2's HiLo attention."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nas.errors import ConfigError
from nas.mixers.base import TokenMixer, check_positive, register_mixer


@register_mixer
@dataclass(frozen=True)
class HiloMixer(TokenMixer):
    """LITv2 HiLo attention: alpha of the heads on pooled global Lo-Fi, the rest on s x s windows."""

    kind: str = "hilo"
    num_heads: int = 4
    alpha: float = 0.5
    window: int = 2
    qkv_bias: bool = True

    def validate(self, stage: Any, size: int, where: str) -> None:
        check_positive(self.num_heads, f"{where}.num_heads")
        if stage.channels % self.num_heads:
            raise ConfigError(f"field '{where}.num_heads': channels {stage.channels} are not divisible by "
                              f"num_heads {self.num_heads}")
        if not 0.0 <= self.alpha <= 1.0:
            raise ConfigError(f"field '{where}.alpha': must be in [0, 1], got {self.alpha}")
        if self.window < 1 or size % self.window:
            raise ConfigError(f"field '{where}.window': feature map {size} is not divisible by window {self.window}")

    def attention_entries(self, stage: Any, size: int, *, cls_token: bool = False) -> int:
        lo_heads = round(self.num_heads * self.alpha)  # global queries on pooled keys; the rest stay in windows
        window = max(self.window, 1)
        return lo_heads * size * size * (size // window) ** 2 + (self.num_heads - lo_heads) * size * size * window ** 2

    @staticmethod
    def build(spec: Any) -> Any:
        from nas.layers.hilo import HiLo

        a = spec.kwargs
        return HiLo(a["dim"], num_heads=a["num_heads"], grid=a["grid"], alpha=a["alpha"], window=a["window"],
                    qkv_bias=a["qkv_bias"])
