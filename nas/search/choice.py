"""The run's final choice: which network a search hands back, and why.

``final_choice`` reads the study and the verification journal and decides, once, what
``best.json``, ``report.md``, the CLI's last lines and any pipeline report:

- without verification, the best trial by the objective's own comparison of proxy scores;
- with verification, the trial with the best **mean verified** score (the top k retrained,
  MnasNet's practice, PM §4.2), not the luckiest proxy run;
- and when the naive network (the base scaled to the budget, ``RunPlan.naive``) has the best
  verified mean of all, that network: the search found nothing better.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import optuna
from optuna.trial import FrozenTrial

from nas.objectives import Record
from nas.plan import RunPlan
from nas.search.results import best_trial
from nas.search.verify import (
    NAIVE,
    Verified,
    VersusNaive,
    naive_contender,
    read_verified,
    verified_best,
    verified_results,
    versus_naive,
)

__all__ = ["Choice", "final_choice"]


@dataclass(frozen=True)
class Choice:
    """What a run chose.

    ``network``: the record whose architecture is the answer (``best.json``): the best trial,
    or the naive network when it wins. ``best``: the best trial of the search itself (None
    when no trial trained). ``reason``: how ``best`` was chosen, in words. ``naive_wins``:
    the naive network's verified mean is the best of all. ``verified``: the verified runs of
    ``network``, if any. ``versus_naive``: ``best`` against the naive network, paired by seed.
    ``results``: every verified candidate, by trial number (the naive network left out).
    """

    network: Record | None
    best: FrozenTrial | None
    reason: str
    naive_wins: bool = False
    verified: Verified | None = None
    versus_naive: VersusNaive | None = None
    results: dict[int, Verified] | None = None

    @property
    def is_naive(self) -> bool:
        """Whether the answer is the naive network rather than the search's best trial."""
        return self.network is not None and self.network is not self.best


def final_choice(plan: RunPlan, study: optuna.Study, run_dir: Path) -> Choice:
    """Decide the run's answer from ``study`` and ``run_dir``'s verification journal."""
    objective = plan.objective
    results = verified_results(plan, study, run_dir)
    naive = results.pop(NAIVE, None)
    best = best_trial(study, objective)
    reason = f"by proxy {objective.score_key}"
    number = verified_best(objective, results)
    if number is not None:
        best = next(t for t in study.get_trials(deepcopy=False) if t.number == number)
        reason = f"by mean verified {objective.score_key}"
    versus = versus_naive(number, naive.trial, read_verified(run_dir)) if naive and number is not None else None
    naive_wins = naive is not None and verified_best(objective, {**results, naive.trial: naive}) == naive.trial
    network: Record | None = best
    verified = results.get(best.number) if best is not None else None
    if naive_wins and naive is not None:
        verified = naive
        if naive.trial == NAIVE:  # not a trial of the search: the naive network itself
            network = naive_contender(plan)
    return Choice(network, best, reason, naive_wins, verified, versus, results)
