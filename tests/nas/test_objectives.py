"""Reward formulas and directions, on a table of cases (reference §3.2)."""

from __future__ import annotations

import math

import pytest
from optuna.study import StudyDirection

from nas.objectives import (
    MNAS_HARD,
    MNAS_SOFT,
    TRAINING_AWARE,
    Objective,
    is_feasible,
    mnas_reward,
    training_aware_reward,
)

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


TRAINING_AWARE_CASES = [
    # (accuracy, S, P, w, v, expected): S and P are ratios against the base (P2 §3.3)
    (0.8, 1.0, 1.0, *TRAINING_AWARE, 0.8),  # the base itself: the accuracy
    (0.8, 2.0, 1.0, *TRAINING_AWARE, 0.8 * 2**-0.07),  # twice as slow to train: ~4.7% less
    (0.8, 1.0, 2.0, *TRAINING_AWARE, 0.8 * 2**-0.05),  # twice the params: ~3.4% less
    (0.8, 0.5, 0.5, *TRAINING_AWARE, 0.8 * 0.5**-0.07 * 0.5**-0.05),  # faster and smaller: a bonus
    (0.8, 2.0, 2.0, 0.0, 0.0, 0.8),  # exponents 0: accuracy alone
    (0.6, 1.5, 0.8, -0.1, -0.2, 0.6 * 1.5**-0.1 * 0.8**-0.2),  # custom exponents
    (0.0, 3.0, 3.0, *TRAINING_AWARE, 0.0),
]


@pytest.mark.parametrize(("acc", "s", "p", "w", "v", "expected"), TRAINING_AWARE_CASES)
def test_training_aware_reward_table(acc, s, p, w, v, expected):
    assert training_aware_reward(acc, s, p, w=w, v=v) == pytest.approx(expected, rel=1e-12)


def test_training_aware_objective():
    objective = Objective("training_aware")
    assert (objective.w, objective.v) == (-0.07, -0.05) and objective.single
    assert objective.directions == [StudyDirection.MAXIMIZE]
    # the cost and target are not part of the reward: S and P are
    assert objective.values(0.8, 123.0, None, step_ratio=2.0, param_ratio=1.0) == [pytest.approx(0.8 * 2**-0.07)]
    assert not objective.skips(1e12, None)
    with pytest.raises(ValueError, match="needs step_ratio and param_ratio"):
        objective.values(0.8, 1.0, None)
    assert math.isnan(training_aware_reward(math.nan, 1.0, 1.0, w=-0.07, v=-0.05))
    with pytest.raises(ValueError, match=r"step_ratio: must be > 0, got 0\.0"):
        training_aware_reward(0.8, 0.0, 1.0, w=-0.07, v=-0.05)
