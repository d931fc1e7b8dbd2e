"""ArchConfig: the one currency of the tool.

A frozen, concrete description of a network (what to build), plus the search-space choices
that produced it. It round-trips through JSON exactly and validates with errors that name
the offending field and the accepted values.

Layout of a network: ``stem -> stages -> head``. Every stage is homogeneous (one token mixer);
a published network that switches mixer inside a stage (EfficientFormer's last stage: Meta4D
blocks then Meta3D blocks) is written as two consecutive stages, the second with no downsample.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nas.errors import ConfigError
from nas.mixers import MIXERS, MixerConfig
from nas.mixers.base import check_positive

ACTIVATIONS = ("gelu", "relu", "hardswish", "silu")
NORMS = ("layernorm", "batchnorm", "groupnorm", "layernorm2d")
STEM_KINDS = ("conv", "patch")
DOWNSAMPLE_KINDS = ("none", "conv", "mbconv", "patch")
FFN_KINDS = ("mlp", "convffn")
HEAD_POOLS = ("avg", "cls")
# The exported config document (`nas export --format json`): {"format": CONFIG_FORMAT, "schema": CONFIG_SCHEMA,
# "arch": <ArchConfig>, ...}; ArchConfig.load reads it and refuses other schemas.
CONFIG_FORMAT, CONFIG_SCHEMA = "nas-arch", 1
# Sizes past which a config is refused before anything is built (a typo such as depth 10000 would
# otherwise take minutes and tens of GB): far above every published mobile network (DeiT-S 12 layers,
# EfficientFormer-L7 26, channels <= 1024), and above ViT-H (32 layers, 1280 channels).
MAX_LAYERS = 128  # sum of the stages' depths
MAX_CHANNELS = 8192  # width of the stem, any stage, a mixer's attention dim or key dim, the head's conv
# ... and every other knob that sizes a network (published mobile networks: ratios <= 6, <= 16 heads, kernels <= 7,
# patches <= 32, 224-512 px, 1000 or 21843 classes):
MAX_RATIO = 16.0  # mlp_ratio, expand_ratio, attn_ratio
MAX_HEADS = 64  # num_heads
MAX_KERNEL = 31  # kernel_size, pool_size
MAX_PATCH = 64  # patch_size (stem, MobileViT), window (HiLo)
MAX_RESOLUTION = 2048
MAX_CLASSES = 100_000
MAX_IN_CHANS = 64
MAX_ATTENTION_ENTRIES = 2**28  # heads x queries x keys of one stage's attention for one image (1 GiB in fp32)
SIZE_LIMITS: dict[str, tuple[float, str]] = {  # field name -> (largest value, the constant that says so)
    **dict.fromkeys(("mlp_ratio", "expand_ratio", "attn_ratio"), (MAX_RATIO, "MAX_RATIO")),
    "num_heads": (MAX_HEADS, "MAX_HEADS"),
    **dict.fromkeys(("kernel_size", "pool_size"), (MAX_KERNEL, "MAX_KERNEL")),
    **dict.fromkeys(("patch_size", "window"), (MAX_PATCH, "MAX_PATCH")),
    "key_dim": (MAX_CHANNELS, "MAX_CHANNELS"),
    "resolution": (MAX_RESOLUTION, "MAX_RESOLUTION"),
    "num_classes": (MAX_CLASSES, "MAX_CLASSES"),
    "in_chans": (MAX_IN_CHANS, "MAX_IN_CHANS"),
}


# ----------------------------------------------------------------------------- parts
@dataclass(frozen=True)
class StemConfig:
    """How the image enters the network.

    ``conv``: a stack of 3x3 stride-2 conv-norm-act layers, one per entry of ``channels``.
    ``patch``: one non-overlapping ``patch_size`` x ``patch_size`` conv to ``channels[0]``
    (ViT); optionally a norm, a class token and a learned position embedding.
    """

    kind: str
    channels: tuple[int, ...]
    patch_size: int = 16
    act: str = "relu"
    norm: str = "batchnorm"
    cls_token: bool = False
    pos_embed: bool = False

    @property
    def stride(self) -> int:
        return 2 ** len(self.channels) if self.kind == "conv" else self.patch_size


@dataclass(frozen=True)
class DownsampleConfig:
    """Transition block in front of a stage: changes channels and applies ``stride``.

    ``none`` (identity), ``conv`` (3x3 conv + BN, EfficientFormer's Embedding), ``mbconv``
    (inverted residual, MobileViT), ``patch`` (k x k stride-k conv + norm, patch merging).
    """

    kind: str = "none"
    stride: int = 2
    expand_ratio: float = 4.0


@dataclass(frozen=True)
class StageConfig:
    """A run of ``depth`` identical blocks at one resolution and width.

    For ``mobilevit`` / ``separable`` the stage is one block holding ``depth`` transformer
    layers (the published networks' ``L`` / ``B``). ``norm`` is the norm of the token-mixing
    part (conv layers of hybrid blocks always use BatchNorm, which folds away at deploy time).
    """

    depth: int
    channels: int
    mixer: MixerConfig
    downsample: DownsampleConfig = field(default_factory=DownsampleConfig)
    act: str = "gelu"
    norm: str = "layernorm"
    mlp_ratio: float = 4.0
    ffn: str = "mlp"
    layer_scale: float = 0.0

    @property
    def stride(self) -> int:
        return 1 if self.downsample.kind == "none" else self.downsample.stride


@dataclass(frozen=True)
class HeadConfig:
    """Classifier: optional 1x1 conv expansion, norm, pooling (avg or class token), linear."""

    pool: str = "avg"
    norm: str = "none"
    conv_channels: int = 0
    act: str = "silu"
    distillation: bool = False


@dataclass(frozen=True)
class ArchConfig:
    """A concrete network: resolution, stem, stages, head, and the choices that produced it."""

    name: str
    stem: StemConfig
    stages: tuple[StageConfig, ...]
    head: HeadConfig = field(default_factory=HeadConfig)
    resolution: int = 224
    num_classes: int = 1000
    in_chans: int = 3
    choices: dict[str, Any] = field(default_factory=dict)
    notes: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "choices", _to_plain(dict(self.choices)))  # JSON-exact (tuples -> lists)
        validate(self)

    def __hash__(self) -> int:  # choices is a dict: hash the canonical JSON instead
        return hash(self.to_json())

    @property
    def total_stride(self) -> int:
        """Product of the stem stride and every stage's stride."""
        return self.stem.stride * math.prod(s.stride for s in self.stages)

    def replace(self, **changes: Any) -> ArchConfig:
        """A copy with some top-level fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (tuples become lists)."""
        return _to_plain(self)

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)

    @classmethod
    def from_dict(cls, data: Any) -> ArchConfig:
        """Parse and validate a dict; errors name the field path and what is accepted."""
        return _parse_dataclass(cls, data, "")

    @classmethod
    def from_json(cls, text: str) -> ArchConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"config is not valid JSON: {exc}") from None
        return cls.from_dict(data)

    @classmethod
    def load(cls, path: str | Path) -> ArchConfig:
        """Read a config JSON file; an exported config (with an ``arch`` key) is accepted too."""
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such file") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{path}: not a readable JSON config ({exc})") from None
        if isinstance(data, dict) and "arch" in data and "stem" not in data:
            fmt, schema = data.get("format", CONFIG_FORMAT), data.get("schema", CONFIG_SCHEMA)
            if fmt != CONFIG_FORMAT or schema != CONFIG_SCHEMA:
                found = f"format {json.dumps(fmt)}, schema {json.dumps(schema)}"
                raise ConfigError(f"{path}: config document of {found} is not supported; this nas reads format "
                                  f"\"{CONFIG_FORMAT}\", schema {CONFIG_SCHEMA}")
            data = data["arch"]
        try:
            return cls.from_dict(data)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None


