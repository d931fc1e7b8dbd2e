"""What a token mixer is: a config dataclass that validates itself, names its block's arguments and
builds its torch block, registered once in :data:`MIXERS`.

A mixer module (one per mixer, in this package or anywhere imported before use) declares a frozen
dataclass subclassing :class:`TokenMixer` or :class:`MapMixer`, whose first field is ``kind: str =
"<name>"`` and whose other fields are its parameters (int, float, bool or str: they are read from config
JSON and YAML), and decorates it with :func:`register_mixer`. Config parsing and validation, planning
(the block key), building and the architecture families are generic over the registry, so nothing else
changes when a mixer is added.

- :class:`TokenMixer`: mixes (B, N, C) tokens. The planner wraps it in the shared pre-norm residual
  block (``x + mixer(norm(x))``, then ``x + ffn(norm(x))``, the stage's ``ffn`` and ``mlp_ratio``), one
  block per layer of the stage; ``build`` returns only the mixing module (or None: FFN only).
- :class:`MapMixer`: a whole block on (B, C, H, W) feature maps; ``build`` returns the block. With
  ``stage_block`` the stage is one block holding ``depth`` layers (MobileViT), else ``depth`` blocks.

A block's key (what a latency table is indexed by) is its kind, input shape and :meth:`block_args`; torch
is imported only inside ``build``, so configs, spaces and table lookups stay light.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from nas.errors import ConfigError
from nas.registry import Registry

LAYOUTS = ("tokens", "nchw")


class MixerConfig:
    """Base of every mixer's config dataclass (see the module docstring for the contract)."""

    kind: str
    layout: ClassVar[str] = ""
    block_kind: ClassVar[str] = ""  # the kind in block keys; "" means the mixer's kind
    stage_block: ClassVar[bool] = False  # one block holds the stage's `depth` layers
    stage_fields: ClassVar[tuple[str, ...]] = ()  # StageConfig fields that are block arguments too
    changes_channels: ClassVar[bool] = False  # may change the width without a downsample in front
    class_token: ClassVar[bool] = False  # handles a class token among the tokens (ViT)

    def validate(self, stage: Any, size: int, where: str) -> None:
        """Raise ConfigError naming ``where.<field>`` when this mixer cannot serve ``stage``.

        Args:
            stage: the StageConfig holding this mixer.
            size: side of the stage's (square) feature map after its downsample.
            where: the mixer's path in the config, e.g. ``stages[2].mixer``.
        """

    def attention_entries(self, stage: Any, size: int, *, cls_token: bool = False) -> int:
        """Entries (heads x queries x keys) of this mixer's attention for one image at a ``size`` x ``size`` map;
        0 for a mixer without attention (the config's limit, ``nas.config.MAX_ATTENTION_ENTRIES``, reads it)."""
        return 0

    def block_args(self, stage: Any) -> dict[str, Any]:
        """Arguments of this mixer's block that change its computation (they go into the block key):
        every parameter of the mixer, plus the ``stage_fields`` of ``stage``."""
        args = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "kind"}  # type: ignore[arg-type]
        args.update({name: getattr(stage, name) for name in self.stage_fields})
        return args

    @classmethod
    def from_hints(cls, **hints: Any) -> MixerConfig:
        """The mixer for a family's stage: takes the hints it has fields for (``dim``, ``num_heads``,
        ``alpha``, ``window``...), defaults for the rest."""
        names = {f.name for f in dataclasses.fields(cls)} - {"kind"}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in hints.items() if k in names})

    @staticmethod
    def build(spec: Any) -> Any:
        """The torch module of a planned block of this mixer (imports torch itself)."""
        raise NotImplementedError

    def label(self) -> str:
        """Short text for summaries: the kind, and the head count where there is one (``mhsa/3h``)."""
        heads = getattr(self, "num_heads", None)
        return f"{self.kind}/{heads}h" if heads else self.kind


class TokenMixer(MixerConfig):
    """A mixer of (B, N, C) tokens, wrapped by the planner in the shared pre-norm residual token block."""

    layout = "tokens"


class MapMixer(MixerConfig):
    """A whole block on (B, C, H, W) feature maps."""

    layout = "nchw"


class PatchMixer(MapMixer):
    """A MobileViT-style block: a local ``kernel_size`` conv to ``dim`` channels, the map unfolded into
    ``patch_size`` x ``patch_size`` patches, the stage's ``depth`` attention layers, folded back. One block
    holds the whole stage."""

    stage_block = True
    stage_fields = ("depth", "mlp_ratio", "act", "norm")

    def validate(self, stage: Any, size: int, where: str) -> None:
        check_positive(self.dim, f"{where}.dim")  # type: ignore[attr-defined]
        check_positive(self.patch_size, f"{where}.patch_size")  # type: ignore[attr-defined]
        check_odd(self.kernel_size, f"{where}.kernel_size")  # type: ignore[attr-defined]


MIXERS: Registry[type[MixerConfig]] = Registry("mixer")


def register_mixer(cls: type[MixerConfig]) -> type[MixerConfig]:
    """Class decorator: register a mixer dataclass under its ``kind`` (checks the contract first)."""
    if not (dataclasses.is_dataclass(cls) and issubclass(cls, MixerConfig)):
        raise TypeError(f"{cls.__name__}: a mixer is a dataclass subclassing TokenMixer or MapMixer")
    fields = dataclasses.fields(cls)
    if not fields or fields[0].name != "kind" or not isinstance(fields[0].default, str):
        raise TypeError(f"{cls.__name__}: its first field must be `kind: str = \"<name>\"`")
    if cls.layout not in LAYOUTS:
        raise TypeError(f"{cls.__name__}: layout must be one of {', '.join(LAYOUTS)}")
    kind = fields[0].default
    block_kind = cls.block_kind or kind
    for other in MIXERS.values():
        if (other.block_kind or other.kind) == block_kind:
            raise TypeError(f"{cls.__name__}: block kind '{block_kind}' is already {other.__name__}'s")
    MIXERS.register(kind, cls)
    return cls


def block_kind_of(mixer: type[MixerConfig] | MixerConfig) -> str:
    """The kind of the blocks a mixer plans (its ``block_kind``, or its own kind)."""
    return mixer.block_kind or mixer.kind


def mixer_of_block(block_kind: str) -> type[MixerConfig] | None:
    """The mixer whose blocks are of ``block_kind`` (None when it is not a mixer's block)."""
    for mixer in MIXERS.values():
        if block_kind_of(mixer) == block_kind:
            return mixer
    return None


def make_mixer(kind: str, where: str, **hints: Any) -> MixerConfig:
    """The mixer ``kind`` for a family's stage (see :meth:`MixerConfig.from_hints`).

    Raises:
        ConfigError: ``kind`` is not a registered mixer; names ``where`` and the accepted kinds.
    """
    if kind not in MIXERS:
        raise ConfigError(f"field '{where}': unknown value '{kind}'; accepted: {', '.join(MIXERS)}")
    return MIXERS[kind].from_hints(**hints)


def check_positive(value: float, where: str) -> None:
    """Raise ConfigError unless ``value`` > 0."""
    if not value > 0:
        raise ConfigError(f"field '{where}': must be > 0, got {value}")


def check_odd(value: int, where: str) -> None:
    """Raise ConfigError unless ``value`` is a positive odd number (a kernel that keeps the map size)."""
    if value < 1 or value % 2 == 0:
        raise ConfigError(f"field '{where}': must be odd, got {value}")
