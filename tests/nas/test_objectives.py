"""Reward formulas and directions, on a table of cases (reference §3.2)."""

from __future__ import annotations

import math

import pytest
from optuna.study import StudyDirection

from nas.objectives import MNAS_HARD, MNAS_SOFT, Objective, is_feasible, mnas_reward

T = 100e6

CASES = [
    # (accuracy, cost, alpha, beta, expected)
    (0.8, T, *MNAS_SOFT, 0.8),  # at the target: the accuracy itself
    (0.8, 2 * T, *MNAS_SOFT, 0.8 * 2**-0.07),  # twice the cost: ~4.7% less
    (0.8, T / 2, *MNAS_SOFT, 0.8 * 0.5**-0.07),  # half the cost: a small bonus (soft)
    (0.5, 80e6, *MNAS_SOFT, 0.5 * 0.8**-0.07),  # MnasNet Fig. 3: T = 80, ACC 0.5
    (0.8, T / 2, *MNAS_HARD, 0.8),  # hard: no bonus under the target
    (0.8, T, *MNAS_HARD, 0.8),  # hard: the tie at the target counts as feasible
    (0.8, 2 * T, *MNAS_HARD, 0.4),  # hard: ACC * T / COST above it
    (0.8, 1.5 * T, 0.0, -0.2, 0.8 * 1.5**-0.2),  # custom
    (0.0, 2 * T, *MNAS_SOFT, 0.0),
    (0.8, math.inf, *MNAS_HARD, 0.0),  # infinite cost: nothing left
]


@pytest.mark.parametrize(("acc", "cost", "alpha", "beta", "expected"), CASES)
def test_mnas_reward_table(acc, cost, alpha, beta, expected):
    assert mnas_reward(acc, cost, T, alpha=alpha, beta=beta) == pytest.approx(expected, rel=1e-12)


def test_calibration_doubling_costs_five_percent():
    # 1.05 * 2**beta ~ 1 (MnasNet §3): doubling the cost is worth ~5% relative accuracy.
    assert 1.05 * 2 ** MNAS_SOFT[1] == pytest.approx(1.0, abs=0.002)


def test_nan_and_invalid():
    assert math.isnan(mnas_reward(math.nan, T, T, alpha=-0.07, beta=-0.07))
    with pytest.raises(ValueError, match="target"):
        mnas_reward(0.5, T, 0.0, alpha=-0.07, beta=-0.07)
    with pytest.raises(ValueError, match="cost"):
        mnas_reward(0.5, -1.0, T, alpha=-0.07, beta=-0.07)


def test_objective_directions_values_and_skips():
    soft = Objective("mnas", *MNAS_SOFT)
    hard = Objective("mnas", *MNAS_HARD, hard=True)
    pareto = Objective("pareto")
    assert soft.directions == [StudyDirection.MAXIMIZE]
    assert pareto.directions == [StudyDirection.MAXIMIZE, StudyDirection.MINIMIZE]
    assert soft.values(0.8, 2 * T, T) == [pytest.approx(0.8 * 2**-0.07)]
    assert pareto.values(0.8, 2 * T, T) == [0.8, 2 * T]
    assert hard.skips(2 * T, T) and not hard.skips(T, T) and not soft.skips(2 * T, T)
    assert is_feasible(T, T) and not is_feasible(T + 1, T) and is_feasible(1e12, None)
    with pytest.raises(ValueError, match="needs a budget"):
        soft.values(0.8, T, None)