# ----------------------------------------------------------------------------- identity and summary
BUILD_FIELDS = ("stem", "stages", "head", "resolution", "num_classes", "in_chans")  # what builds a network


def arch_id(cfg: ArchConfig) -> str:
    """Identity of the network ``cfg`` builds: a short hash of its build fields (``BUILD_FIELDS``).

    The name, the notes and the search-space choices that produced it are left out: two configs with
    the same id build the same module at the same input size, whatever they are called.
    """
    import hashlib

    build = {name: _to_plain(getattr(cfg, name)) for name in BUILD_FIELDS}
    return hashlib.sha256(json.dumps(build, sort_keys=True).encode()).hexdigest()[:16]


def summarize(cfg: ArchConfig) -> str:
    """One line: family, stem, each stage as ``depth mixer@channels``, and the input size.

    For example ``vit: patch16@192 | 12 mhsa/3h@192 | 224px``.
    """
    stem = f"patch{cfg.stem.patch_size}" if cfg.stem.kind == "patch" else "conv"
    stages = " > ".join(f"{s.depth} {s.mixer.label()}@{s.channels}" for s in cfg.stages)
    family = cfg.choices.get("family") or cfg.name
    return f"{family}: {stem}@{cfg.stem.channels[-1]} | {stages} | {cfg.resolution}px"


