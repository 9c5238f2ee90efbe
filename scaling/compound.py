"""Compound scaling of an ``Architecture`` (P1 §3.3) and the published B0-B7 table (§2.1)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from search_spaces import Architecture, Head, Stem

from .rounding import V1_ROUND_LIMIT, round_filters, round_repeats

__all__ = [
    "EFFICIENTNET_TABLE",
    "RESOLUTION_DIVISOR",
    "Coefficients",
    "efficientnet_family",
    "flops_product",
    "scale",
    "scaled_resolution",
]

RESOLUTION_DIVISOR = 8
"""Scaled input sizes are rounded to the nearest multiple of 8 (at least 8), as the
accelerators that run these networks prefer; the published B1-B7 sizes are hand-picked and
come from the table instead (TPU ``efficientnet_builder.efficientnet_params``)."""


def flops_product(alpha: float, beta: float, gamma: float) -> float:
    """``alpha * beta**2 * gamma**2``: the FLOPs growth of one compound-scaling step (P1 Eq. 3).

    FLOPs grow linearly with depth and quadratically with width and resolution.
    """
    return alpha * beta * beta * gamma * gamma


def scaled_resolution(resolution: int, factor: float, *, divisor: int = RESOLUTION_DIVISOR) -> int:
    """``resolution * factor`` rounded to the nearest multiple of ``divisor`` (at least ``divisor``).

    Deployment resolutions use ``RESOLUTION_DIVISOR``; a proxy's small images use ``divisor=1``
    (the nearest pixel), where rounding to 8 would distort the ratio.
    """
    if not factor > 0:
        raise ValueError(f"factor: must be > 0, got {factor}")
    return max(divisor, round(resolution * factor / divisor) * divisor)


@dataclass(frozen=True)
class Coefficients:
    """One row of the scaling table: width and depth multipliers, resolution, dropout."""

    width: float
    depth: float
    resolution: int
    dropout: float


EFFICIENTNET_TABLE: dict[str, Coefficients] = {
    # TPU ``efficientnet_builder.efficientnet_params``; hand-rounded, not alpha**phi.
    "efficientnet-b0": Coefficients(1.0, 1.0, 224, 0.2),
    "efficientnet-b1": Coefficients(1.0, 1.1, 240, 0.2),
    "efficientnet-b2": Coefficients(1.1, 1.2, 260, 0.3),
    "efficientnet-b3": Coefficients(1.2, 1.4, 300, 0.3),
    "efficientnet-b4": Coefficients(1.4, 1.8, 380, 0.4),
    "efficientnet-b5": Coefficients(1.6, 2.2, 456, 0.4),
    "efficientnet-b6": Coefficients(1.8, 2.6, 528, 0.5),
    "efficientnet-b7": Coefficients(2.0, 3.1, 600, 0.5),
}


def scale(
    arch: Architecture,
    *,
    width: float = 1.0,
    depth: float = 1.0,
    resolution: int | None = None,
    dropout: float | None = None,
    name: str | None = None,
    round_limit: float = V1_ROUND_LIMIT,
) -> Architecture:
    """Scale every stage's channels by ``width`` and repeats by ``depth``.

    Stem and head are scaled too (TPU ``round_filters(32)`` / ``round_filters(1280)``).
    ``resolution`` is the new absolute input size; ``None`` keeps the base's.
    Use ``round_limit=V2_ROUND_LIMIT`` for EfficientNetV2 bases.
    """
    if resolution is not None and resolution < 1:
        raise ValueError(f"resolution: must be >= 1, got {resolution}")
    stages = tuple(
        dataclasses.replace(
            s,
            channels=round_filters(s.channels, width, round_limit=round_limit),
            repeats=round_repeats(s.repeats, depth),
        )
        for s in arch.stages
    )
    return dataclasses.replace(
        arch,
        name=arch.name if name is None else name,
        resolution=arch.resolution if resolution is None else resolution,
        stem=Stem(round_filters(arch.stem.channels, width, round_limit=round_limit)),
        stages=stages,
        head=Head(round_filters(arch.head.channels, width, round_limit=round_limit)),
        dropout=arch.dropout if dropout is None else dropout,
    )


def efficientnet_family(base: Architecture) -> list[Architecture]:
    """B0-B7 from ``base`` with the published table, named ``efficientnet-bN``.

    The table is TPU ``efficientnet_builder.efficientnet_params``.
    """
    return [
        scale(base, width=c.width, depth=c.depth, resolution=c.resolution, dropout=c.dropout, name=name)
        for name, c in EFFICIENTNET_TABLE.items()
    ]
