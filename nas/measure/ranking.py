"""Rank correlations between two scorings of the same candidates.

Kendall's tau-a (the share of concordant minus discordant pairs) and Spearman's rho (the
Pearson correlation of the ranks, ties given their mean rank): how well a cheap estimate
orders candidates as a costlier one does (NAS-Bench-201's zero-cost study reports both).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

__all__ = ["kendall_tau", "seed_agreement", "spearman_rho"]


def kendall_tau(a: list[float], b: list[float]) -> float:
    """Kendall's tau-a between two score lists of the same candidates (1: same order; 1 for < 2 candidates)."""

    def sign(x: float) -> int:
        return (x > 0) - (x < 0)

    n = len(a)
    pairs = n * (n - 1) // 2
    agree = sum(sign(a[i] - a[j]) * sign(b[i] - b[j]) for i in range(n) for j in range(i + 1, n))
    return agree / pairs if pairs else 1.0


def spearman_rho(a: list[float], b: list[float]) -> float:
    """Spearman's rho (``scipy.stats.spearmanr``); NaN where either list is constant or shorter than 2."""
    if len(a) < 2 or len(set(a)) < 2 or len(set(b)) < 2:
        return float("nan")
    return float(stats.spearmanr(np.asarray(a), np.asarray(b)).statistic)


def seed_agreement(networks: list[dict[str, Any]], column: str = "test") -> dict[str, float] | None:
    """Kendall's tau and Spearman's rho between a ground-truth table's first two seeds.

    ``networks`` are table rows whose ``column`` lists one accuracy per seed; those trained
    with at least two seeds count. How well one full training run ranks the networks
    against another: the ceiling of any estimator scored against their mean. None with
    under 3 such networks.
    """
    both = [n[column][:2] for n in networks if len(n.get(column) or []) >= 2]
    if len(both) < 3:
        return None
    first, second = [t[0] for t in both], [t[1] for t in both]
    return {"tau": kendall_tau(first, second), "rho": spearman_rho(first, second), "n": len(both)}
