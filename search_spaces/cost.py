"""Exact analytic parameter and FLOP counts, computed from the spec without building a model.

Convention (docs/formats.md, as in the EfficientNet paper's "FLOPS" and fvcore): ``flops`` is the
number of multiply-accumulates of the convolution and linear layers for one image. Batch
norm, activations, the SE multiply and pooling, residual adds and biases are not counted.
A k x k convolution with ``c_in / groups`` inputs per output channel on an ``h x w`` output
costs ``h * w * c_out * (c_in / groups) * k * k`` (PM Eq. 4 for the depthwise-separable case).

``params`` is the built model's ``sum(p.numel())``: conv weights, BN scale and shift, SE
biases and the classifier's weight and bias. BN running statistics are buffers, not params.
"""

from __future__ import annotations

from dataclasses import dataclass

from .architecture import Architecture, Stage
from .blocks import se_channels

__all__ = [
    "Cost",
    "StageCost",
    "block_cost",
    "conv_output_size",
    "cost_breakdown",
    "count_flops",
    "count_params",
    "fused_mbconv_cost",
    "mbconv_cost",
]


@dataclass(frozen=True, slots=True)
class Cost:
    """Parameters and multiply-accumulates."""

    params: int = 0
    flops: int = 0

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.params + other.params, self.flops + other.flops)

    def __mul__(self, times: int) -> Cost:
        return Cost(self.params * times, self.flops * times)


@dataclass(frozen=True)
class StageCost:
    """One row of the per-stage table: the layer group, its output size and its cost."""

    name: str
    stage: Stage | None
    out_channels: int
    out_resolution: int
    params: int
    flops: int


def conv_output_size(size: int, stride: int) -> int:
    """Output side of an odd-kernel conv with padding k//2: ``ceil(size / stride)``."""
    return (size - 1) // stride + 1


def _conv(c_in: int, c_out: int, *, kernel: int, out_size: int, groups: int = 1, bias: bool = False) -> Cost:
    weights = c_out * (c_in // groups) * kernel * kernel
    return Cost(params=weights + (c_out if bias else 0), flops=weights * out_size * out_size)


def _conv_bn(c_in: int, c_out: int, *, kernel: int, out_size: int, groups: int = 1) -> Cost:
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
        cost += _conv_bn(c_in, mid, kernel=1, out_size=in_size)
    cost += _conv_bn(mid, mid, kernel=k, out_size=out_size, groups=mid)
    if stage.se > 0:
        cost += _se(mid, se_channels(c_in, stage.se))
    return cost + _conv_bn(mid, c_out, kernel=1, out_size=out_size)


def fused_mbconv_cost(stage: Stage, *, in_channels: int, in_size: int, stride: int) -> Cost:
    """One Fused-MBConv block: k x k conv to the expanded width (the output at e = 1), SE,
    then a 1x1 project unless e = 1."""
    c_in, c_out, k, e = in_channels, stage.channels, stage.kernel, stage.expand
    out_size, mid = conv_output_size(in_size, stride), (c_in * e if e != 1 else c_out)
    cost = _conv_bn(c_in, mid, kernel=k, out_size=out_size)
    if stage.se > 0:
        cost += _se(mid, se_channels(c_in, stage.se))
    if e != 1:
        cost += _conv_bn(mid, c_out, kernel=1, out_size=out_size)
    return cost


def block_cost(stage: Stage, *, in_channels: int, in_size: int, stride: int) -> Cost:
    """One block of ``stage``, counted by its kind's entry in the block registry."""
    from .registry import block_kind

    return block_kind(stage.block).cost(stage, in_channels=in_channels, in_size=in_size, stride=stride)


def cost_breakdown(
    arch: Architecture, *, resolution: int | None = None, num_classes: int = 1000, in_channels: int = 3
) -> list[StageCost]:
    """Rows for the stem, every stage and the head (head conv plus classifier)."""
    size = arch.resolution if resolution is None else resolution
    if size < 1:
        raise ValueError(f"resolution: must be >= 1, got {size}")
    if num_classes < 1:
        raise ValueError(f"num_classes: must be >= 1, got {num_classes}")
    size = conv_output_size(size, 2)
    stem = _conv_bn(in_channels, arch.stem.channels, kernel=3, out_size=size)
    rows = [StageCost("stem", None, arch.stem.channels, size, stem.params, stem.flops)]
    c_in = arch.stem.channels
    for i, stage in enumerate(arch.stages):
        # The first block carries the stride and the width change; the other repeats - 1
        # blocks are identical (stride 1, channels -> channels), so one is counted and multiplied.
        cost = block_cost(stage, in_channels=c_in, in_size=size, stride=stage.stride)
        c_in, size = stage.channels, conv_output_size(size, stage.stride)
        if stage.repeats > 1:
            cost += block_cost(stage, in_channels=c_in, in_size=size, stride=1) * (stage.repeats - 1)
        rows.append(StageCost(f"stage{i + 1}", stage, stage.channels, size, cost.params, cost.flops))
    head = _conv_bn(c_in, arch.head.channels, kernel=1, out_size=size)
    classifier = Cost(params=arch.head.channels * num_classes + num_classes, flops=arch.head.channels * num_classes)
    head += classifier
    rows.append(StageCost("head", None, arch.head.channels, size, head.params, head.flops))
    return rows


def count_params(arch: Architecture, *, num_classes: int = 1000, in_channels: int = 3) -> int:
    """Exactly ``sum(p.numel() for p in build_model(arch, num_classes=...).parameters())``."""
    return sum(row.params for row in cost_breakdown(arch, num_classes=num_classes, in_channels=in_channels))


def count_flops(
    arch: Architecture, *, resolution: int | None = None, num_classes: int = 1000, in_channels: int = 3
) -> int:
    """Multiply-accumulates for one image at ``resolution`` (default: the architecture's own)."""
    rows = cost_breakdown(arch, resolution=resolution, num_classes=num_classes, in_channels=in_channels)
    return sum(row.flops for row in rows)
