"""How much of a ground-truth ranking is the recipe's: Kendall tau between two tables of one pool.

``ground_truth.py`` trains the same pool of networks under the project's recipe (each
architecture's dropout and drop-path) and, with ``--recipe plain``, under a plain one
(neither). Where the two rank the networks alike, a ranking is the architectures'; where
they do not, it is partly the recipe's, and a proxy chosen against one table need not
rank like the other. Networks are matched by name (the pool is seeded, so the names are
the same networks). Printed for the whole pool and its equal-budget part, with each
table's own seed-to-seed tau beside it (the ceiling of any agreement).

Usage: ``python experiments/benchmarks/recipe_agreement.py
[--tables experiments/data/ground_truth_fashion_mnist.json,experiments/data/ground_truth_fashion_mnist_plain.json]
[--out experiments/data/recipe_agreement_fashion_mnist.json]``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from nas import journal
from nas.measure.ranking import kendall_tau, seed_agreement

DEFAULT_TABLES = ("experiments/data/ground_truth_fashion_mnist.json,"
                  "experiments/data/ground_truth_fashion_mnist_plain.json")  # fmt: skip


def agreement(first: list[dict[str, Any]], second: list[dict[str, Any]], column: str = "mean") -> dict[str, Any]:
    """Kendall tau between two tables' ``column`` over the networks both have, by name."""
    other = {n["name"]: n for n in second if n.get(column) is not None}
    pairs = [(n[column], other[n["name"]][column]) for n in first if n.get(column) is not None and n["name"] in other]
    if len(pairs) < 3:
        return {"tau": None, "n": len(pairs)}
    return {"tau": kendall_tau([a for a, _ in pairs], [b for _, b in pairs]), "n": len(pairs)}


def _tau(agreement: dict[str, float] | None) -> float | None:
    return None if agreement is None else agreement["tau"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", default=DEFAULT_TABLES, help="two ground-truth tables, comma-separated")
    parser.add_argument("--out", help="also write the figures to this JSON file")
    args = parser.parse_args()
    paths = args.tables.split(",")
    if len(paths) != 2:
        raise SystemExit(f"--tables: two files, got {len(paths)}")
    first, second = (json.loads(Path(p).read_text()) for p in paths)
    parts = {"all": lambda n: True, "equal budget": lambda n: n["group"] in ("budget", "naive")}
    out: dict[str, Any] = {"tables": paths, "recipes": [first.get("recipe"), second.get("recipe")],
                           "complete": [first.get("complete"), second.get("complete")]}  # fmt: skip
    for part, keep in parts.items():
        a = [n for n in first["networks"] if keep(n)]
        b = [n for n in second["networks"] if keep(n)]
        out[part] = {"test": agreement(a, b), "seed_tau": [_tau(seed_agreement(a)), _tau(seed_agreement(b))]}
        t = out[part]["test"]
        tau = "-" if t["tau"] is None else f"{t['tau']:.2f}"
        ceilings = ", ".join("-" if s is None else f"{s:.2f}" for s in out[part]["seed_tau"])
        print(f"{part}: tau between the two recipes' mean test accuracy {tau} over {t['n']} networks "
              f"(each table's seed 0 against seed 1: {ceilings})")  # fmt: skip
    if args.out:
        journal.write_data(args.out, out)


if __name__ == "__main__":
    main()
