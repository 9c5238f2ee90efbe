"""Verification: the top-k candidates of a search retrained with a stronger recipe.

Short proxy training is noisy: on a 10,000-image Fashion-MNIST subset the seed standard
deviation is about 0.5-0.7 points, and candidates of nearly equal cost swap places between
seeds. MnasNet therefore trained its top 15 candidates fully before choosing (PM §4.2).
After the search, the ``verify.top_k`` best trials by proxy reward (feasible ones only
under a budget) are retrained ``verify.seeds`` times each with ``verify.epochs`` epochs on
``verify.train_size`` images, and ``best.json`` goes to the best **mean verified** reward.

Every finished run is appended to ``verify.jsonl`` (flushed and fsync'd) and never run
again, so a killed verification resumes with ``nas search --resume``.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial

from nas import journal
from nas.measure.stats import PairedGap, paired_gap
from nas.objectives import Objective
from nas.plan import RunPlan
from nas.progress import format_duration
from nas.search.study import completed
from nas.search.trial import TrialEvaluator
from nas.training.data import Dataset
from nas.training.train import train
from search_spaces import (
    Architecture,
    architecture_from_record,
    architecture_hash,
    architecture_to_dict,
    count_flops,
    count_params,
)

__all__ = [
    "NAIVE",
    "NAIVE_NUMBERS",
    "VERIFY_FILE",
    "Verified",
    "candidates",
    "naive_contender",
    "naive_contenders",
    "promoted",
    "read_runs",
    "read_verified",
    "run_verification",
    "summarize",
    "verified_best",
    "versus_naive",
]

VERIFY_FILE = "verify.jsonl"


@dataclass(frozen=True)
class Verified:
    """A candidate's verified runs: mean and sample standard deviation of its reward (or accuracy)."""

    trial: int
    proxy: float
    mean: float
    std: float
    runs: int
    accuracy_mean: float
    cost: float


def candidates(plan: RunPlan, study: optuna.Study) -> list[FrozenTrial]:
    """The top ``verify.top_k`` distinct networks by proxy score (the objective's ranking:
    feasible ones only under a constraining budget; the front's members for ``pareto``).

    A network that several trials share (``same_as``) is verified once, as its first trial.
    """
    distinct, seen = [], set()
    for t in plan.objective.candidates(completed(study), len(study.trials)):
        key = t.user_attrs.get("arch_hash") or json.dumps(t.user_attrs.get("architecture"), sort_keys=True)
        if key not in seen:
            seen.add(key)
            distinct.append(t)
    return distinct[: plan.spec.verify.top_k]


NAIVE_NUMBERS = {"width": -1, "compound": -2, "half_depth": -3}
"""Each naive rule's network's number in ``verify.jsonl`` (``scaling.NAIVE_RULES``)."""
NAIVE = NAIVE_NUMBERS["width"]
"""The width-scaled naive network's number (the first naive rule, and trial 0 of a fitted search)."""


@dataclass(frozen=True)
class Contender:
    """A network that verification retrains (a trial, or a naive network) as the objective compares it."""

    number: int
    user_attrs: dict[str, Any]


