"""The alpha, beta, gamma grid: the candidate set, rounding to a scaled resolution, the best row."""

from __future__ import annotations

import itertools

import pytest

from scaling.grid import GridRow, best_row, grid_candidates
from search_spaces import count_flops, load_architecture


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


def test_land_candidate_moves_resolution_until_the_measured_ratio_lands():
    from scaling.grid import GridSkip, land_candidate, scale_candidate

    b0 = load_architecture("efficientnet-b0")
    base_flops = count_flops(b0, num_classes=1000)

    def land(candidate, tolerance=0.1):
        return land_candidate(b0, candidate, num_classes=1000, target=2.0, tolerance=tolerance)

    assert land((1.0, 1.0, 1.4)).resolution == scale_candidate(b0, (1.0, 1.0, 1.4)).resolution == 312  # x2.004
    # width 1.3 at its nominal 248 px overshoots; 240 px lands (x2.03)
    assert scale_candidate(b0, (1.0, 1.3, 1.1)).resolution == 248 and land((1.0, 1.3, 1.1)).resolution == 240
    with pytest.raises(GridSkip, match=r"FLOPs ratio 2\.379 already at the base's 224 px: no size lands in 2 ± 0\.1"):
        land((1.05, 1.25, 1.1))  # width rounding alone overshoots; gamma may not go below 1
    with pytest.raises(GridSkip, match=r"1\.894 at 288 px and 2\.154 at 296 px"):
        land((1.0, 1.1, 1.3))  # one 8 px step jumps over the band
    assert land((1.0, 1.1, 1.3), tolerance=None).resolution == 288  # none: the nominal size
    landed = 0
    for candidate in grid_candidates():
        try:
            arch = land(candidate)
        except GridSkip:
            continue
        landed += 1
        assert abs(count_flops(arch, num_classes=1000) / base_flops - 2) <= 0.1 and arch.resolution % 8 == 0
    assert landed == 25  # of the 54 default grid points, at B0 and 1000 classes
