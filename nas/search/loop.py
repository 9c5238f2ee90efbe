"""The search loop: run trials of a study in this process until a count is reached.

``nas.search.executors.execute_search`` runs it here, or on several worker processes, or runs
the trials on Ray Tune instead; the study
and its storage are ``nas.search.study``, one trial's work is ``nas.search.trial``, and the run directory
is ``nas.rundir``.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial

from nas.plan import RunPlan
from nas.progress import format_cost, format_duration
from nas.search.results import best_trial, pareto_trials
from nas.search.study import check_resumable, fail_interrupted, finished_trials, open_study, running_trials
from nas.search.trial import TrialEvaluator, TrialFailed
from scaling import NAIVE_RULES

__all__ = ["optimize", "start_study", "warm_start"]


def start_study(plan: RunPlan, run_dir: Path, *, resume: bool, total: int,
                log: Callable[[str], None]) -> optuna.Study:  # fmt: skip
    """Create or load the study, fail trials that died with their process, and say what is left."""
    study = open_study(plan, run_dir, create=not resume)
    if not resume:
        warm_start(plan, study, log)
    if resume:
        check_resumable(plan, study)
        lost = fail_interrupted(study)
        if lost:
            log(f"marked {lost} interrupted trial(s) as failed")
    done = len(finished_trials(study))
    spec = plan.spec
    log(f"{spec.name}: {plan.space.size():.3g} architectures in the {spec.space.type} space around "
        f"{spec.space.base_ref}; {spec.search.sampler} sampler; {done}/{total} trials finished, "
        f"{max(0, total - done)} to run")  # fmt: skip
    return study


def warm_start(plan: RunPlan, study: optuna.Study, log: Callable[[str], None]) -> None:
    """Enqueue the first trials: the naive network (trial 0 of a fitted search: the base's own
    choices, which the fit turns into the base uniformly scaled to the budget, ``RunPlan.naive``),
    then ``search.warm_start``'s presets and files as their points of the space, each fitted
    like any candidate.

    ``enqueue_trial`` puts them in the study itself, so local workers and Ray's OptunaSearch
    (whose ``points_to_evaluate`` a define-by-run space ignores, ray#35319) both run them
    first; a point already enqueued is not enqueued twice.
    """
    points = _naive_points(plan, log) + plan.warm_starts()
    seen: list[dict[str, object]] = []
    for label, params in points:
        if params in seen:
            log(f"warm start: {label} is the same point of the space as an earlier one; not enqueued twice")
            continue
        seen.append(params)
        study.enqueue_trial(params, user_attrs={"warm_start": label})
        if label != "naive":
            log(f"warm start: {label} enqueued" + (" (fitted to the budget)" if plan.fits else ""))


def _naive_points(plan: RunPlan, log: Callable[[str], None]) -> list[tuple[str, dict[str, object]]]:
    """Trial 0, the naive network (the base's own choices, which the fit turns into the base
    width-scaled to the budget), then each other naive rule's network where it is a point of
    the space (``naive-compound``, ``naive-half_depth``); a rule's network that is not is
    still verified beside the top k (``nas.search.verify.naive_contenders``)."""
    if not plan.fits:
        return []
    points: list[tuple[str, dict[str, object]]] = []
    params = plan.space.base_params()
    if params is None:
        log(f"warm start: {plan.base.name} is not a point of this space (its own choices are not offered); "
            "no naive trial is enqueued")  # fmt: skip
    else:
        points.append(("naive", params))
        log(f"warm start: trial 0 is {plan.base.name} scaled uniformly to the budget (the naive network)")
    for rule in NAIVE_RULES[1:]:
        try:
            points.append((f"naive-{rule}", plan.space.params_of(plan.naive(rule).arch, uniform=True)))
        except ValueError as exc:  # not a point of the space, or not reachable at this budget
            log(f"warm start: the {rule} rule's network is not enqueued ({exc}); verification retrains it")
    return points


def optimize(
    plan: RunPlan,
    run_dir: Path,
    study: optuna.Study,
    *,
    total: int,
    log: Callable[[str], None],
    shared: bool = False,
    parent: int | None = None,
    started_at: float | None = None,
) -> None:
    """Run trials in this process until ``total`` have finished.

    ``shared``: other workers run trials of the same study at the same time, so a new trial
    starts only while finished + running trials are below ``total`` (no trial is run beyond
    the count). ``parent``: stop after the current trial if that process is gone.
    ``started_at`` (``time.time()``): when the search's wall-clock budget began (default now).
    """
    started_at = time.time() if started_at is None else started_at
    minutes = plan.spec.search.timeout_minutes
    run = TrialEvaluator(plan, run_dir)
    data = run.dataset()
    log(data.describe())
    started = time.perf_counter()
    first = len(finished_trials(study))
    warned: list[int] = []  # the trial whose screen note first said screening stopped

    def progress(study: optuna.Study, trial: FrozenTrial) -> None:
        finished = len(finished_trials(study))
        elapsed = time.perf_counter() - started
        left = elapsed / max(finished - first, 1) * (total - finished)
        if minutes is not None:  # the wall-clock budget ends the search first
            left = min(left, max(0.0, 60 * minutes - (time.time() - started_at)))
        log(_progress_line(study, trial, finished, total, plan, left))
        note = str(trial.user_attrs.get("screen", ""))
        if note.startswith("screening stopped") and not warned:
            warned.append(trial.number)
            log(f"warning: {note}; every later candidate is trained")
        if shared or parent is not None:
            running = len(running_trials(study))
            if finished + running >= total or (parent is not None and os.getppid() != parent):
                study.stop()

    timeout = None if minutes is None else max(0.0, 60 * minutes - (time.time() - started_at))
    if shared:
        if len(finished_trials(study)) + len(running_trials(study)) >= total:
            return
        study.optimize(within_count(run.evaluate, total), catch=(TrialFailed,), callbacks=[progress],
                       timeout=timeout)  # fmt: skip
    else:
        study.optimize(run.evaluate, n_trials=max(0, total - first), catch=(TrialFailed,), callbacks=[progress],
                       timeout=timeout)  # fmt: skip


OVER_COUNT = "over the trial count: another worker started the last trial first; not trained"


def within_count(objective: Callable[[optuna.Trial], Any], total: int) -> Callable[[optuna.Trial], Any]:
    """``objective`` for a worker that shares the study: two workers can both see a free slot
    and start the last trial, so a trial whose predecessors (by number, which the storage
    hands out one at a time) already fill ``total`` fails with ``OVER_COUNT``, untrained."""

    def evaluate(trial: optuna.Trial) -> Any:
        if _ahead(trial.study, trial.number) >= total:
            trial.set_user_attr("fail_reason", OVER_COUNT)
            raise TrialFailed(OVER_COUNT)
        return objective(trial)

    return evaluate


def _ahead(study: optuna.Study, number: int) -> int:
    """How many trials numbered before ``number`` are finished or running (count toward the total)."""
    return sum(1 for t in [*finished_trials(study), *running_trials(study)] if t.number < number)


def _progress_line(study: optuna.Study, trial: FrozenTrial, finished: int, total: int, plan: RunPlan,
                   left: float) -> str:  # fmt: skip
    attrs = trial.user_attrs
    acc = attrs.get("accuracy")
    cost_name = plan.cost_metric
    cost = attrs.get("cost", math.nan)
    text = f"[{finished}/{total}] trial {trial.number} {trial.state.name.lower()}"
    text += f"  acc {100 * acc:.2f}%" if isinstance(acc, float) else ""
    text += f"  {cost_name} {format_cost(cost_name, cost)}"
    if attrs.get("reward") is not None:
        text += f"  reward {attrs['reward']:.4f}"
    if "fail_reason" in attrs or "skipped" in attrs:
        text += f"  ({attrs.get('fail_reason') or attrs.get('skipped')})"
    objective = plan.objective
    best = best_trial(study, objective)
    if best is not None and objective.single:
        text += f" | best #{best.number} reward {best.user_attrs.get('reward', math.nan):.4f}"
    elif best is not None:
        text += f" | pareto set {len(pareto_trials(study, objective))}"
    text += f" | {attrs.get('seconds', 0):.0f}s | left ~{format_duration(left)}"
    return text
