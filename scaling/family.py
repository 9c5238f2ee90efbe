"""Model families: phi = 0..N from compound coefficients, or the published B0-B7 table.

``d = alpha**phi``, ``w = beta**phi``, ``r = r0 * gamma**phi`` (P1 §3.3 Eq. 3); the resolution
is rounded by ``scaled_resolution`` (the nearest multiple of 8), channels and repeats by the
rules of ``rounding.py``. The official B1-B7 do not follow ``alpha**phi`` (TPU
``efficientnet_builder.efficientnet_params``), so ``table_family`` reproduces them from the stored table instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from search_spaces import Architecture, count_flops, count_params

from .compound import EFFICIENTNET_TABLE, Coefficients, scale, scaled_resolution
from .rounding import V1_ROUND_LIMIT

__all__ = ["FAMILY_FORMAT", "FamilyMember", "compound_family", "family_manifest", "table_family"]

FAMILY_FORMAT = "effnas.family/1"


@dataclass(frozen=True)
class FamilyMember:
    """One scaled model and the multipliers that made it."""

    name: str
    phi: int
    width: float
    depth: float
    resolution: int
    arch: Architecture


def compound_family(
    base: Architecture,
    *,
    alpha: float,
    beta: float,
    gamma: float,
    phi: int,
    round_limit: float = V1_ROUND_LIMIT,
) -> list[FamilyMember]:
    """Members phi = 0..``phi`` of ``base`` scaled by depth alpha**phi, width beta**phi, resolution gamma**phi."""
    for name, value in (("alpha", alpha), ("beta", beta), ("gamma", gamma)):
        if not value >= 1.0:
            raise ValueError(f"{name}: must be >= 1, got {value}")
    if phi < 0:
        raise ValueError(f"phi: must be >= 0, got {phi}")
    members = []
    for p in range(phi + 1):
        depth, width = alpha**p, beta**p
        resolution = scaled_resolution(base.resolution, gamma**p)
        name = f"{base.name}-phi{p}"
        arch = scale(base, width=width, depth=depth, resolution=resolution, name=name, round_limit=round_limit)
        members.append(FamilyMember(name, p, width, depth, resolution, arch))
    return members


def table_family(base: Architecture, table: dict[str, Coefficients] | None = None) -> list[FamilyMember]:
    """The published EfficientNet family (the B0-B7 table of TPU ``efficientnet_params``) applied to ``base``.

    Members are named after the table (``efficientnet-b3``) when the base is B0 itself, and
    ``BASE-b3`` otherwise.
    """
    rows = EFFICIENTNET_TABLE if table is None else table
    members = []
    for p, (row_name, c) in enumerate(rows.items()):
        suffix = row_name.rsplit("-", 1)[-1]
        name = row_name if base.name == "efficientnet-b0" else f"{base.name}-{suffix}"
        arch = scale(base, width=c.width, depth=c.depth, resolution=c.resolution, dropout=c.dropout, name=name)
        members.append(FamilyMember(name, p, c.width, c.depth, c.resolution, arch))
    return members


def family_manifest(
    members: list[FamilyMember],
    *,
    source: dict[str, Any],
    num_classes: int = 1000,
    accuracy: dict[str, float] | None = None,
) -> dict[str, Any]:
    """The manifest (``family.json``): the source, and per member its multipliers, params and
    FLOPs at its own resolution, the FLOPs ratio against the previous member as measured
    after rounding, its file name, and its proxy accuracy where it was trained (by name)."""
    accuracy = accuracy or {}
    rows: list[dict[str, Any]] = []
    previous: int | None = None
    for m in members:
        flops = count_flops(m.arch, num_classes=num_classes)
        rows.append({
            "name": m.name, "phi": m.phi, "width": m.width, "depth": m.depth, "resolution": m.resolution,
            "params": count_params(m.arch, num_classes=num_classes), "flops": flops,
            "flops_ratio": None if previous is None else flops / previous, "file": f"{m.name}.json",
            "proxy_accuracy": accuracy.get(m.name),
        })  # fmt: skip
        previous = flops
    return {"format": FAMILY_FORMAT, **source, "num_classes": num_classes, "members": rows}
