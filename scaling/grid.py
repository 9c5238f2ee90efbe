"""The alpha, beta, gamma grid search of compound scaling (P1 §3.3, Eq. 3, step 1).

Fix phi = 1 and try every (alpha, beta, gamma) on a grid with alpha, beta, gamma >= 1 and
``|alpha * beta**2 * gamma**2 - target| <= tolerance``; each candidate scales the base by
depth alpha, width beta and resolution gamma, and an injected evaluator scores it. The
winner has the best accuracy, ties broken by lower FLOPs.

Rounding moves the actual FLOPs ratio away from the nominal product (on a small base,
multiples of 8 channels made it 2-4.5 for a nominal 2), and candidates of unequal cost
are not a fair comparison. ``land_candidate`` therefore moves a candidate's resolution to
the nearest allowed size at which the measured ratio lies within a tolerance of the
target, or skips it with the reason; both ratios are recorded.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from search_spaces import Architecture, architecture_hash, count_flops, count_params
from search_spaces.architecture import MAX_RESOLUTION

from .compound import RESOLUTION_DIVISOR, flops_product, scale, scaled_resolution

__all__ = [
    "Candidate",
    "GridRow",
    "GridSkip",
    "best_row",
    "grid_candidates",
    "grid_row",
    "land_candidate",
    "scale_candidate",
]

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


class GridSkip(ValueError):
    """A candidate whose measured FLOPs ratio cannot land within the tolerance; the message says why."""


def land_candidate(
    base: Architecture,
    candidate: Candidate,
    *,
    num_classes: int,
    target: float,
    tolerance: float | None,
) -> Architecture:
    """The candidate at phi = 1 (``scale_candidate``), its resolution moved, if need be, to
    the allowed size nearest its own at which ``count_flops(arch) / count_flops(base)`` lies
    within ``tolerance`` of ``target``.

    Allowed sizes are the base's resolution and the multiples of 8 above it (gamma >= 1, as
    on the grid). FLOPs grow with resolution, so the walk goes one way from the nominal size
    and stops once past the band. ``tolerance=None`` keeps the nominal size. Raises
    ``GridSkip`` naming the ratios on either side of the band when no allowed size lands.
    """
    arch = scale_candidate(base, candidate)
    if tolerance is None:
        return arch
    base_flops = count_flops(base, num_classes=num_classes)
    low, high = target - tolerance, target + tolerance

    def ratio(resolution: int) -> float:
        return count_flops(dataclasses.replace(arch, resolution=resolution), num_classes=num_classes) / base_flops

    nominal = arch.resolution
    here = ratio(nominal)
    if low <= here <= high:
        return arch
    r0, step = base.resolution, RESOLUTION_DIVISOR
    first_multiple = (r0 // step + 1) * step
    if here > high:  # downwards, never below the base's resolution
        sizes = sorted({r for r in (r0, *range(first_multiple, nominal, step)) if r < nominal}, reverse=True)
    else:
        sizes = list(range(max(first_multiple, (nominal // step + 1) * step), MAX_RESOLUTION + 1, step))
    last, last_ratio = nominal, here
    for size in sizes:
        q = ratio(size)
        if low <= q <= high:
            return dataclasses.replace(arch, resolution=size)
        if (q < low) if here > high else (q > high):
            raise GridSkip(f"FLOPs ratio {last_ratio:.3f} at {last} px and {q:.3f} at {size} px: "
                           f"no size lands in {target:g} ± {tolerance:g}")  # fmt: skip
        last, last_ratio = size, q
    where = f"at the base's {last} px" if here > high else f"at {last} px"
    raise GridSkip(f"FLOPs ratio {last_ratio:.3f} already {where}: no size lands in {target:g} ± {tolerance:g}")


@dataclass(frozen=True)
class GridRow:
    """One evaluated candidate.

    ``arch_hash`` identifies the scaled network; rounding maps some grid points to the same
    network (``ceil`` of a small repeat count is equal for alpha 1.1 and 1.2), and such a
    twin is not trained again: ``same_as`` names the candidate whose result it shares.
    ``resolution`` is the size the candidate was counted and trained at (``land_candidate``);
    a candidate that cannot land is recorded untrained, with ``skipped`` saying why.
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
    resolution: int = 0
    skipped: str = ""


def grid_row(
    base: Architecture,
    arch: Architecture,
    candidate: Candidate,
    *,
    num_classes: int,
    accuracy: float,
    seconds: float,
    skipped: str = "",
) -> GridRow:
    """The table row of ``candidate``, scaled to ``arch`` (``land_candidate``), with its score.

    FLOPs are counted at ``arch``'s resolution, so the ratio is the cost of the scaled model
    where it will run, against the base's.
    """
    a, b, g = candidate
    flops = count_flops(arch, num_classes=num_classes)
    return GridRow(a, b, g, flops_product(a, b, g), flops / count_flops(base, num_classes=num_classes), flops,
                   count_params(arch, num_classes=num_classes), accuracy, seconds, architecture_hash(arch),
                   resolution=arch.resolution, skipped=skipped)  # fmt: skip


def best_row(rows: Mapping[Candidate, GridRow] | list[GridRow]) -> GridRow:
    """Best accuracy; ties broken by lower FLOPs."""
    values = list(rows.values()) if isinstance(rows, Mapping) else list(rows)
    if not values:
        raise ValueError("no evaluated candidates")
    return max(values, key=lambda r: (r.accuracy, -r.flops))
