"""Fitting a network to a budget with one width multiplier, and the naive baseline.

A network is fitted to a FLOPs or params budget T by scaling every width (stem, stages,
head) by one multiplier, with the usual channel rounding (``round_filters``), found by
bisection on the exact analytic count: the largest multiplier whose cost is at most T.
Rounding makes cost a step function of the multiplier, so a fit lands in [lower * T, T]
only where a step falls there; otherwise the network cannot land, and the reason says by
how much it misses. A network too deep for the budget at any width can instead be made
shallower and narrower together by the compound rule below (``fit_to_budget(shallower=True)``,
what a search's fit does).

The naive baselines are the obvious alternatives every search is compared with, the
base scaled to the budget by a fixed rule (``NAIVE_RULES``), its resolution kept:

- ``width``: every width by one multiplier, depth kept (P1 §3.3 calls single-dimension
  scaling the baseline of compound scaling);
- ``compound``: EfficientNet's own rule run to the budget, depth ``alpha**phi`` and width
  ``beta**phi`` with alpha = 1.2 and beta = 1.1 (P1 §3.3, Eq. 3), repeats by ceiling, at the
  largest phi (negative below the base's cost) whose cost is within the budget;
- ``half_depth``: what a practitioner tries first on a smaller budget: every stage's
  repeats halved (by ceiling), then the widths fitted.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

from search_spaces import Architecture, count_flops, count_params

from .compound import scale

__all__ = ["BUDGET_METRICS", "COMPOUND_ALPHA", "COMPOUND_BETA", "NAIVE_RULES", "Fit", "FitError",
           "adjust_into_band", "fit_to_budget", "scale_to_budget"]  # fmt: skip

BUDGET_METRICS = ("flops", "params")
NAIVE_RULES = ("width", "compound", "half_depth")
COMPOUND_ALPHA, COMPOUND_BETA = 1.2, 1.1
"""EfficientNet's depth and width coefficients (P1 §3.3: alpha = 1.2, beta = 1.1, gamma = 1.15)."""
_PHI_LOW, _PHI_HIGH = -40.0, 20.0
_LOW, _HIGH, _STEPS = 0.01, 16.0, 50


class FitError(ValueError):
    """A network that cannot be fitted into the budget; the message says why."""


@dataclass(frozen=True)
class Fit:
    """A fitted network, its width multiplier, and its cost in the budget's metric before and after.

    ``depth`` is the depth multiplier (1 for a width fit), ``rule`` the naive rule that made it
    (``width`` for any width fit), ``phi`` the compound exponent of the ``compound`` rule, and
    ``adjusted`` the 8-channel steps that landed it in the band (``adjust_into_band``).
    """

    arch: Architecture
    width: float
    cost: int
    cost_before: int
    depth: float = 1.0
    rule: str = "width"
    phi: float | None = None
    adjusted: int = 0


def _cost(arch: Architecture, metric: str, resolution: int, num_classes: int) -> int:
    if metric == "flops":
        return count_flops(arch, resolution=resolution, num_classes=num_classes)
    return count_params(arch, num_classes=num_classes)


def _largest_within(cost: Callable[[float], int], budget: float, low: float, high: float) -> float:
    """The largest ``x`` in [low, high] with ``cost(x) <= budget``, for a cost that never falls as
    ``x`` grows and ``cost(low) <= budget``: bisection, then 4 decimals rounded down (still within)."""
    if cost(high) <= budget:
        low = high
    for _ in range(_STEPS):  # cost(low) <= budget < cost(high)
        mid = (low + high) / 2
        low, high = (mid, high) if cost(mid) <= budget else (low, mid)
    return math.floor(low * 1e4) / 1e4


