"""Writing a family directory: one architecture JSON per member, ``family.json`` and ``family.png``."""

from __future__ import annotations

import json
from typing import Any

from nas.progress import plottable
from scaling.family import FamilyMember, family_manifest
from search_spaces import dumps_architecture
from search_spaces.files import OutputDir, OutputError, name_problem, printable

__all__ = ["write_family"]


def write_family(
    members: list[FamilyMember],
    out: OutputDir,
    *,
    source: dict[str, Any],
    num_classes: int = 1000,
    accuracy: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Write each member and the manifest (``scaling.family.family_manifest``) into ``out``,
    with ``family.png``: FLOPs and params per phi, and accuracy against FLOPs for trained members.

    A member's file is named after it; its name is checked as a name first (an
    architecture name is validated where it is read, and this is the last line of defence).
    """
    manifest = family_manifest(members, source=source, num_classes=num_classes, accuracy=accuracy)
    for m, row in zip(members, manifest["members"], strict=True):
        problem = name_problem(m.name)
        if problem is not None:
            raise OutputError(f"family member name {printable(repr(m.name), limit=80)}: {problem}")
        out.write(row["file"], dumps_architecture(m.arch))
    out.write("family.json", json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    _plot(out, manifest["members"], title=str(source.get("base", "family")))
    return manifest


def _plot(out: OutputDir, rows: list[dict[str, Any]], *, title: str) -> None:
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
    ax.set_title(plottable(f"family of {title}"))
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
    out.write_with("family.png", lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)
