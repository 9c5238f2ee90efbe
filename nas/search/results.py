"""Queries on a study's results; every comparison of trials is the objective's own."""

from __future__ import annotations

import optuna
from optuna.trial import FrozenTrial

from nas.objectives import Objective
from nas.search.study import completed

__all__ = ["best_trial", "pareto_trials", "ranked_trials"]


def best_trial(study: optuna.Study, objective: Objective) -> FrozenTrial | None:
    """Highest reward (mnas, training_aware), or the most accurate feasible member of the Pareto set (pareto)."""
    return objective.best(completed(study))


def pareto_trials(study: optuna.Study, objective: Objective) -> list[FrozenTrial]:
    """Completed, trained trials not dominated in (accuracy up, cost down), sorted by cost."""
    return objective.front(completed(study))


def ranked_trials(study: optuna.Study, objective: Objective) -> list[FrozenTrial]:
    """Every completed, trained trial, best first."""
    return objective.order(completed(study))
