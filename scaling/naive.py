"""The naive baseline: a base network scaled uniformly to a budget.

This is the obvious alternative every search is compared with (P1 §3.3 calls single-
dimension scaling the baseline of compound scaling): keep the base's depth and resolution
and shrink or grow every width (stem, stages, head) by one multiplier, the largest whose
cost at the deployment resolution stays within the budget. Channel rounding makes cost a
step function of the multiplier, so the multiplier is found by bisection on the exact
analytic count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from search_spaces import Architecture, count_flops, count_params

from .compound import scale

__all__ = ["NAIVE_METRICS", "NaiveBaseline", "scale_to_budget"]

NAIVE_METRICS = ("flops", "params")
_LOW, _HIGH, _STEPS = 0.01, 16.0, 50


@dataclass(frozen=True)
class NaiveBaseline:
    """The scaled network, its width multiplier, and its cost in the budget's metric."""

    arch: Architecture
    width: float
    cost: int


def _cost(arch: Architecture, metric: str, resolution: int, num_classes: int) -> int:
    if metric == "flops":
        return count_flops(arch, resolution=resolution, num_classes=num_classes)
    return count_params(arch, num_classes=num_classes)


def scale_to_budget(
    base: Architecture,
    budget: float,
    *,
    metric: str = "flops",
    resolution: int | None = None,
    num_classes: int = 1000,
) -> NaiveBaseline:
    """``base`` with every width scaled by the largest multiplier whose ``metric`` (``flops``
    at ``resolution``, default the base's own, or ``params``) is at most ``budget``.

    Raises ``ValueError`` when even the smallest multiplier (0.01, every width at its
    rounding floor of 8 channels) is over the budget.
    """
    if metric not in NAIVE_METRICS:
        raise ValueError(f"metric: must be flops or params, got {metric!r}")
    if not budget > 0:
        raise ValueError(f"budget: must be > 0, got {budget!r}")
    size = base.resolution if resolution is None else resolution

    def cost(width: float) -> int:
        return _cost(scale(base, width=width), metric, size, num_classes)

    if cost(_LOW) > budget:
        raise ValueError(f"budget: {budget:.6g} {metric} is below {base.name} at its narrowest ({cost(_LOW):,})")
    low, high = _LOW, _HIGH
    if cost(high) <= budget:
        low = high
    for _ in range(_STEPS):  # cost(low) <= budget < cost(high)
        mid = (low + high) / 2
        low, high = (mid, high) if cost(mid) <= budget else (low, mid)
    width = max(_LOW, math.floor(low * 1e4) / 1e4)  # 4 decimals, rounded down: still within budget
    arch = scale(base, width=width, name=f"{base.name}-w{width:g}")
    return NaiveBaseline(arch, width, cost(width))
