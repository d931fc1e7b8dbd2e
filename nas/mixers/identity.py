"""The ``identity`` mixer: no token mixing, the block is its FFN (LITv2's early stages)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nas.mixers.base import TokenMixer, register_mixer


@register_mixer
@dataclass(frozen=True)
class IdentityMixer(TokenMixer):
    """No token mixing: the block is norm + FFN only (LITv2's early ConvFFN stages)."""

    kind: str = "identity"

    @staticmethod
    def build(spec: Any) -> Any:
        return None