def fit_to_budget(
    arch: Architecture,
    budget: float,
    *,
    lower: float = 0.0,
    metric: str = "flops",
    resolution: int | None = None,
    num_classes: int = 1000,
    name: str | None = None,
    adjust: bool = False,
    shallower: bool = False,
) -> Fit:
    """``arch`` with every width scaled by the largest multiplier whose ``metric`` (``flops``
    at ``resolution``, default the architecture's own, or ``params``) is at most ``budget``.

    Raises ``FitError`` when even the smallest multiplier (0.01: every width at its
    rounding floor of 8 channels) is over the budget, or when the fitted cost falls below
    ``lower * budget``. With ``adjust``, a fit that rounding leaves below ``lower * budget``
    is first widened one rounding step (8 channels) at a time, in whichever stage, stem or
    head adds the least cost within the budget, until it lands (``adjust_into_band``); the
    error is raised only if no step lands it. With ``shallower``, a network over the budget
    even at its narrowest widths (too deep for it) is scaled down by EfficientNet's compound
    rule instead, depth ``alpha**phi`` and width ``beta**phi`` at the largest phi within the
    budget (P1 Eq. 3, ``rule`` ``compound`` in the ``Fit``), then landed as above.
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
        if not shallower:
            raise FitError(f"{metric} {cost(_LOW):,} at the narrowest widths, over the budget {budget:.6g}")
        fit = _shallower(arch, budget, metric=metric, resolution=size, num_classes=num_classes)
        fit = dataclasses.replace(fit, arch=dataclasses.replace(fit.arch, name=name or fit.arch.name))
    else:
        width = max(_LOW, _largest_within(cost, budget, _LOW, _HIGH))
        fit = Fit(scale(arch, width=width, name=name or f"{arch.name}-w{width:g}"), width, cost(width), before)
    if fit.cost < lower * budget and adjust:
        landed = adjust_into_band(fit.arch, budget, lower=lower, cost=lambda a: _cost(a, metric, size, num_classes))
        if landed is not None:
            return dataclasses.replace(fit, arch=landed, cost=_cost(landed, metric, size, num_classes),
                                       adjusted=_steps_between(fit.arch, landed))  # fmt: skip
    if fit.cost < lower * budget:
        how = f"width x{fit.width:g}" if fit.rule == "width" else f"phi {fit.phi:g} (depth x{fit.depth:g})"
        raise FitError(f"channel rounding leaves {metric} {fit.cost:,} at {how}, below "
                       f"{lower:g} x budget = {lower * budget:.6g}")  # fmt: skip
    return fit


_STEP = 8  # one channel-rounding step (``round_filters``' divisor)
_MAX_STEPS = 64


def _shallower(arch: Architecture, budget: float, *, metric: str, resolution: int, num_classes: int) -> Fit:
    """A network too deep for ``budget`` at any width, scaled down by the compound rule
    (``_compound_to_budget``); ``FitError`` if even one block a stage at the narrowest widths is over."""
    try:
        return _compound_to_budget(arch, budget, metric=metric, resolution=resolution, num_classes=num_classes)
    except FitError:
        narrowest = _cost(scale(arch, width=_LOW), metric, resolution, num_classes)
        least = _cost(scale(arch, depth=COMPOUND_ALPHA**_PHI_LOW, width=COMPOUND_BETA**_PHI_LOW), metric, resolution,
                      num_classes)  # fmt: skip
        raise FitError(f"{metric} {narrowest:,} at the narrowest widths and {least:,} at one block a stage, "
                       f"over the budget {budget:.6g}") from None  # fmt: skip


def _steps_between(before: Architecture, after: Architecture) -> int:
    """The 8-channel steps ``adjust_into_band`` added to ``before`` (stem, head and every stage)."""
    added = after.head.channels - before.head.channels + after.stem.channels - before.stem.channels
    added += sum(a.channels - b.channels for a, b in zip(after.stages, before.stages, strict=True))
    return added // _STEP


def adjust_into_band(
    arch: Architecture, budget: float, *, lower: float, cost: Callable[[Architecture], int]
) -> Architecture | None:
    """``arch`` widened by 8-channel steps until its cost lies in [lower * budget, budget], or None.

    Channel rounding makes one width multiplier move every layer's width across a rounding
    threshold at once, so the cost can jump over the whole band. Widening one stage (or the
    stem, or the head) by one rounding step is a far smaller move. Each step takes the
    cheapest widening that lands in the band, else the one that adds the most cost without
    leaving the budget.
    """
    current = arch
    for _ in range(_MAX_STEPS):
        if cost(current) >= lower * budget:
            return current
        options = sorted((cost(c), i, c) for i, c in enumerate(_one_step_wider(current)))
        within = [(value, c) for value, _, c in options if value <= budget]
        if not within:
            return None
        landing = [(value, c) for value, c in within if value >= lower * budget]
        current = landing[0][1] if landing else within[-1][1]
    return current if cost(current) >= lower * budget else None


def _one_step_wider(arch: Architecture) -> list[Architecture]:
    """``arch`` with one stage, the stem or the head 8 channels wider."""
    out = [
        dataclasses.replace(arch, stem=dataclasses.replace(arch.stem, channels=arch.stem.channels + _STEP)),
        dataclasses.replace(arch, head=dataclasses.replace(arch.head, channels=arch.head.channels + _STEP)),
    ]
    for i, stage in enumerate(arch.stages):
        wider = dataclasses.replace(stage, channels=stage.channels + _STEP)
        out.append(dataclasses.replace(arch, stages=(*arch.stages[:i], wider, *arch.stages[i + 1 :])))
    return out


def scale_to_budget(
    base: Architecture,
    budget: float,
    *,
    rule: str = "width",
    metric: str = "flops",
    resolution: int | None = None,
    num_classes: int = 1000,
) -> Fit:
    """A naive baseline: ``base`` scaled to ``budget`` by ``rule`` (``NAIVE_RULES``, see the module).

    Never over the budget. ``ValueError`` if the base cannot get that small by the rule.
    """
    if rule not in NAIVE_RULES:
        raise ValueError(f"rule: must be one of {', '.join(NAIVE_RULES)}, got {rule!r}")
    try:
        if rule == "compound":
            return _compound_to_budget(base, budget, metric=metric, resolution=resolution, num_classes=num_classes)
        if rule == "width":
            return fit_to_budget(base, budget, metric=metric, resolution=resolution, num_classes=num_classes)
        fit = fit_to_budget(scale(base, depth=0.5), budget, metric=metric, resolution=resolution,
                            num_classes=num_classes)  # fmt: skip
        before = _cost(base, metric, base.resolution if resolution is None else resolution, num_classes)
        arch = dataclasses.replace(fit.arch, name=f"{base.name}-half-depth-w{fit.width:g}")
        return Fit(arch, fit.width, fit.cost, before, 0.5, rule)
    except FitError as exc:
        raise ValueError(
            f"budget: {budget:.6g} {metric} is below {base.name} at its narrowest by the {rule} rule ({exc})"
        ) from None


def _compound_to_budget(base: Architecture, budget: float, *, metric: str, resolution: int | None,
                        num_classes: int) -> Fit:  # fmt: skip
    """The largest phi whose ``scale(base, depth=alpha**phi, width=beta**phi)`` costs at most ``budget``.

    Cost never falls as phi grows (widths and repeats are both non-decreasing in it), so
    bisection finds the step; phi is rounded down to 4 decimals, still within the budget.
    """
    if not budget > 0:
        raise ValueError(f"budget: must be > 0, got {budget!r}")
    size = base.resolution if resolution is None else resolution

    def at(phi: float) -> Architecture:
        return scale(base, depth=COMPOUND_ALPHA**phi, width=COMPOUND_BETA**phi)

    def cost(phi: float) -> int:
        return _cost(at(phi), metric, size, num_classes)

    if cost(_PHI_LOW) > budget:
        raise FitError(f"{metric} {cost(_PHI_LOW):,} at phi {_PHI_LOW:g}, over the budget {budget:.6g}")
    phi = _largest_within(cost, budget, _PHI_LOW, _PHI_HIGH)
    arch = dataclasses.replace(at(phi), name=f"{base.name}-compound-phi{phi:g}")
    return Fit(arch, COMPOUND_BETA**phi, cost(phi), _cost(base, metric, size, num_classes), COMPOUND_ALPHA**phi,
               "compound", phi)  # fmt: skip
