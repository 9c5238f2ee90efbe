"""Search objectives: each reward formula, each direction and the one comparison of trials.

- ``mnas``: ``ACC * (COST / T) ** w`` with ``w = alpha`` if ``COST <= T`` else ``beta``
  (MnasNet, PM Eq. 2). Soft: alpha = beta = -0.07 (doubling the cost is worth
  about 5% relative accuracy: 1.05 * 2**beta ~ 1). Hard: alpha = 0, beta = -1. EfficientNet
  used the soft form with COST = FLOPs and T = 400M (P1 §4).
- ``mnas`` with ``mode: abs``: TuNAS's absolute reward ``ACC + beta * |COST / T - 1|``
  with beta < 0 (Bender et al. 2020, arXiv 2008.06120, §4): any distance from the target
  costs, under it as much as over it, for budgets that cannot be fitted (latency, step
  time). TuNAS tunes beta per search space; effnas's default -0.07 reuses the magnitude of
  MnasNet's soft exponent.
- ``pareto``: maximize accuracy and minimize cost; a budget, if any, is a constraint
  ``cost - T <= 0`` (Optuna's ``trial.set_constraint``).
- ``training_aware``: ``A * S**w * P**v`` (EfficientNetV2, P2 §3.3), with S the
  measured training step time and P the parameter count, both normalized by the base
  network's; w = -0.07 and v = -0.05 by default.

``Objective`` owns its budget. Every question of the form "which trial is better", "is it
within budget" or "what does the study maximize" is answered here: the best trial, the
Pareto set, the verification ranking, the report's order, progress lines and the Ray
metric modes all ask an ``Objective``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from optuna.study import StudyDirection

__all__ = [
    "ABS_BETA",
    "FITTED_OBJECTIVES",
    "KINDS",
    "MNAS_HARD",
    "MNAS_SOFT",
    "TRAINING_AWARE",
    "Objective",
    "Record",
    "absolute_reward",
    "is_feasible",
    "mnas_reward",
    "training_aware_reward",
]

MNAS_SOFT = (-0.07, -0.07)
MNAS_HARD = (0.0, -1.0)
TRAINING_AWARE = (-0.07, -0.05)  # (w, v) of P2 §3.3
ABS_BETA = -0.07
KINDS = ("mnas", "pareto", "training_aware")
# The one-reward objectives whose candidates a FLOPs or params budget is fitted into ([lower T, T]):
# not pareto, whose front needs costs to vary.
FITTED_OBJECTIVES = ("mnas", "training_aware")


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


def absolute_reward(accuracy: float, cost: float, target: float, *, beta: float) -> float:
    """``accuracy + beta * |cost / target - 1|`` (TuNAS's absolute reward; beta < 0).

    NaN accuracy gives NaN; a non-positive target or a negative cost is an error.
    """
    if not target > 0:
        raise ValueError(f"target: must be > 0, got {target}")
    if not cost >= 0:
        raise ValueError(f"cost: must be >= 0, got {cost}")
    if math.isnan(accuracy):
        return math.nan
    return accuracy + beta * abs(cost / target - 1.0)


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


class Record(Protocol):
    """A finished trial as the objective compares it (an Optuna ``FrozenTrial`` is one)."""

    @property
    def number(self) -> int: ...

    @property
    def user_attrs(self) -> dict[str, Any]: ...


R = TypeVar("R", bound=Record)


@dataclass(frozen=True)
class Objective:
    """What a search optimizes, in which directions, under which budget.

    ``kind`` is ``mnas`` or ``training_aware`` (one reward, maximized) or ``pareto``
    (accuracy maximized, cost minimized). ``budget`` is the target T of the cost metric, or
    None. ``hard`` is the hard-constraint MnasNet form (alpha = 0, beta = -1, Eq. 1:
    maximize ACC subject to COST <= T): a candidate over budget is not trained, and its
    reward is 0, below every feasible one. ``absolute`` is TuNAS's absolute reward with
    ``beta``. ``w`` and ``v`` are the training-aware exponents.
    """

    kind: str
    budget: float | None = None
    alpha: float = MNAS_SOFT[0]
    beta: float = MNAS_SOFT[1]
    hard: bool = False
    absolute: bool = False
    w: float = TRAINING_AWARE[0]
    v: float = TRAINING_AWARE[1]

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind: must be {', '.join(KINDS)}, got {self.kind!r}")
        if self.budget is not None and not self.budget > 0:
            raise ValueError(f"budget: must be > 0, got {self.budget!r}")

    # ------------------------------------------------------------------ what is maximized

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

    @property
    def modes(self) -> list[str]:
        """``directions`` in Ray Tune's words (``max`` / ``min``)."""
        return ["max" if d == StudyDirection.MAXIMIZE else "min" for d in self.directions]

    @property
    def score_key(self) -> str:
        """The trial attribute that ranks trials: the reward, or accuracy for a Pareto search."""
        return "reward" if self.single else "accuracy"

    @property
    def uses_ratios(self) -> bool:
        """Whether values need the step-time and parameter ratios S and P (training-aware)."""
        return self.kind == "training_aware"

    @property
    def constrained(self) -> bool:
        """Whether the budget is a constraint that rules candidates out (hard form, Pareto)."""
        return self.budget is not None and (self.hard or not self.single)

    def describe(self) -> str:
        """The objective's form in words, for reports."""
        if self.kind == "training_aware":
            return f"A * S^{self.w:g} * P^{self.v:g}, S and P against the base"
        if self.kind == "pareto":
            return "accuracy up, cost down" + (", cost <= budget" if self.budget is not None else "")
        if self.hard:
            return "hard"
        if self.absolute:
            return f"abs, ACC + {self.beta:g} * |cost/T - 1|"
        return "soft" if (self.alpha, self.beta) == MNAS_SOFT else f"custom, alpha {self.alpha:g}, beta {self.beta:g}"

    # ------------------------------------------------------------------ one trial

    def values(self, accuracy: float, costs: Mapping[str, Any]) -> list[float]:
        """The objective values of one trial, in the order of ``directions``.

        ``costs`` holds ``cost`` (the budget's metric), and for ``training_aware`` the
        ratios ``step_ratio`` (S) and ``param_ratio`` (P) against the base.
        """
        cost = float(costs["cost"])
        if self.kind == "pareto":
            return [accuracy, cost]
        if self.kind == "training_aware":
            step_ratio, param_ratio = costs.get("step_ratio"), costs.get("param_ratio")
            if step_ratio is None or param_ratio is None:
                raise ValueError("objective training_aware: needs step_ratio and param_ratio")
            return [training_aware_reward(accuracy, step_ratio, param_ratio, w=self.w, v=self.v)]
        if self.budget is None:
            raise ValueError("objective mnas: needs a budget (target.flops, target.params or target.latency_ms)")
        if self.absolute:
            return [absolute_reward(accuracy, cost, self.budget, beta=self.beta)]
        return [mnas_reward(accuracy, cost, self.budget, alpha=self.alpha, beta=self.beta)]

    def untrained_values(self, cost: float) -> list[float]:
        """The values of a candidate that was not trained (skipped, screened out, over a hard
        budget): reward 0, below every trained one; for ``pareto``, accuracy 0 at its cost."""
        return [0.0] if self.single else [0.0, float(cost)]

    def reward(self, values: Sequence[float]) -> float | None:
        """The scalar reward of ``values`` (None for a Pareto search)."""
        return values[0] if self.single else None

    def feasible(self, cost: float) -> bool:
        """Within the budget (the over-budget rule, written once)."""
        return is_feasible(cost, self.budget)

    def skips(self, cost: float) -> bool:
        """Whether a candidate is scored without training (hard form, over budget)."""
        return self.hard and not self.feasible(cost)

    def constraint(self, cost: float) -> float | None:
        """Pareto searches with a budget: ``cost - budget`` (feasible when <= 0); else None."""
        if self.single or self.budget is None:
            return None
        return cost - self.budget

    # ------------------------------------------------------------------ comparing trials

    def sort_key(self, score: float, cost: float, number: int) -> tuple[float, float, int]:
        """The one comparison of trials, best first: higher score, then lower cost, then earlier."""
        return (-score, cost, number)

    def trained(self, records: Iterable[R]) -> list[R]:
        """Records that trained to a score (accuracy, and the reward of a single objective)."""
        return [r for r in records if r.user_attrs.get("accuracy") is not None
                and r.user_attrs.get(self.score_key) is not None]  # fmt: skip

    def order(self, records: Iterable[R]) -> list[R]:
        """Trained records, best first by ``sort_key``."""
        return sorted(self.trained(records), key=self._key)

    def front(self, records: Iterable[R]) -> list[R]:
        """Trained records not dominated in (accuracy up, cost down), sorted by cost."""
        points = [(r, float(r.user_attrs["accuracy"]), float(r.user_attrs["cost"])) for r in self.trained(records)]
        front = [r for r, a, c in points if not any(oa >= a and oc <= c and (oa > a or oc < c) for _, oa, oc in points)]
        return sorted(front, key=lambda r: (r.user_attrs["cost"], -r.user_attrs["accuracy"], r.number))

    def ranked(self, records: Iterable[R]) -> list[R]:
        """The contenders, best first: the trained records (the Pareto set for ``pareto``),
        with those over a constraining budget after every feasible one."""
        pool = self.order(records) if self.single else sorted(self.front(records), key=self._key)
        if not self.constrained:
            return pool
        return [r for r in pool if self._feasible(r)] + [r for r in pool if not self._feasible(r)]

    def best(self, records: Iterable[R]) -> R | None:
        """The best contender (a feasible one when there is any)."""
        ranked = self.ranked(records)
        return ranked[0] if ranked else None

    def candidates(self, records: Iterable[R], k: int) -> list[R]:
        """The top ``k`` contenders for verification; only feasible ones under a constraint."""
        return [r for r in self.ranked(records) if not self.constrained or self._feasible(r)][:k]

    def _key(self, record: Record) -> tuple[float, float, int]:
        a = record.user_attrs
        return self.sort_key(float(a[self.score_key]), float(a.get("cost", math.inf)), record.number)

    def _feasible(self, record: Record) -> bool:
        return self.feasible(float(record.user_attrs["cost"]))