def naive_contenders(plan: RunPlan, chosen: list[Any] | None = None) -> dict[str, Contender]:
    """The naive networks, one per rule (``scaling.NAIVE_RULES``), verified beside the top k
    when candidates are fitted to the budget; a rule whose network cannot be made at this
    budget is left out.

    If one of ``chosen`` is a naive network itself (trial 0 is the width rule's, when it
    ranks in the top k), that trial stands for it (its number), so no network is verified twice.
    """
    if not plan.fits:
        return {}
    out: dict[str, Contender] = {}
    t = plan.spec.target
    for rule, number in NAIVE_NUMBERS.items():
        try:
            fit = plan.naive(rule)
        except ValueError:  # a budget below the base at its smallest by this rule
            continue
        known = [*(chosen or []), *out.values()]  # a top-k trial, or an earlier rule's network, stands for it
        twin = next((c for c in known if c.user_attrs.get("arch_hash") == architecture_hash(fit.arch)), None)
        if twin is not None:
            out[rule] = Contender(twin.number, {**twin.user_attrs, "naive_rule": rule})
            continue
        flops = float(count_flops(fit.arch, resolution=t.resolution, num_classes=t.num_classes))
        params = float(count_params(fit.arch, num_classes=t.num_classes))
        attrs = {"architecture": architecture_to_dict(fit.arch), "arch_hash": architecture_hash(fit.arch),
                 "flops": flops, "params": params, "cost": flops if plan.cost_metric == "flops" else params,
                 "fit_width": fit.width, "naive_rule": rule, "accuracy": None, "reward": None}  # fmt: skip
        out[rule] = Contender(number, attrs)
    return out


def naive_contender(plan: RunPlan, chosen: list[Any] | None = None) -> Contender | None:
    """The width rule's naive network (``naive_contenders``), or None."""
    return naive_contenders(plan, chosen).get("width")


def read_runs(run_dir: Path) -> dict[tuple[int, int, int], dict[str, Any]]:
    """Every finished verification run by (trial, seed, rung); a torn last line is skipped.
    A record without ``rung`` (one-rung verification) is rung 0."""
    out = {}
    for r in journal.read(run_dir / VERIFY_FILE):
        if _complete(r):
            out[(r["trial"], r["seed"], r.get("rung", 0))] = r
    return out


def read_verified(run_dir: Path, rung: int = 0) -> dict[tuple[int, int], dict[str, Any]]:
    """The finished runs of one rung (the last decides: ``RunPlan.final_rung``) by (trial, seed)."""
    return {(trial, seed): r for (trial, seed, at), r in read_runs(run_dir).items() if at == rung}


def _complete(record: dict[str, Any]) -> bool:
    """A verification record with every field, of the right type (an edited or foreign line is skipped)."""
    numbers = all(isinstance(record.get(k), (int, float)) and not isinstance(record.get(k), bool)
                  for k in ("accuracy", "seconds"))  # fmt: skip
    ids = all(type(record.get(k)) is int for k in ("trial", "seed")) and type(record.get("rung", 0)) is int
    reward = record.get("reward") is None or isinstance(record.get("reward"), (int, float))
    return numbers and ids and reward and record.get("status") in ("ok", "failed")


def verify_accuracy(arch: Architecture, data: Dataset, plan: RunPlan, seed: int,
                    rung: int = 0) -> tuple[float, float, str]:  # fmt: skip
    """(validation accuracy or NaN, seconds, failure reason) of one verification run on ``rung``."""
    result = train(arch, data, plan.verify_train(seed, rung))
    if result.status != "ok":
        return math.nan, result.seconds, result.reason
    return result.val_accuracy, result.seconds, ""


def _reward_costs(plan: RunPlan, run_dir: Path) -> Callable[[int, dict[str, Any], Architecture], dict[str, Any]]:
    """A network's costs for its verified reward: its trial's attributes, or, for a naive network
    that never ran as a trial and a reward that needs S and P (training-aware), those measured
    once through the run's step-time cache (``TrialEvaluator.cost``)."""
    evaluator = TrialEvaluator(plan, run_dir) if plan.objective.uses_ratios else None
    measured: dict[int, dict[str, Any]] = {}

    def costs(number: int, attrs: dict[str, Any], arch: Architecture) -> dict[str, Any]:
        if evaluator is None or "step_ratio" in attrs:
            return attrs
        if number not in measured:
            measured[number] = {**attrs, **evaluator.cost(arch)}
        return measured[number]

    return costs


