"""The run's final choice: which network a search hands back, and why.

``final_choice`` reads the study and the verification journal and decides, once, what
``best.json``, ``report.md``, the CLI's last lines and any pipeline report:

- without verification, the best trial by the objective's own comparison of proxy scores;
- with verification, the trial with the best **mean verified** score (the top k retrained,
  MnasNet's practice, PM §4.2), not the luckiest proxy run;
- and when a naive network (the base scaled to the budget by one of ``scaling.NAIVE_RULES``,
  ``RunPlan.naive``) has the best verified mean of all, the strongest of them: the search
  found nothing better.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import optuna
from optuna.trial import FrozenTrial

from nas.measure.stats import PairedGap
from nas.objectives import Record
from nas.plan import RunPlan
from nas.search.results import best_trial
from nas.search.verify import (
    NAIVE_NUMBERS,
    Verified,
    naive_contenders,
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
    or the strongest naive network when it wins. ``best``: the best trial of the search
    itself (None when no trial trained). ``reason``: how ``best`` was chosen, in words.
    ``naive``: each naive rule's verified runs (``scaling.NAIVE_RULES``), ``strongest`` the
    rule with the best verified mean. ``naive_wins``: the strongest naive network's verified
    mean is the best of all. ``verified``: the verified runs of ``network``, if any.
    ``versus_naive``: ``best`` against the strongest naive network, paired by seed, with its
    95% interval; ``versus``: ``best`` against each naive network. ``results``: every
    verified candidate, by trial number (the naive networks left out).
    """

    network: Record | None
    best: FrozenTrial | None
    reason: str
    naive_wins: bool = False
    verified: Verified | None = None
    versus_naive: PairedGap | None = None
    results: dict[int, Verified] | None = None
    naive: dict[str, Verified] = field(default_factory=dict)
    strongest: str | None = None
    versus: dict[str, PairedGap] = field(default_factory=dict)

    @property
    def is_naive(self) -> bool:
        """Whether the answer is a naive network rather than the search's best trial."""
        return self.network is not None and self.network is not self.best


def final_choice(plan: RunPlan, study: optuna.Study, run_dir: Path) -> Choice:
    """Decide the run's answer from ``study`` and ``run_dir``'s verification journal."""
    objective = plan.objective
    done = read_verified(run_dir, plan.final_rung)
    results = verified_results(plan, study, run_dir, done)
    naive = {rule: results.pop(n) for rule, n in NAIVE_NUMBERS.items() if n in results}
    best = best_trial(study, objective)
    reason = f"by proxy {objective.score_key}"
    number = verified_best(objective, results)
    if number is not None:
        best = next(t for t in study.get_trials(deepcopy=False) if t.number == number)
        reason = f"by mean verified {objective.score_key}"
    strongest = min(naive, key=lambda r: objective.sort_key(naive[r].mean, naive[r].cost, naive[r].trial), default=None)
    versus = {rule: gap for rule, v in naive.items()
              if number is not None and (gap := versus_naive(number, v.trial, done)) is not None}  # fmt: skip
    top = naive[strongest] if strongest is not None else None
    naive_wins = top is not None and verified_best(objective, {**results, top.trial: top}) == top.trial
    network: Record | None = best
    verified = results.get(best.number) if best is not None else None
    if naive_wins and top is not None and strongest is not None:
        verified = top
        if top.trial < 0:  # not a trial of the search: the naive network itself
            network = naive_contenders(plan).get(strongest)
    return Choice(network, best, reason, naive_wins, verified, versus.get(strongest or ""), results, naive,
                  strongest, versus)  # fmt: skip
