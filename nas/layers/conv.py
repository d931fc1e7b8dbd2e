"""Conv -> norm -> activation, the unit every conv part is made of."""

from __future__ import annotations

from torch import nn

from nas.layers.create import get_act, get_norm


class ConvNormAct(nn.Sequential):
    """kxk conv (no bias when normed), then a norm and an activation, each optional."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        kernel_size: int = 3,
        *,
        stride: int = 1,
        groups: int = 1,
        norm: str = "batchnorm",
        act: str | None = "relu",
        bias: bool | None = None,
    ):
        use_bias = norm == "none" if bias is None else bias
        layers: list[nn.Module] = [
            nn.Conv2d(in_chs, out_chs, kernel_size, stride, kernel_size // 2, groups=groups, bias=use_bias)
        ]
        if norm != "none":
            layers.append(get_norm(norm, out_chs, layout="nchw"))
        if act is not None:
            layers.append(get_act(act)())
        super().__init__(*layers)