# ----------------------------------------------------------------------------- validation
def _check_choice(value: str, accepted: tuple[str, ...], where: str) -> None:
    if value not in accepted:
        raise ConfigError(f"field '{where}': unknown value '{value}'; accepted: {', '.join(accepted)}")


def validate(cfg: ArchConfig) -> None:
    """Raise ConfigError naming the first invalid field of ``cfg`` (values, sizes, shapes).

    Types are checked where configs come in: config JSON (``from_dict``) and family choices
    (``nas.models.families.build_family``).
    """
    _check_sizes(cfg)
    stem = cfg.stem
    _check_choice(stem.kind, STEM_KINDS, "stem.kind")
    _check_choice(stem.act, ACTIVATIONS, "stem.act")
    _check_choice(stem.norm, NORMS + ("none",), "stem.norm")
    if not stem.channels:
        raise ConfigError("field 'stem.channels': needs at least one width")
    for c in stem.channels:
        check_positive(c, "stem.channels")
    if stem.kind == "patch":
        check_positive(stem.patch_size, "stem.patch_size")
        if len(stem.channels) != 1:
            raise ConfigError("field 'stem.channels': a patch stem has exactly one width")
    elif stem.cls_token or stem.pos_embed:
        raise ConfigError("field 'stem.cls_token'/'stem.pos_embed': only a patch stem has them")
    if not cfg.stages:
        raise ConfigError("field 'stages': needs at least one stage")
    check_positive(cfg.resolution, "resolution")
    check_positive(cfg.num_classes, "num_classes")
    check_positive(cfg.in_chans, "in_chans")
    _check_choice(cfg.head.pool, HEAD_POOLS, "head.pool")
    _check_choice(cfg.head.norm, NORMS + ("none",), "head.norm")
    _check_choice(cfg.head.act, ACTIVATIONS, "head.act")
    if cfg.head.pool == "cls" and not stem.cls_token:
        raise ConfigError("field 'head.pool': 'cls' needs stem.cls_token = true")

    channels = stem.channels[-1]
    size = cfg.resolution
    if size % stem.stride:
        raise ConfigError(
            f"field 'resolution': {size} is not divisible by the stem stride {stem.stride} "
            f"(total stride {cfg.total_stride})"
        )
    size //= stem.stride
    for i, st in enumerate(cfg.stages):
        where = f"stages[{i}]"
        mixer = st.mixer
        _check_choice(mixer.kind, tuple(MIXERS), f"{where}.mixer.kind")
        _check_choice(st.downsample.kind, DOWNSAMPLE_KINDS, f"{where}.downsample.kind")
        _check_choice(st.act, ACTIVATIONS, f"{where}.act")
        _check_choice(st.norm, NORMS, f"{where}.norm")
        _check_choice(st.ffn, FFN_KINDS, f"{where}.ffn")
        check_positive(st.channels, f"{where}.channels")
        check_positive(st.mlp_ratio, f"{where}.mlp_ratio")
        if type(st.depth) is not int:  # it sizes loops: a bool or 9.5 from code must not get that far
            raise ConfigError(f"field '{where}.depth': expected int, got {json.dumps(st.depth, default=str)}")
        if st.depth < 1:
            raise ConfigError(f"field '{where}.depth': must be >= 1, got {st.depth}")
        if st.downsample.kind != "none":
            if st.downsample.stride not in (1, 2, 4):
                raise ConfigError(f"field '{where}.downsample.stride': accepted 1, 2, 4; got {st.downsample.stride}")
            if size % st.downsample.stride:
                raise ConfigError(
                    f"field 'resolution': {cfg.resolution} is not divisible by the total stride "
                    f"{cfg.total_stride} (feature map {size} at {where})"
                )
            size //= st.downsample.stride
        elif st.channels != channels and not mixer.changes_channels:
            widening = " or ".join(k for k, m in MIXERS.items() if m.changes_channels)
            raise ConfigError(
                f"field '{where}.downsample': changing channels {channels} -> {st.channels} needs a "
                f"downsample ({', '.join(DOWNSAMPLE_KINDS[1:])}) or a {widening} mixer"
            )
        if stem.cls_token and (not mixer.class_token or st.downsample.kind != "none" or st.ffn != "mlp"):
            mixers = " or ".join(k for k, m in MIXERS.items() if m.class_token)
            raise ConfigError(
                f"field '{where}': a class-token network (ViT) needs {mixers} stages with mlp ffn and no downsample"
            )
        mixer.validate(st, size, f"{where}.mixer")
        _check_attention(mixer, st, size, stem.cls_token, f"{where}.mixer")
        channels = st.channels
    if cfg.head.conv_channels < 0:
        raise ConfigError("field 'head.conv_channels': must be >= 0")