def run_verification(plan: RunPlan, study: optuna.Study, run_dir: Path, *,
                     log: Callable[[str], None] = print) -> dict[int, Verified]:  # fmt: skip
    """Retrain the top-k candidates and every naive network with every seed not yet in ``verify.jsonl``.

    With rungs (``verify.rungs``, successive halving), the candidates climb them: after each
    rung the best ``verify.promote`` share by mean verified score goes on (at least one). The
    naive networks (and a top-k trial that is one) run on the last rung only, which decides:
    on the others they would be trained for nothing. Promotion is decided from the journal
    alone, so a resumed verification promotes the same networks. The last rung's runs are returned.
    """
    spec, objective = plan.spec, plan.objective
    v = spec.verify
    ladder = plan.verify_ladder
    chosen, carried = _to_verify(plan, study)
    seeds = [spec.seed + i for i in range(v.seeds)]
    path = run_dir / VERIFY_FILE
    runs = read_runs(run_dir)
    journal.compact(path, list(runs.values()))
    climbing = [c for c in chosen if c.number not in carried]
    naive = [c.user_attrs["naive_rule"] for c in chosen if c.number < 0]
    naive_note = f" and the naive networks ({', '.join(naive)})" if naive else ""
    recipes = ", then ".join(f"{r.epochs} epochs on {r.train_size or 'all'} training images" for r in ladder)
    halving = f" (rungs: the best {v.promote:.0%} of the candidates go on after each)" if len(ladder) > 1 else ""
    log(f"verification: top {len(chosen) - len(naive)} by proxy {objective.score_key}{naive_note}, "
        f"{len(seeds)} seeds each, {recipes}{halving}")  # fmt: skip
    costs = _reward_costs(plan, run_dir)
    done: dict[tuple[int, int], dict[str, Any]] = {}
    for rung in range(len(ladder)):
        last = rung == len(ladder) - 1
        entrants = climbing + ([c for c in chosen if c.number in carried] if last else [])
        done = {(t, s): r for (t, s, at), r in runs.items() if at == rung}
        todo = [(t, s) for t in entrants for s in seeds if (t.number, s) not in done]
        total = len(entrants) * len(seeds)
        where = f"rung {rung + 1}/{len(ladder)}: " if len(ladder) > 1 else ""
        log(f"verification: {where}{len(entrants)} networks, {total - len(todo)}/{total} runs done, "
            f"{len(todo)} to run")  # fmt: skip
        if todo:
            data = plan.load_verify_data(log, rung)
            started = time.perf_counter()
            for i, (trial, seed) in enumerate(todo, 1):
                a = trial.user_attrs
                arch = architecture_from_record(a["architecture"])
                accuracy, seconds, reason = verify_accuracy(arch, data, plan, seed, rung)
                reward = objective.reward(objective.values(accuracy, costs(trial.number, a, arch)))
                record = {"trial": trial.number, "seed": seed, "rung": rung, "accuracy": accuracy, "reward": reward,
                          "seconds": seconds, "status": "failed" if reason else "ok", "reason": reason}  # fmt: skip
                journal.append(path, record)
                done[(trial.number, seed)] = runs[(trial.number, seed, rung)] = record
                left = (time.perf_counter() - started) / i * (len(todo) - i)
                who = f"naive network ({a['naive_rule']})" if trial.number < 0 else f"trial {trial.number}"
                log(f"[verify {where}{total - len(todo) + i}/{total}] {who} seed {seed}: "
                    f"acc {100 * accuracy:.2f}%" + (f"  reward {reward:.4f}" if reward is not None else "")
                    + (f"  ({reason})" if reason else "")
                    + f" | {seconds:.0f}s | left ~{format_duration(left)}")  # fmt: skip
        if not last:
            climbing = promoted(objective, climbing, summarize(objective, climbing, done), v.promote)
            log(f"verification: rung {rung + 1} promotes trials {', '.join(str(c.number) for c in climbing)}")
    return summarize(objective, chosen, done)


