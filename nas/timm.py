"""timm entry point: ``import nas.timm`` registers the model ``nas_arch`` with timm's model registry.

``timm.create_model("nas_arch", config="pick.json", num_classes=10)`` builds an exported network (the
config JSON of ``nas export --format json``, a plain ArchConfig JSON, or a preset name such as
``deit-tiny``) with nas's own builder, with timm's conventions: a ``pretrained_cfg`` that gives the input
size (the config's resolution), mean/std, the first conv and the classifier; ``num_classes`` (0 gives
the pooled features, as in timm), ``in_chans`` and ``img_size`` honoured. timm's ``train.py`` reaches it
with ``--device-modules nas.timm --model nas_arch --model-kwargs config=pick.json`` (docs/training.md).

What the builder does not have is refused, never ignored: it builds the network exactly as searched
and priced, with no dropout and no stochastic depth, so a non-zero ``drop_rate`` or ``drop_path_rate``
raises :class:`TimmArgumentError`, and so does any other keyword the config does not take. There are
no pretrained weights (``pretrained=True`` is refused): the export is an architecture, to train.
Mean and std are timm's ImageNet defaults (the network was not trained on anything yet); for an input
with other than 3 channels, their channel averages are repeated.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nas.config import ArchConfig
from nas.errors import UsageError
from nas.models.builder import Network, build_block, build_model
from nas.models.plan import plan
from nas.models.presets import PRESETS, get_preset

try:
    from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
    from timm.models import build_model_with_cfg, register_model
except ImportError as exc:  # timm absent, or its torchvision absent
    raise ImportError(f"nas.timm needs timm and a torchvision that imports beside torch "
                      f"(pip install 'nas-mobile-vit[timm]', see docs/training.md): {exc}") from exc
except RuntimeError as exc:  # torchvision present but not built for this torch ("operator torchvision::nms ...")
    raise ImportError(f"nas.timm: timm imports torchvision, which does not load beside torch "
                      f"{torch.__version__} ({exc}); install a matching pair, see docs/training.md") from exc

MODEL_NAME = "nas_arch"
MODEL_KWARGS = ("config", "num_classes", "in_chans", "img_size", "drop_rate", "drop_path_rate")
_TIMM_KWARGS = ("pretrained_cfg", "pretrained_cfg_overlay", "cache_dir")  # create_model passes these, None or not


class TimmArgumentError(UsageError, TypeError):
    """A ``timm.create_model("nas_arch", ...)`` keyword the exported config cannot honour (a TypeError too,
    as Python's own unexpected-keyword errors are)."""


class TimmNetwork(Network):
    """nas's :class:`~nas.models.builder.Network` with timm's model interface.

    The blocks are the ones ``build_model`` built and initialised, under the same names, so a state dict
    trained through timm loads into ``build_model(cfg)`` (head included when the class count matches).
    """

    def __init__(self, arch: ArchConfig, *, num_classes: int, in_chans: int, img_size: tuple[int, int]):
        if (in_chans != arch.in_chans or tuple(img_size) != (arch.resolution, arch.resolution)
                or num_classes not in (0, arch.num_classes)):
            raise TimmArgumentError(f"{MODEL_NAME}: in_chans {in_chans} / img_size {tuple(img_size)} / num_classes "
                                    f"{num_classes} disagree with the config ({arch.in_chans} channels, "
                                    f"{arch.resolution} px, {arch.num_classes} classes)")
        net = build_model(arch)
        nn.Sequential.__init__(self, OrderedDict(net.named_children()))  # adopt the built blocks, not a rebuild
        self.cfg, self.specs = net.cfg, net.specs
        self.in_chans = in_chans
        self.num_classes = arch.num_classes
        self.num_features = self[-1].fc.in_features  # width of the pooled features (timm's name)
        if num_classes == 0:
            self.reset_classifier(0)

    def get_classifier(self) -> nn.Module:
        """The final linear layer (timm's ``get_classifier``); a distilled head's second one is ``fc_dist``."""
        return self[-1].fc

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """New linear layer(s) for ``num_classes`` classes (0: none, the model returns pooled features)."""
        if global_pool is not None and global_pool != self.cfg.head.pool:
            raise TimmArgumentError(f"{MODEL_NAME}: the head pools by '{self.cfg.head.pool}', not '{global_pool}'")
        head = self[-1]
        head.fc = _linear(self.num_features, num_classes)
        if head.fc_dist is not None:
            head.fc_dist = _linear(self.num_features, num_classes)
        self.num_classes = num_classes
        if num_classes > 0:
            self.cfg = self.cfg.replace(num_classes=num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Every block but the head: the last feature map (B, C, H, W) or tokens (B, N, C)."""
        for block in list(self)[:-1]:
            x = block(x)
        return x

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        """The head on ``forward_features``' output: logits, or pooled features when ``num_classes`` is 0."""
        return self[-1](x)


def _linear(width: int, num_classes: int) -> nn.Module:
    """A classifier initialised as the builder initialises its linears (truncated normal, std 0.02)."""
    if num_classes == 0:
        return nn.Identity()
    fc = nn.Linear(width, num_classes)
    nn.init.trunc_normal_(fc.weight, std=0.02)
    nn.init.zeros_(fc.bias)
    return fc


def load_config(config: Any) -> ArchConfig:
    """The ArchConfig named by ``config``: an ArchConfig, a config JSON path, or a preset name."""
    if isinstance(config, ArchConfig):
        return config
    if not isinstance(config, (str, os.PathLike)):
        raise TimmArgumentError(f"{MODEL_NAME}: config must be a config JSON path or a preset name, got "
                                f"{config!r}")
    if isinstance(config, str) and config in PRESETS:
        return get_preset(config)
    path = Path(config)
    if path.suffix.lower() == ".json" or path.exists():
        return ArchConfig.load(path)  # ConfigError (a UsageError) names the file and the problem
    raise TimmArgumentError(f"{MODEL_NAME}: config '{config}' is neither a config JSON file nor a preset; "
                            f"presets: {', '.join(PRESETS.names())}")


def pretrained_cfg_for(arch: ArchConfig, num_classes: int) -> dict[str, Any]:
    """timm's ``pretrained_cfg`` for ``arch`` with ``num_classes`` classes: input size, mean/std, first conv
    (found in the stem block, built alone), classifier (the head is the network's last block).

    Computed before the network is built: timm's builder records the first conv among the model's traits.
    """
    specs = plan(arch)
    with torch.random.fork_rng(devices=[]):  # the probe leaves the seed to the real build
        stem = build_block(specs[0])
    first_conv = next(f"0.{n}" if n else "0" for n, m in stem.named_modules() if isinstance(m, nn.Conv2d))
    head = str(len(specs) - 1)
    if arch.in_chans == 3:
        mean, std = tuple(IMAGENET_DEFAULT_MEAN), tuple(IMAGENET_DEFAULT_STD)
    else:
        mean = (sum(IMAGENET_DEFAULT_MEAN) / 3,) * arch.in_chans
        std = (sum(IMAGENET_DEFAULT_STD) / 3,) * arch.in_chans
    return {
        "architecture": MODEL_NAME,
        "tag": arch.name,
        "num_classes": num_classes,
        "input_size": (arch.in_chans, arch.resolution, arch.resolution),
        "fixed_input_size": True,  # position embeddings and token grids are built for this size
        "mean": mean,
        "std": std,
        "first_conv": first_conv,
        "classifier": (f"{head}.fc", f"{head}.fc_dist") if arch.head.distillation else f"{head}.fc",
        "description": f"nas architecture {arch.name}, freshly initialised",
    }


@register_model
def nas_arch(pretrained: bool = False, **kwargs: Any) -> TimmNetwork:
    """An exported nas architecture: ``config`` (config JSON path, ArchConfig or preset name) is required.

    Keywords: ``num_classes`` (0: pooled features), ``in_chans``, ``img_size`` (int, or a square (H, W)),
    ``drop_rate`` and ``drop_path_rate`` (0 only: the network has no dropout or stochastic depth).
    """
    if pretrained:
        raise TimmArgumentError(f"{MODEL_NAME} has no pretrained weights: nas exports an architecture to train; "
                                "use pretrained=False")
    timm_args = {k: kwargs.pop(k) for k in _TIMM_KWARGS if k in kwargs}
    unknown = sorted(set(kwargs) - set(MODEL_KWARGS))
    if unknown:
        raise TimmArgumentError(f"{MODEL_NAME} does not take {', '.join(unknown)}; it takes "
                                f"{', '.join(MODEL_KWARGS)}")
    if "config" not in kwargs:
        raise TimmArgumentError(f"{MODEL_NAME} needs config=<exported config JSON or preset name> "
                                "(train.py: --model-kwargs config=pick.json)")
    for name in ("drop_rate", "drop_path_rate"):
        if kwargs.get(name):
            raise TimmArgumentError(f"{MODEL_NAME}: {name}={kwargs[name]} is not supported: the network is built "
                                    f"as searched, with no dropout or stochastic depth; leave {name} at 0")
    arch = load_config(kwargs["config"])
    num_classes = kwargs.get("num_classes", arch.num_classes)
    if type(num_classes) is not int or num_classes < 0:
        raise TimmArgumentError(f"{MODEL_NAME}: num_classes must be an int >= 0, got {num_classes!r}")
    # the builder makes the head for num_classes > 0 (same weights as build_model of that config); 0 drops it
    arch = _with_input(arch, in_chans=kwargs.get("in_chans"), img_size=kwargs.get("img_size"),
                       num_classes=num_classes or arch.num_classes)
    return build_model_with_cfg(
        TimmNetwork, MODEL_NAME, False, pretrained_cfg=pretrained_cfg_for(arch, num_classes),
        pretrained_cfg_overlay=timm_args.get("pretrained_cfg_overlay"), cache_dir=timm_args.get("cache_dir"),
        arch=arch, num_classes=num_classes, in_chans=arch.in_chans, img_size=(arch.resolution, arch.resolution),
    )


def _with_input(arch: ArchConfig, *, in_chans: Any, img_size: Any, num_classes: int) -> ArchConfig:
    """``arch`` with timm's ``in_chans``, ``img_size`` and ``num_classes`` applied (validated like any config
    change)."""
    changes: dict[str, Any] = {"num_classes": num_classes} if num_classes != arch.num_classes else {}
    if in_chans is not None:
        if type(in_chans) is not int:
            raise TimmArgumentError(f"{MODEL_NAME}: in_chans must be an int, got {in_chans!r}")
        changes["in_chans"] = in_chans
    if img_size is not None:
        size = (img_size, img_size) if type(img_size) is int else tuple(img_size) if isinstance(
            img_size, (tuple, list)) else None
        if size is None or len(size) != 2 or size[0] != size[1] or type(size[0]) is not int:
            raise TimmArgumentError(f"{MODEL_NAME}: img_size must be an int or a square (H, W), got {img_size!r}")
        changes["resolution"] = size[0]
    return arch.replace(**changes) if changes else arch  # ConfigError names e.g. a size the stride does not divide
