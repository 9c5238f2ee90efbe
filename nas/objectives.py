"""Search objectives: each reward formula and each direction is defined here, once.

- ``mnas``: ``ACC * (COST / T) ** w`` with ``w = alpha`` if ``COST <= T`` else ``beta``
  (MnasNet Eq. 2, reference §3.2). Soft: alpha = beta = -0.07 (doubling the cost is worth
  about 5% relative accuracy: 1.05 * 2**beta ~ 1). Hard: alpha = 0, beta = -1. EfficientNet
  used the soft form with COST = FLOPs and T = 400M (P1 §4).
- ``pareto``: maximize accuracy and minimize cost; a budget, if any, is a constraint
  ``cost - T <= 0`` (Optuna's ``trial.set_constraint``).
- ``training_aware``: ``A * S**w * P**v`` (EfficientNetV2 §3.3, reference §4.2), with S the
  measured training step time and P the parameter count, both normalized by the base
  network's; w = -0.07 and v = -0.05 by default.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from optuna.study import StudyDirection

__all__ = ["MNAS_HARD", "MNAS_SOFT", "TRAINING_AWARE", "Objective", "is_feasible", "mnas_reward",
           "training_aware_reward"]  # fmt: skip

MNAS_SOFT = (-0.07, -0.07)
MNAS_HARD = (0.0, -1.0)
TRAINING_AWARE = (-0.07, -0.05)  # (w, v) of P2 §3.3


def mnas_reward(accuracy: float, cost: float, target: float, *, alpha: float, beta: float) -> float:
    """``accuracy * (cost / target) ** (alpha if cost <= target else beta)``.

    NaN accuracy gives NaN; a non-positive cost or target is an error (the ratio must be
    positive); an infinite cost gives 0 for a negative exponent.
    """
    if not target > 0:
        raise ValueError(f"target: must be > 0, got {target}")
    if not cost > 0:
        raise ValueError(f"cost: must be > 0, got {cost}")
    if math.isnan(accuracy):
        return math.nan
    exponent = alpha if cost <= target else beta
    return accuracy * (cost / target) ** exponent


def training_aware_reward(accuracy: float, step_ratio: float, param_ratio: float, *, w: float, v: float) -> float:
    """``accuracy * step_ratio**w * param_ratio**v`` (ratios against the base network).

    NaN accuracy gives NaN; a non-positive ratio is an error.
    """
    for name, value in (("step_ratio", step_ratio), ("param_ratio", param_ratio)):
        if not value > 0:
            raise ValueError(f"{name}: must be > 0, got {value}")
    if math.isnan(accuracy):
        return math.nan
    return accuracy * step_ratio**w * param_ratio**v


def is_feasible(cost: float, target: float | None) -> bool:
    """Within budget (no budget: always)."""
    return target is None or cost <= target


@dataclass(frozen=True)
class Objective:
    """What a search optimizes, and in which directions.

    ``kind`` is ``mnas`` or ``training_aware`` (one reward, maximized) or ``pareto``
    (accuracy maximized, cost minimized). ``hard`` is the hard-constraint MnasNet form
    (alpha = 0, beta = -1, Eq. 1: maximize ACC subject to COST <= T): a candidate over budget
    is not trained, and its reward is 0, below every feasible one. ``w`` and ``v`` are the
    training-aware exponents.
    """

    kind: str
    alpha: float = MNAS_SOFT[0]
    beta: float = MNAS_SOFT[1]
    hard: bool = False
    w: float = TRAINING_AWARE[0]
    v: float = TRAINING_AWARE[1]

    @property
    def single(self) -> bool:
        """One scalar reward (``mnas``, ``training_aware``), as opposed to a Pareto front."""
        return self.kind != "pareto"

    @property
    def directions(self) -> list[StudyDirection]:
        """The one place directions are decided: reward up; or accuracy up, cost down."""
        if self.single:
            return [StudyDirection.MAXIMIZE]
        return [StudyDirection.MAXIMIZE, StudyDirection.MINIMIZE]

    def values(
        self,
        accuracy: float,
        cost: float,
        target: float | None,
        *,
        step_ratio: float | None = None,
        param_ratio: float | None = None,
    ) -> list[float]:
        """The objective values of one trial, in the order of ``directions``.

        ``step_ratio`` and ``param_ratio`` (against the base) are read by ``training_aware`` only.
        """
        if self.kind == "pareto":
            return [accuracy, cost]
        if self.kind == "training_aware":
            if step_ratio is None or param_ratio is None:
                raise ValueError("objective training_aware: needs step_ratio and param_ratio")
            return [training_aware_reward(accuracy, step_ratio, param_ratio, w=self.w, v=self.v)]
        if target is None:
            raise ValueError("objective mnas: needs a budget (target.flops, target.params or target.latency_ms)")
        return [mnas_reward(accuracy, cost, target, alpha=self.alpha, beta=self.beta)]

    def skips(self, cost: float, target: float | None) -> bool:
        """Whether a candidate is scored without training (hard form, over budget)."""
        return self.hard and not is_feasible(cost, target)