def _check_sizes(cfg: ArchConfig) -> None:
    """Refuse sizes no network of this tool has (see MAX_LAYERS, MAX_CHANNELS), first of all checks, so an
    absurd config costs nothing more (values of the wrong type are left to the checks that name them)."""
    widths = [("stem.channels", c) for c in cfg.stem.channels] + [("head.conv_channels", cfg.head.conv_channels)]
    layers = 0
    for i, st in enumerate(cfg.stages):
        widths += [(f"stages[{i}].channels", st.channels), (f"stages[{i}].mixer.dim", getattr(st.mixer, "dim", 0))]
        layers += st.depth if type(st.depth) is int else 0
        if layers > MAX_LAYERS:
            raise ConfigError(f"field 'stages[{i}].depth': {layers} layers up to this stage, above the limit of "
                              f"{MAX_LAYERS} per network (nas.config.MAX_LAYERS)")
    for at, width in widths:
        if type(width) is int and width > MAX_CHANNELS:
            raise ConfigError(f"field '{at}': {width} channels is above the limit of {MAX_CHANNELS} "
                              "(nas.config.MAX_CHANNELS)")
    parts: list[tuple[str, Any]] = [("", cfg), ("stem.", cfg.stem), ("head.", cfg.head)]
    for i, st in enumerate(cfg.stages):
        parts += [(f"stages[{i}].", st), (f"stages[{i}].downsample.", st.downsample), (f"stages[{i}].mixer.", st.mixer)]
    for prefix, part in parts:
        for name, (limit, constant) in SIZE_LIMITS.items():
            value = getattr(part, name, None)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value > limit:
                raise ConfigError(f"field '{prefix}{name}': {value:g} is above the limit of {limit:g} "
                                  f"(nas.config.{constant})")


