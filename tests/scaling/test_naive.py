"""The naive baseline: B0 scaled uniformly to a budget, the largest width within it."""

from __future__ import annotations

import pytest

from scaling import scale, scale_to_budget
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
