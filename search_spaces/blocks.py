"""The building blocks: MBConv, Fused-MBConv, squeeze-excite and stochastic depth.

Layer order and widths follow the reference implementations
(TPU ``MBConvBlock``, torchvision ``MBConv`` / ``FusedMBConv``, timm ``InvertedResidual`` /
``EdgeResidual``). Convolutions carry no bias because a batch norm follows each one.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = [
    "BNSettings",
    "ConvBNAct",
    "DropPath",
    "FusedMBConv",
    "MBConv",
    "SqueezeExcite",
    "activation_layer",
    "se_channels",
]

BNSettings = tuple[float, float]  # (momentum in PyTorch's convention, eps)


def activation_layer(name: str) -> nn.Module:
    """SiLU (swish) for EfficientNet, ReLU for MnasNet (P1 §4; PM §4.1)."""
    if name == "silu":
        return nn.SiLU(inplace=True)
    if name == "relu":
        return nn.ReLU(inplace=True)
    raise ValueError(f"activation: must be silu or relu, got {name!r}")


def se_channels(in_channels: int, se: float) -> int:
    """Squeeze width from the block's *input* channels: ``max(1, int(in * se))`` (TPU)."""
    return max(1, int(in_channels * se))


class ConvBNAct(nn.Sequential):
    """A k x k convolution (padding k//2, no bias), batch norm, and an optional activation."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        kernel: int,
        stride: int = 1,
        groups: int = 1,
        bn: BNSettings,
        activation: str | None,
    ) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, out_channels, kernel, stride, kernel // 2, groups=groups, bias=False),
            nn.BatchNorm2d(out_channels, momentum=bn[0], eps=bn[1]),
        ]
        if activation is not None:
            layers.append(activation_layer(activation))
        super().__init__(*layers)


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation: pool, 1x1 reduce (bias), act, 1x1 expand (bias), sigmoid, scale."""

    def __init__(self, channels: int, reduced: int, *, activation: str) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(channels, reduced, 1)
        self.act = activation_layer(activation)
        self.expand = nn.Conv2d(reduced, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = x.mean((2, 3), keepdim=True)
        scale = torch.sigmoid(self.expand(self.act(self.reduce(scale))))
        return x * scale


class DropPath(nn.Module):
    """Stochastic depth ("drop connect"): drop the residual branch per sample while training.

    The kept branch is scaled by ``1 / survival`` (TPU ``drop_connect``, torchvision
    ``stochastic_depth(mode="row")``).
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        survival = 1.0 - self.p
        mask = torch.empty((x.shape[0], 1, 1, 1), dtype=x.dtype, device=x.device).bernoulli_(survival)
        return x * mask / survival

    def extra_repr(self) -> str:
        return f"p={self.p}"


class MBConv(nn.Module):
    """Mobile inverted bottleneck (MnasNet / EfficientNet "MBConv", timm ``InvertedResidual``).

    1x1 expand + BN + act (skipped when ``expand == 1``), k x k depthwise + BN + act carrying the
    stride, squeeze-excite, 1x1 linear projection + BN, then a residual with stochastic depth
    when ``stride == 1`` and the widths match (TPU `MBConvBlock`, torchvision `MBConv`).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        kernel: int,
        stride: int,
        expand: int,
        se: float,
        activation: str,
        bn: BNSettings,
        drop_path: float,
    ) -> None:
        super().__init__()
        mid = in_channels * expand
        self.expand_conv = ConvBNAct(in_channels, mid, kernel=1, bn=bn, activation=activation) if expand != 1 else None
        self.depthwise = ConvBNAct(mid, mid, kernel=kernel, stride=stride, groups=mid, bn=bn, activation=activation)
        self.se = SqueezeExcite(mid, se_channels(in_channels, se), activation=activation) if se > 0 else None
        self.project = ConvBNAct(mid, out_channels, kernel=1, bn=bn, activation=None)
        self.has_residual = stride == 1 and in_channels == out_channels
        self.drop_path = DropPath(drop_path) if self.has_residual else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x if self.expand_conv is None else self.expand_conv(x)
        out = self.depthwise(out)
        if self.se is not None:
            out = self.se(out)
        out = self.project(out)
        if self.drop_path is not None:
            out = x + self.drop_path(out)
        return out


class FusedMBConv(nn.Module):
    """Fused-MBConv (EfficientNetV2 Fig. 2; timm ``EdgeResidual``, or ``ConvBnAct`` when e = 1).

    A regular k x k conv + BN + act carrying the stride replaces MBConv's expand and
    depthwise convs; then optional squeeze-excite and a 1x1 linear projection + BN. With
    ``expand == 1`` the block is the single k x k conv + BN + act (timm `EdgeResidual` without expansion, P2 Table 4).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        kernel: int,
        stride: int,
        expand: int,
        se: float,
        activation: str,
        bn: BNSettings,
        drop_path: float,
    ) -> None:
        super().__init__()
        mid = in_channels * expand if expand != 1 else out_channels
        self.fused = ConvBNAct(in_channels, mid, kernel=kernel, stride=stride, bn=bn, activation=activation)
        self.se = SqueezeExcite(mid, se_channels(in_channels, se), activation=activation) if se > 0 else None
        self.project = ConvBNAct(mid, out_channels, kernel=1, bn=bn, activation=None) if expand != 1 else None
        self.has_residual = stride == 1 and in_channels == out_channels
        self.drop_path = DropPath(drop_path) if self.has_residual else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.fused(x)
        if self.se is not None:
            out = self.se(out)
        if self.project is not None:
            out = self.project(out)
        if self.drop_path is not None:
            out = x + self.drop_path(out)
        return out
