"""Fitting a network to a budget with one width multiplier, and the naive baseline.

A network is fitted to a FLOPs or params budget T by scaling every width (stem, stages,
head) by one multiplier, with the usual channel rounding (``round_filters``), found by
bisection on the exact analytic count: the largest multiplier whose cost is at most T.
Rounding makes cost a step function of the multiplier, so a fit lands in [lower * T, T]
only where a step falls there; otherwise the network cannot land, and the reason says by
how much it misses.

The naive baseline is the obvious alternative every search is compared with (P1 §3.3
calls single-dimension scaling the baseline of compound scaling): the base network fitted
this way, its depth and resolution kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from search_spaces import Architecture, count_flops, count_params

from .compound import scale

__all__ = ["BUDGET_METRICS", "Fit", "FitError", "fit_to_budget", "scale_to_budget"]

BUDGET_METRICS = ("flops", "params")
_LOW, _HIGH, _STEPS = 0.01, 16.0, 50


class FitError(ValueError):
    """A network that cannot be fitted into the budget; the message says why."""


@dataclass(frozen=True)
class Fit:
    """A fitted network, its width multiplier, and its cost in the budget's metric before and after."""

    arch: Architecture
    width: float
    cost: int
    cost_before: int


def _cost(arch: Architecture, metric: str, resolution: int, num_classes: int) -> int:
    if metric == "flops":
        return count_flops(arch, resolution=resolution, num_classes=num_classes)
    return count_params(arch, num_classes=num_classes)


def fit_to_budget(
    arch: Architecture,
    budget: float,
    *,
    lower: float = 0.0,
    metric: str = "flops",
    resolution: int | None = None,
    num_classes: int = 1000,
    name: str | None = None,
) -> Fit:
    """``arch`` with every width scaled by the largest multiplier whose ``metric`` (``flops``
    at ``resolution``, default the architecture's own, or ``params``) is at most ``budget``.

    Raises ``FitError`` when even the smallest multiplier (0.01: every width at its
    rounding floor of 8 channels) is over the budget, or when the fitted cost falls below
    ``lower * budget``.
    """
    if metric not in BUDGET_METRICS:
        raise ValueError(f"metric: must be flops or params, got {metric!r}")
    if not budget > 0:
        raise ValueError(f"budget: must be > 0, got {budget!r}")
    if not 0 <= lower <= 1:
        raise ValueError(f"lower: must be in [0, 1], got {lower!r}")
    size = arch.resolution if resolution is None else resolution

    def cost(width: float) -> int:
        return _cost(scale(arch, width=width), metric, size, num_classes)

    before = _cost(arch, metric, size, num_classes)
    if cost(_LOW) > budget:
        raise FitError(f"{metric} {cost(_LOW):,} at the narrowest widths, over the budget {budget:.6g}")
    low, high = _LOW, _HIGH
    if cost(high) <= budget:
        low = high
    for _ in range(_STEPS):  # cost(low) <= budget < cost(high)
        mid = (low + high) / 2
        low, high = (mid, high) if cost(mid) <= budget else (low, mid)
    width = max(_LOW, math.floor(low * 1e4) / 1e4)  # 4 decimals, rounded down: still within budget
    fitted = cost(width)
    if fitted < lower * budget:
        raise FitError(f"channel rounding leaves {metric} {fitted:,} at width x{width:g}, below "
                       f"{lower:g} x budget = {lower * budget:.6g}")  # fmt: skip
    return Fit(scale(arch, width=width, name=name or f"{arch.name}-w{width:g}"), width, fitted, before)


def scale_to_budget(
    base: Architecture,
    budget: float,
    *,
    metric: str = "flops",
    resolution: int | None = None,
    num_classes: int = 1000,
) -> Fit:
    """The naive baseline: ``base`` uniformly width-scaled to the largest multiplier within ``budget``."""
    try:
        return fit_to_budget(base, budget, metric=metric, resolution=resolution, num_classes=num_classes)
    except FitError as exc:
        raise ValueError(f"budget: {budget:.6g} {metric} is below {base.name} at its narrowest ({exc})") from None
