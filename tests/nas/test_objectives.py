"""Reward formulas and directions, on a table of cases (MnasNet, PM Eq. 2; EfficientNetV2, P2 §3.3)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
from optuna.study import StudyDirection

from nas.objectives import (
    MNAS_HARD,
    MNAS_SOFT,
    TRAINING_AWARE,
    Objective,
    absolute_reward,
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
    soft = Objective("mnas", T, *MNAS_SOFT)
    hard = Objective("mnas", T, *MNAS_HARD, hard=True)
    pareto = Objective("pareto", T)
    assert soft.directions == [StudyDirection.MAXIMIZE] and soft.modes == ["max"]
    assert pareto.directions == [StudyDirection.MAXIMIZE, StudyDirection.MINIMIZE] and pareto.modes == ["max", "min"]
    assert soft.values(0.8, {"cost": 2 * T}) == [pytest.approx(0.8 * 2**-0.07)]
    assert pareto.values(0.8, {"cost": 2 * T}) == [0.8, 2 * T]
    assert hard.skips(2 * T) and not hard.skips(T) and not soft.skips(2 * T)
    assert pareto.constraint(2 * T) == T and soft.constraint(2 * T) is None
    assert Objective("pareto").constraint(2 * T) is None
    assert is_feasible(T, T) and not is_feasible(T + 1, T) and is_feasible(1e12, None)
    assert (soft.score_key, pareto.score_key) == ("reward", "accuracy")
    assert (soft.describe(), hard.describe()) == ("soft", "hard")
    with pytest.raises(ValueError, match="needs a budget"):
        Objective("mnas").values(0.8, {"cost": T})
    with pytest.raises(ValueError, match="kind: must be"):
        Objective("max")
    with pytest.raises(ValueError, match="budget: must be > 0"):
        Objective("mnas", 0.0)


@dataclass(frozen=True)
class Trial:
    """A finished trial as the objective sees it."""

    number: int
    user_attrs: dict


def trial(number: int, accuracy: float | None, cost: float, reward: float | None = None) -> Trial:
    return Trial(number, {"accuracy": accuracy, "cost": cost, "reward": reward})


def test_one_comparison_orders_trials_best_first():
    soft = Objective("mnas", T)
    trials = [trial(0, 0.8, T, 0.80), trial(1, 0.9, 2 * T, 0.86), trial(2, None, T, None),
              trial(3, 0.8, 0.5 * T, 0.86), trial(4, 0.7, T, 0.70)]  # fmt: skip
    # higher reward first; the tie between 1 and 3 goes to the cheaper; untrained trials are left out
    assert [t.number for t in soft.order(trials)] == [3, 1, 0, 4]
    assert soft.best(trials).number == 3 and [t.number for t in soft.candidates(trials, 2)] == [3, 1]
    assert soft.best([]) is None
    # ties in score and cost: the earlier trial
    assert soft.sort_key(0.5, T, 1) < soft.sort_key(0.5, T, 2) < soft.sort_key(0.4, 0.1, 0)


def test_hard_and_pareto_rank_feasible_trials_first():
    hard = Objective("mnas", T, *MNAS_HARD, hard=True)
    trials = [trial(0, 0.9, 2 * T, 0.95), trial(1, 0.8, T, 0.8)]  # an over-budget reward (not from hard) ranks last
    assert [t.number for t in hard.ranked(trials)] == [1, 0] and hard.candidates(trials, 5) == [trials[1]]
    pareto = Objective("pareto", T)
    points = [trial(0, 0.9, 2 * T), trial(1, 0.8, T), trial(2, 0.7, 1.5 * T), trial(3, 0.6, 0.5 * T)]
    # 2 is dominated by 1 (less accurate, costlier); the front is sorted by cost
    assert [t.number for t in pareto.front(points)] == [3, 1, 0]
    # best: the most accurate *feasible* member; verification takes feasible members only
    assert pareto.best(points).number == 1
    assert [t.number for t in pareto.candidates(points, 5)] == [1, 3]
    # with nothing feasible, best falls back to the front; verification has no candidates
    over = [trial(0, 0.9, 2 * T), trial(1, 0.8, 3 * T)]
    assert pareto.best(over).number == 0 and pareto.candidates(over, 5) == []
    assert Objective("pareto").best(over).number == 0  # no budget: nothing is infeasible


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
    assert (objective.w, objective.v) == (-0.07, -0.05) and objective.single and objective.uses_ratios
    assert objective.directions == [StudyDirection.MAXIMIZE]
    # the cost and target are not part of the reward: S and P are
    costs = {"cost": 123.0, "step_ratio": 2.0, "param_ratio": 1.0}
    assert objective.values(0.8, costs) == [pytest.approx(0.8 * 2**-0.07)]
    assert not objective.skips(1e12)
    with pytest.raises(ValueError, match="needs step_ratio and param_ratio"):
        objective.values(0.8, {"cost": 1.0})
    assert math.isnan(training_aware_reward(math.nan, 1.0, 1.0, w=-0.07, v=-0.05))
    with pytest.raises(ValueError, match=r"step_ratio: must be > 0, got 0\.0"):
        training_aware_reward(0.8, 0.0, 1.0, w=-0.07, v=-0.05)


ABS_CASES = [
    # (accuracy, cost, beta, expected): TuNAS's absolute reward, ACC + beta * |cost/T - 1|
    (0.8, T, -0.07, 0.8),  # at the target: the accuracy itself
    (0.8, 0.5 * T, -0.07, 0.8 - 0.035),  # half the budget costs as much as
    (0.8, 1.5 * T, -0.07, 0.8 - 0.035),  # half again over it: symmetric, unlike the soft reward
    (0.8, 2 * T, -0.5, 0.3),
    (0.8, 0.0, -0.07, 0.73),
]


@pytest.mark.parametrize(("acc", "cost", "beta", "expected"), ABS_CASES)
def test_absolute_reward_table(acc, cost, beta, expected):
    assert absolute_reward(acc, cost, T, beta=beta) == pytest.approx(expected, rel=1e-12)
    objective = Objective("mnas", T, beta=beta, absolute=True)
    assert objective.values(acc, {"cost": cost}) == [pytest.approx(expected, rel=1e-12)]


def test_absolute_reward_nan_and_errors():
    assert math.isnan(absolute_reward(math.nan, T, T, beta=-0.07))
    with pytest.raises(ValueError, match="target"):
        absolute_reward(0.8, T, 0.0, beta=-0.07)
    with pytest.raises(ValueError, match="cost"):
        absolute_reward(0.8, -1.0, T, beta=-0.07)
    assert Objective("mnas", T, beta=-0.1, absolute=True).describe() == "abs, ACC + -0.1 * |cost/T - 1|"