def _check_attention(mixer: MixerConfig, stage: StageConfig, size: int, cls_token: bool, where: str) -> None:
    """Refuse a stage whose attention for one image would hold more than MAX_ATTENTION_ENTRIES entries."""
    entries = mixer.attention_entries(stage, size, cls_token=cls_token)
    if entries > MAX_ATTENTION_ENTRIES:
        raise ConfigError(f"field '{where}': its attention at a {size}x{size} feature map holds {entries:.3g} "
                          f"entries per image, above the limit of {MAX_ATTENTION_ENTRIES:.3g} "
                          "(nas.config.MAX_ATTENTION_ENTRIES): a lower resolution, a larger stride or fewer heads")


# ----------------------------------------------------------------------------- (de)serialisation
def _to_plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj):
        return {f.name: _to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [_to_plain(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): _to_plain(v) for k, v in obj.items()}
    return obj


_SCALARS: dict[str, type | tuple[type, ...]] = {"int": int, "float": (int, float), "bool": bool, "str": str}


def _is_scalar(type_str: str, value: Any) -> bool:
    """``value`` is of the scalar type named ``type_str`` (a bool is no int or float here)."""
    return isinstance(value, _SCALARS[type_str]) and (type_str == "bool" or not isinstance(value, bool))


def _parse_value(type_str: str, value: Any, where: str) -> Any:
    type_str = type_str.replace("typing.", "")
    if type_str in _SCALARS:
        if not _is_scalar(type_str, value):
            raise ConfigError(f"field '{where}': expected {type_str}, got {json.dumps(value)}")
        return float(value) if type_str == "float" else value
    if type_str == "tuple[int, ...]":
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"field '{where}': expected a list of int, got {json.dumps(value)}")
        return tuple(_parse_value("int", v, f"{where}[{i}]") for i, v in enumerate(value))
    if type_str == "tuple[StageConfig, ...]":
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"field '{where}': expected a list of stages")
        return tuple(_parse_dataclass(StageConfig, v, f"{where}[{i}]") for i, v in enumerate(value))
    if type_str == "dict[str, Any]":
        if not isinstance(value, dict):
            raise ConfigError(f"field '{where}': expected an object")
        return dict(value)
    if type_str == "MixerConfig":
        if not isinstance(value, dict):
            raise ConfigError(f"field '{where}': expected an object with 'kind' ({', '.join(MIXERS)})")
        if "kind" not in value:
            raise ConfigError(f"field '{where}.kind': missing; accepted: {', '.join(MIXERS)}")
        kind = value["kind"]
        if kind not in MIXERS:
            raise ConfigError(f"field '{where}.kind': unknown value '{kind}'; accepted: {', '.join(MIXERS)}")
        return _parse_dataclass(MIXERS[kind], value, where)
    nested = {"StemConfig": StemConfig, "DownsampleConfig": DownsampleConfig, "HeadConfig": HeadConfig}
    if type_str in nested:
        return _parse_dataclass(nested[type_str], value, where)
    raise TypeError(f"no parser for type {type_str}")  # a bug in this module, not user input


def _parse_dataclass(cls: type, data: Any, where: str) -> Any:
    prefix = f"{where}." if where else ""
    if not isinstance(data, dict):
        raise ConfigError(f"field '{where or '(top)'}': expected an object, got {json.dumps(data)[:40]}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"field '{prefix}{unknown[0]}': unknown field; accepted: {', '.join(fields)}"
        )
    kwargs = {}
    for name, f in fields.items():
        if name not in data:
            has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
            if not has_default:
                raise ConfigError(f"field '{prefix}{name}': missing (required)")
            continue
        type_str = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
        kwargs[name] = _parse_value(type_str, data[name], f"{prefix}{name}")
    if issubclass(cls, MixerConfig) and kwargs.get("kind", cls.kind) != cls.kind:
        raise ConfigError(f"field '{prefix}kind': expected '{cls.kind}'")
    return cls(**kwargs)