def promoted(objective: Objective, entrants: list[Any], scores: dict[int, Verified], share: float) -> list[Any]:
    """The best ``share`` of ``entrants`` (at least one) by their rung's mean verified score
    (the objective's comparison); an entrant whose every run failed is never promoted."""

    def key(c: Any) -> Any:
        return objective.sort_key(scores[c.number].mean, scores[c.number].cost, c.number)

    ranked = sorted((c for c in entrants if c.number in scores), key=key)
    return ranked[: max(1, math.ceil(share * len(entrants)))]


def _to_verify(plan: RunPlan, study: optuna.Study) -> tuple[list[Any], set[int]]:
    """The top-k candidates, then each naive network that is not one of them; and the numbers
    of the naive networks among them (a top-k trial that is one stands for it)."""
    chosen: list[Any] = list(candidates(plan, study))
    if not chosen:
        return chosen, set()
    contenders = naive_contenders(plan, chosen).values()
    naive = {c.number: c for c in contenders if c.number < 0}  # each network once
    return chosen + list(naive.values()), {c.number for c in contenders}


def summarize(objective: Objective, chosen: list[Any],
              done: dict[tuple[int, int], dict[str, Any]]) -> dict[int, Verified]:  # fmt: skip
    """Mean and std of the verified score of each chosen trial (failed runs left out); the
    naive network, if verified, under ``NAIVE`` (its proxy score is NaN: it never ran as a trial)."""
    key = objective.score_key
    out: dict[int, Verified] = {}
    for t in chosen:
        runs = [r for (n, _), r in sorted(done.items()) if n == t.number and r["status"] == "ok"]
        if not runs:
            continue
        scores = [float(r[key]) for r in runs]
        out[t.number] = Verified(
            trial=t.number,
            proxy=math.nan if t.user_attrs.get(key) is None else float(t.user_attrs[key]),
            mean=statistics.fmean(scores),
            std=statistics.stdev(scores) if len(scores) > 1 else 0.0,
            runs=len(scores),
            accuracy_mean=statistics.fmean(float(r["accuracy"]) for r in runs),
            cost=float(t.user_attrs["cost"]),
        )
    return out


def verified_results(plan: RunPlan, study: optuna.Study, run_dir: Path,
                     done: dict[tuple[int, int], dict[str, Any]] | None = None) -> dict[int, Verified]:  # fmt: skip
    """What ``verify.jsonl`` holds (``done``, read here if not given) for the current top-k, and each
    naive network under its ``NAIVE_NUMBERS`` number (also when a verified trial is that network:
    then under both)."""
    chosen: list[Any] = list(candidates(plan, study))
    naive = naive_contenders(plan, chosen)
    done = read_verified(run_dir, plan.final_rung) if done is None else done
    out = summarize(plan.objective, [*chosen, *[c for c in naive.values() if c.number < 0]], done)
    for rule, contender in naive.items():
        if contender.number >= 0 and contender.number in out:  # a verified trial is this naive network
            out[NAIVE_NUMBERS[rule]] = out[contender.number]
    return out


def versus_naive(number: int, naive: int, done: dict[tuple[int, int], dict[str, Any]]) -> PairedGap | None:
    """Trial ``number``'s verified accuracy minus a naive network's (its ``NAIVE_NUMBERS`` number,
    or the trial that is it), paired by seed (both ran ok), with the 95% t interval."""
    ours = {seed: float(r["accuracy"]) for (n, seed), r in done.items() if n == number and r["status"] == "ok"}
    base = {seed: float(r["accuracy"]) for (n, seed), r in done.items() if n == naive and r["status"] == "ok"}
    return paired_gap(ours, base)


def verified_best(objective: Objective, verified: dict[int, Verified]) -> int | None:
    """The trial with the best mean verified score (the objective's comparison), or None."""
    if not verified:
        return None
    return min(verified.values(), key=lambda v: objective.sort_key(v.mean, v.cost, v.trial)).trial
