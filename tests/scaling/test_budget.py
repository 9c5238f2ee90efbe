"""Fitting to a budget with one width multiplier, and the naive baseline (B0 so fitted)."""

from __future__ import annotations

import pytest

from scaling import FitError, fit_to_budget, scale, scale_to_budget
from search_spaces import count_flops, count_params, load_architecture

B0 = load_architecture("efficientnet-b0")


@pytest.mark.parametrize("budget", [25e6, 55e6, 100e6, 400e6, 1e9])
def test_largest_width_within_a_flops_budget(budget):
    naive = scale_to_budget(B0, budget, resolution=224, num_classes=1000)
    assert naive.cost == count_flops(naive.arch, resolution=224, num_classes=1000) <= budget
    wider = count_flops(scale(B0, width=naive.width + 0.001), resolution=224, num_classes=1000)
    assert wider > budget or naive.width == 16.0  # a thousandth wider crosses the budget
    assert [s.repeats for s in naive.arch.stages] == [s.repeats for s in B0.stages]  # depth is kept


def test_params_budget_and_bad_budgets():
    naive = scale_to_budget(B0, 2e6, metric="params", num_classes=10)
    assert naive.cost == count_params(naive.arch, num_classes=10) <= 2e6
    with pytest.raises(ValueError, match="metric: must be flops or params"):
        scale_to_budget(B0, 1e8, metric="latency_ms")
    with pytest.raises(ValueError, match="is below efficientnet-b0 at its narrowest"):
        scale_to_budget(B0, 1e6, resolution=224)


def test_fit_lands_in_the_band_or_says_why():
    small = load_architecture("efficientnet-b0")
    fit = fit_to_budget(small, 100e6, lower=0.9, resolution=224, num_classes=1000)
    assert 90e6 <= fit.cost <= 100e6 and fit.cost_before == count_flops(small, resolution=224, num_classes=1000)
    assert fit.arch.name == f"efficientnet-b0-w{fit.width:g}"
    # a band that no channel step falls in cannot be landed in: such a candidate is not trained
    narrowest = count_flops(scale(small, width=0.01), resolution=224, num_classes=1000)
    with pytest.raises(FitError, match="below 1 x budget"):
        fit_to_budget(small, narrowest + 1, lower=1.0, resolution=224, num_classes=1000)
    with pytest.raises(FitError, match="at the narrowest widths, over the budget"):
        fit_to_budget(small, 1e6, resolution=224)
    with pytest.raises(ValueError, match="lower: must be in"):
        fit_to_budget(small, 1e8, lower=1.5)
