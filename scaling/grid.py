"""The alpha, beta, gamma grid search of compound scaling (P1 §3.3, step 1; reference §2.2).

Fix phi = 1 and try every (alpha, beta, gamma) on a grid with alpha, beta, gamma >= 1 and
``|alpha * beta**2 * gamma**2 - target| <= tolerance``; each candidate scales the base by
depth alpha, width beta and resolution gamma, and an injected evaluator scores it. The
winner has the best accuracy, ties broken by lower FLOPs. Rounding moves the actual FLOPs
ratio away from the nominal product, so both are recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from search_spaces import Architecture, architecture_hash, count_flops, count_params

from .compound import flops_product, scale, scaled_resolution

__all__ = ["Candidate", "GridRow", "best_row", "grid_candidates", "grid_row", "scale_candidate"]

Candidate = tuple[float, float, float]


def _values(low: float, high: float, step: float) -> list[float]:
    count = round((high - low) / step)
    return [round(low + i * step, 10) for i in range(count + 1)]


def grid_candidates(
    *,
    step: float = 0.05,
    alpha: tuple[float, float] = (1.0, 2.0),
    beta: tuple[float, float] = (1.0, 1.5),
    gamma: tuple[float, float] = (1.0, 1.5),
    target: float = 2.0,
    tolerance: float = 0.05,
) -> list[Candidate]:
    """Every grid point (inclusive bounds) with all three >= 1 and the product within tolerance."""
    if not step > 0:
        raise ValueError(f"step: must be > 0, got {step}")
    for name, (low, high) in (("alpha", alpha), ("beta", beta), ("gamma", gamma)):
        if not 1.0 <= low <= high:
            raise ValueError(f"{name}: range must satisfy 1 <= low <= high, got {(low, high)}")
    if not tolerance >= 0:
        raise ValueError(f"tolerance: must be >= 0, got {tolerance}")
    return [
        (a, b, g)
        for a in _values(*alpha, step)
        for b in _values(*beta, step)
        for g in _values(*gamma, step)
        if abs(flops_product(a, b, g) - target) <= tolerance + 1e-12
    ]


def scale_candidate(base: Architecture, candidate: Candidate) -> Architecture:
    """The base scaled at phi = 1: depth alpha, width beta, resolution gamma (``scaled_resolution``)."""
    a, b, g = candidate
    return scale(base, depth=a, width=b, resolution=scaled_resolution(base.resolution, g),
                 name=f"{base.name}-a{a:g}-b{b:g}-g{g:g}")  # fmt: skip


@dataclass(frozen=True)
class GridRow:
    """One evaluated candidate.

    ``arch_hash`` identifies the scaled network; rounding maps some grid points to the same
    network (``ceil`` of a small repeat count is equal for alpha 1.1 and 1.2), and such a
    twin is not trained again: ``same_as`` names the candidate whose result it shares.
    """

    alpha: float
    beta: float
    gamma: float
    nominal: float
    flops_ratio: float
    flops: int
    params: int
    accuracy: float
    seconds: float
    arch_hash: str = ""
    same_as: str = ""


def grid_row(
    base: Architecture,
    candidate: Candidate,
    *,
    num_classes: int,
    evaluate: Callable[[Architecture, Candidate], tuple[float, float]],
) -> GridRow:
    """Score one candidate with ``evaluate(arch, candidate) -> (accuracy, seconds)``.

    FLOPs are counted at the base's own resolution times gamma (``scaled_resolution``), so
    the ratio is the cost of the scaled model where it will run, against the base's.
    """
    a, b, g = candidate
    arch = scale_candidate(base, candidate)
    base_flops = count_flops(base, num_classes=num_classes)
    flops = count_flops(arch, num_classes=num_classes)
    accuracy, seconds = evaluate(arch, candidate)
    params = count_params(arch, num_classes=num_classes)
    return GridRow(a, b, g, flops_product(a, b, g), flops / base_flops, flops, params, accuracy, seconds,
                   architecture_hash(arch))  # fmt: skip


def best_row(rows: Mapping[Candidate, GridRow] | list[GridRow]) -> GridRow:
    """Best accuracy; ties broken by lower FLOPs."""
    values = list(rows.values()) if isinstance(rows, Mapping) else list(rows)
    if not values:
        raise ValueError("no evaluated candidates")
    return max(values, key=lambda r: (r.accuracy, -r.flops))
