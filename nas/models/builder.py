"""ArchConfig -> torch.nn.Module, one module per planned block."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from nas.config import ArchConfig
from nas.errors import UnknownNameError
from nas.layers.blocks import TokenBlock
from nas.layers.conv import ConvNormAct
from nas.layers.create import get_norm
from nas.layers.heads import ClassifierHead
from nas.layers.layout import ToImage, ToTokens
from nas.layers.mbconv import InvertedResidual
from nas.layers.mlp import ConvFFN, Mlp
from nas.layers.stems import ConvStem, PatchStem
from nas.mixers import MIXERS, block_kind_of, mixer_of_block
from nas.models.plan import BlockSpec, plan
from nas.registry import Registry

BlockBuilder = Callable[[BlockSpec], nn.Module]
BLOCK_BUILDERS: Registry[BlockBuilder] = Registry("block kind")
register_block = BLOCK_BUILDERS.register  # @register_block("kind"): builds blocks of that kind from their spec


def build_block(spec: BlockSpec) -> nn.Module:
    """Build the module for one planned block (also used alone by the latency profiler).

    Stems, downsamples, layout changes and heads are built here; a mixer's block by its mixer
    (``nas.mixers``), a token mixer inside the shared pre-norm residual token block.
    """
    if spec.kind in BLOCK_BUILDERS:
        return BLOCK_BUILDERS[spec.kind](spec)
    mixer = mixer_of_block(spec.kind)
    if mixer is None:
        raise UnknownNameError("block kind", spec.kind, block_kinds())
    if mixer.layout == "tokens":
        return _token_block(spec, mixer.build(spec))
    return mixer.build(spec)


def block_kinds() -> list[str]:
    """Every block kind a plan can hold: the structural ones, then one per registered mixer."""
    return [*BLOCK_BUILDERS, *(block_kind_of(m) for m in MIXERS.values())]


class Network(nn.Sequential):
    """A network as the chain of its planned blocks; ``specs[i]`` describes ``self[i]``."""

    def __init__(self, cfg: ArchConfig, specs: list[BlockSpec]):
        super().__init__(*[build_block(s) for s in specs])
        self.cfg, self.specs = cfg, specs


def build_model(cfg: ArchConfig, *, resolution: int | None = None, num_classes: int | None = None) -> Network:
    """Build ``cfg`` for ``resolution`` x ``resolution`` inputs (any multiple of its total stride)."""
    if num_classes is not None and num_classes != cfg.num_classes:
        cfg = cfg.replace(num_classes=num_classes)
    if resolution is not None and resolution != cfg.resolution:
        cfg = cfg.replace(resolution=resolution)
    model = Network(cfg, plan(cfg))
    _init_weights(model)
    return model


def _init_weights(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
            if m.bias is not None:
                nn.init.zeros_(m.bias)


# ----------------------------------------------------------------------------- block builders
@register_block("stem_conv")
def _stem_conv(s: BlockSpec) -> nn.Module:
    a = s.kwargs
    return ConvStem(s.in_shape[0], a["channels"], act=a["act"], norm=a["norm"])


@register_block("stem_patch")
def _stem_patch(s: BlockSpec) -> nn.Module:
    a = s.kwargs
    res = s.in_shape[1] // a["patch_size"]
    return PatchStem(s.in_shape[0], a["dim"], patch_size=a["patch_size"], grid=(res, res), norm=a["norm"],
                     cls_token=a["cls_token"], pos_embed=a["pos_embed"])


@register_block("down_conv")
def _down_conv(s: BlockSpec) -> nn.Module:
    a = s.kwargs
    return ConvNormAct(s.in_shape[0], a["out_chs"], 3, stride=a["stride"], act=None, bias=True)


@register_block("down_mbconv")
def _down_mbconv(s: BlockSpec) -> nn.Module:
    a = s.kwargs
    return InvertedResidual(s.in_shape[0], a["out_chs"], stride=a["stride"], expand_ratio=a["expand_ratio"],
                            act=a["act"])


@register_block("down_patch")
def _down_patch(s: BlockSpec) -> nn.Module:
    """k x k stride-k conv then a norm: the Core ML-convertible stand-in for LITv2's DTM."""
    a = s.kwargs
    return nn.Sequential(
        nn.Conv2d(s.in_shape[0], a["out_chs"], a["stride"], a["stride"]),
        get_norm(a["norm"], a["out_chs"], layout="nchw"),
    )


@register_block("to_tokens")
def _to_tokens(s: BlockSpec) -> nn.Module:
    return ToTokens()


@register_block("to_image")
def _to_image(s: BlockSpec) -> nn.Module:
    return ToImage(s.kwargs["grid"])


def _token_block(s: BlockSpec, mixer: nn.Module | None) -> nn.Module:
    """A token mixer's block: ``x + mixer(norm(x))`` (skipped when None), then ``x + ffn(norm(x))``."""
    a = s.kwargs
    dim, hidden = a["dim"], int(a["dim"] * a["mlp_ratio"])
    if a["ffn"] == "convffn":
        ffn: nn.Module = ConvFFN(dim, hidden, grid=a["grid"], act=a["act"])
    else:
        ffn = Mlp(dim, hidden, act=a["act"])
    return TokenBlock(dim, mixer=mixer, ffn=ffn, norm=a["norm"], layer_scale=a["layer_scale"])


@register_block("head")
def _head(s: BlockSpec) -> nn.Module:
    a = s.kwargs
    in_chs = s.in_shape[0] if a["layout"] == "nchw" else s.in_shape[1]
    return ClassifierHead(in_chs, a["num_classes"], layout=a["layout"], pool=a["pool"], norm=a["norm"],
                          conv_channels=a["conv_channels"], act=a["act"], distillation=a["distillation"])


def example_input(spec: BlockSpec, batch: int = 1) -> torch.Tensor:
    """A random input of the block's shape (used to run or export one block alone)."""
    return torch.randn(batch, *spec.in_shape)
