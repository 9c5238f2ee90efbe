"""Model families: phi = 0..N from compound coefficients, or the published B0-B7 table.

``d = alpha**phi``, ``w = beta**phi``, ``r = r0 * gamma**phi`` (P1 §3.3 Eq. 3); the resolution
is rounded to the nearest multiple of 8 (``resolution_divisor``), channels and repeats by the
rules of ``rounding.py``. The official B1-B7 do not follow ``alpha**phi`` (reference §2.1),
so ``table_family`` reproduces them from the stored table instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from search_spaces import Architecture, count_flops, count_params, dumps_architecture

from .compound import EFFICIENTNET_TABLE, Coefficients, scale
from .rounding import V1_ROUND_LIMIT

__all__ = ["FAMILY_FORMAT", "FamilyMember", "compound_family", "table_family", "write_family"]

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


def _round_resolution(value: float, divisor: int) -> int:
    return max(divisor, round(value / divisor) * divisor)


def compound_family(
    base: Architecture,
    *,
    alpha: float,
    beta: float,
    gamma: float,
    phi: int,
    resolution_divisor: int = 8,
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
        resolution = _round_resolution(base.resolution * gamma**p, resolution_divisor)
        name = f"{base.name}-phi{p}"
        arch = scale(base, width=width, depth=depth, resolution=resolution, name=name, round_limit=round_limit)
        members.append(FamilyMember(name, p, width, depth, resolution, arch))
    return members


def table_family(base: Architecture, table: dict[str, Coefficients] | None = None) -> list[FamilyMember]:
    """The published EfficientNet family (B0-B7 table, reference §2.1) applied to ``base``.

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


def write_family(
    members: list[FamilyMember],
    out_dir: Path,
    *,
    source: dict[str, Any],
    num_classes: int = 1000,
    accuracy: dict[str, float] | None = None,
) -> dict[str, Any]:
    """One architecture JSON per member, ``family.json`` (the manifest) and ``family.png``.

    The manifest records, per member, params and FLOPs at its own resolution and the FLOPs
    ratio against the previous member, as measured after rounding. ``accuracy`` (by member
    name) is the proxy accuracy of members that were trained; it is recorded and plotted
    against FLOPs.
    """
    accuracy = accuracy or {}
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    previous: int | None = None
    for m in members:
        file = f"{m.name}.json"
        (out_dir / file).write_text(dumps_architecture(m.arch), encoding="utf-8")
        flops = count_flops(m.arch, num_classes=num_classes)
        rows.append({
            "name": m.name, "phi": m.phi, "width": m.width, "depth": m.depth, "resolution": m.resolution,
            "params": count_params(m.arch, num_classes=num_classes), "flops": flops,
            "flops_ratio": None if previous is None else flops / previous, "file": file,
            "proxy_accuracy": accuracy.get(m.name),
        })  # fmt: skip
        previous = flops
    manifest = {"format": FAMILY_FORMAT, **source, "num_classes": num_classes, "members": rows}
    (out_dir / "family.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    _plot(out_dir / "family.png", rows, title=str(source.get("base", "family")))
    return manifest


def _plot(path: Path, rows: list[dict[str, Any]], *, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    phis = [r["phi"] for r in rows]
    trained = [r for r in rows if r["proxy_accuracy"] is not None]
    fig, axes = plt.subplots(1, 2 if trained else 1, figsize=(11 if trained else 6.5, 4), squeeze=False)
    ax = axes[0][0]
    ax.semilogy(phis, [r["flops"] / 1e9 for r in rows], "o-", label="FLOPs (G multiply-adds)")
    ax.semilogy(phis, [r["params"] / 1e6 for r in rows], "s-", label="params (M)")
    ax.set_xlabel("phi")
    ax.set_title(f"family of {title}")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    if trained:
        acc = axes[0][1]
        acc.plot([r["flops"] / 1e9 for r in trained], [100 * r["proxy_accuracy"] for r in trained], "o-")
        for r in trained:
            acc.annotate(f"phi {r['phi']}", (r["flops"] / 1e9, 100 * r["proxy_accuracy"]), fontsize=8)
        acc.set_xscale("log")
        acc.set_xlabel("FLOPs (G multiply-adds)")
        acc.set_ylabel("proxy accuracy (%)")
        acc.set_title("trained members")
        acc.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
