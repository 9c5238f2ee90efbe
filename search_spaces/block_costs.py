"""Each block kind's exact cost: parameters and multiply-accumulates of one block.

The convention is ``cost.py``'s (docs/formats.md): conv and linear multiply-accumulates for
one image; batch norm contributes its scale and shift to the parameters only.
"""

from __future__ import annotations

from dataclasses import dataclass

from .architecture import Stage
from .blocks import se_channels

__all__ = ["Cost", "conv_bn_cost", "conv_output_size", "fused_mbconv_cost", "mbconv_cost"]


@dataclass(frozen=True, slots=True)
class Cost:
    """Parameters and multiply-accumulates."""

    params: int = 0
    flops: int = 0

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.params + other.params, self.flops + other.flops)

    def __mul__(self, times: int) -> Cost:
        return Cost(self.params * times, self.flops * times)


def conv_output_size(size: int, stride: int) -> int:
    """Output side of an odd-kernel conv with padding k//2: ``ceil(size / stride)``."""
    return (size - 1) // stride + 1


def _conv(c_in: int, c_out: int, *, kernel: int, out_size: int, groups: int = 1, bias: bool = False) -> Cost:
    weights = c_out * (c_in // groups) * kernel * kernel
    return Cost(params=weights + (c_out if bias else 0), flops=weights * out_size * out_size)


def conv_bn_cost(c_in: int, c_out: int, *, kernel: int, out_size: int, groups: int = 1) -> Cost:
    """A bias-free conv followed by batch norm (scale and shift)."""
    return _conv(c_in, c_out, kernel=kernel, out_size=out_size, groups=groups) + Cost(params=2 * c_out)


def _se(channels: int, reduced: int) -> Cost:
    """Two 1x1 convs with bias, applied to the pooled 1x1 map."""
    return _conv(channels, reduced, kernel=1, out_size=1, bias=True) + _conv(
        reduced, channels, kernel=1, out_size=1, bias=True
    )


def mbconv_cost(stage: Stage, *, in_channels: int, in_size: int, stride: int) -> Cost:
    """One MBConv block: 1x1 expand (skipped at e = 1), k x k depthwise, SE, 1x1 project."""
    c_in, c_out, k = in_channels, stage.channels, stage.kernel
    out_size, mid = conv_output_size(in_size, stride), c_in * stage.expand
    cost = Cost()
    if stage.expand != 1:
        cost += conv_bn_cost(c_in, mid, kernel=1, out_size=in_size)
    cost += conv_bn_cost(mid, mid, kernel=k, out_size=out_size, groups=mid)
    if stage.se > 0:
        cost += _se(mid, se_channels(c_in, stage.se))
    return cost + conv_bn_cost(mid, c_out, kernel=1, out_size=out_size)


def fused_mbconv_cost(stage: Stage, *, in_channels: int, in_size: int, stride: int) -> Cost:
    """One Fused-MBConv block: k x k conv to the expanded width (the output at e = 1), SE,
    then a 1x1 project unless e = 1."""
    c_in, c_out, k, e = in_channels, stage.channels, stage.kernel, stage.expand
    out_size, mid = conv_output_size(in_size, stride), (c_in * e if e != 1 else c_out)
    cost = conv_bn_cost(c_in, mid, kernel=k, out_size=out_size)
    if stage.se > 0:
        cost += _se(mid, se_channels(c_in, stage.se))
    if e != 1:
        cost += conv_bn_cost(mid, c_out, kernel=1, out_size=out_size)
    return cost
