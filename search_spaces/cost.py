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
from .block_costs import Cost, conv_bn_cost, conv_output_size
from .registry import block_kind

__all__ = ["StageCost", "block_cost", "cost_breakdown", "count_flops", "count_params"]


@dataclass(frozen=True)
class StageCost:
    """One row of the per-stage table: the layer group, its output size and its cost."""

    name: str
    stage: Stage | None
    out_channels: int
    out_resolution: int
    params: int
    flops: int


def block_cost(stage: Stage, *, in_channels: int, in_size: int, stride: int) -> Cost:
    """One block of ``stage``, counted by its kind's entry in the block registry."""
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
    stem = conv_bn_cost(in_channels, arch.stem.channels, kernel=3, out_size=size)
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
    head = conv_bn_cost(c_in, arch.head.channels, kernel=1, out_size=size)
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
