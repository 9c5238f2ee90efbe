"""The alpha, beta, gamma grid: the candidate set, rounding to a scaled resolution, the best row."""

from __future__ import annotations

import itertools

import pytest

from scaling.grid import GridRow, best_row, grid_candidates


def test_candidates_are_exactly_the_constrained_grid_points():
    got = set(grid_candidates(step=0.05, tolerance=0.05))
    axis = [round(1 + 0.05 * i, 10) for i in range(21)]
    expected = {
        (a, b, g)
        for a, b, g in itertools.product(axis, axis[:11], axis[:11])
        if abs(a * b * b * g * g - 2) <= 0.05 + 1e-12
    }
    assert got == expected and len(got) == 54  # boundary points (product exactly 2 +- 0.05) included
    assert all(min(c) >= 1 for c in got)
    assert (1.2, 1.1, 1.15) not in got  # the paper's point has product 1.92: outside 0.05
    assert (1.2, 1.1, 1.15) in set(grid_candidates(step=0.05, tolerance=0.1))


def test_bad_grid_arguments():
    with pytest.raises(ValueError, match="step"):
        grid_candidates(step=0)
    with pytest.raises(ValueError, match="beta: range"):
        grid_candidates(beta=(0.5, 1.5))


def test_best_is_highest_accuracy_then_lower_flops():
    rows = [GridRow(1, 1, 1, 1, 1, 100, 1, 0.9, 1), GridRow(2, 1, 1, 2, 2, 50, 1, 0.9, 1),
            GridRow(1.5, 1, 1, 1.5, 1.5, 10, 1, 0.8, 1)]  # fmt: skip
    assert best_row(rows).flops == 50
