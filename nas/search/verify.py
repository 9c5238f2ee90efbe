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
from nas.objectives import Objective
from nas.plan import RunPlan
from nas.progress import format_duration
from nas.search.study import completed
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
    "VERIFY_FILE",
    "Verified",
    "VersusNaive",
    "candidates",
    "naive_contender",
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
    seconds: float
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


NAIVE = -1
"""The naive network's number in ``verify.jsonl``: the base scaled uniformly to the budget."""


@dataclass(frozen=True)
class Contender:
    """A network that verification retrains (a trial, or the naive network) as the objective compares it."""

    number: int
    user_attrs: dict[str, Any]


def naive_contender(plan: RunPlan, chosen: list[Any] | None = None) -> Contender | None:
    """The naive network, verified beside the top k when candidates are fitted to the budget.

    If one of ``chosen`` is the naive network itself (trial 0 is, when it ranks in the top
    k), that trial stands for it (its number), so no network is verified twice.
    """
    if not plan.fits:
        return None
    try:
        fit = plan.naive()
    except ValueError:  # a budget below the base at its narrowest: there is no naive network
        return None
    t = plan.spec.target
    flops = float(count_flops(fit.arch, resolution=t.resolution, num_classes=t.num_classes))
    params = float(count_params(fit.arch, num_classes=t.num_classes))
    for t in chosen or []:
        if t.user_attrs.get("arch_hash") == architecture_hash(fit.arch):
            return Contender(t.number, dict(t.user_attrs))
    attrs = {"architecture": architecture_to_dict(fit.arch), "flops": flops, "params": params,
             "cost": flops if plan.cost_metric == "flops" else params, "fit_width": fit.width,
             "accuracy": None, "reward": None}  # fmt: skip
    return Contender(NAIVE, attrs)


def read_verified(run_dir: Path) -> dict[tuple[int, int], dict[str, Any]]:
    """Finished verification runs by (trial, seed); a torn last line is skipped."""
    return {(r["trial"], r["seed"]): r for r in journal.read(run_dir / VERIFY_FILE) if _complete(r)}


def _complete(record: dict[str, Any]) -> bool:
    """A verification record with every field, of the right type (an edited or foreign line is skipped)."""
    numbers = all(isinstance(record.get(k), (int, float)) and not isinstance(record.get(k), bool)
                  for k in ("accuracy", "seconds"))  # fmt: skip
    ids = all(type(record.get(k)) is int for k in ("trial", "seed"))
    reward = record.get("reward") is None or isinstance(record.get("reward"), (int, float))
    return numbers and ids and reward and record.get("status") in ("ok", "failed")


def verify_accuracy(arch: Architecture, data: Dataset, plan: RunPlan, seed: int) -> tuple[float, float, str]:
    """(validation accuracy or NaN, seconds, failure reason) of one verification run."""
    result = train(arch, data, plan.verify_train(seed))
    if result.status != "ok":
        return math.nan, result.seconds, result.reason
    return result.val_accuracy, result.seconds, ""


def run_verification(plan: RunPlan, study: optuna.Study, run_dir: Path, *,
                     log: Callable[[str], None] = print) -> dict[int, Verified]:  # fmt: skip
    """Retrain the top-k candidates with every seed not yet in ``verify.jsonl``."""
    spec, objective = plan.spec, plan.objective
    v = spec.verify
    chosen: list[Any] = list(candidates(plan, study))
    naive = naive_contender(plan, chosen) if chosen else None
    if naive is not None and naive.number == NAIVE:
        chosen.append(naive)
    seeds = [spec.seed + i for i in range(v.seeds)]
    path = run_dir / VERIFY_FILE
    done = read_verified(run_dir)
    journal.compact(path, list(done.values()))
    todo = [(t, s) for t in chosen for s in seeds if (t.number, s) not in done]
    total = len(chosen) * len(seeds)
    naive_note = " and the naive network (the base scaled to the budget)" if naive and naive.number == NAIVE else ""
    log(f"verification: top {len(chosen) - bool(naive_note)} by proxy {objective.score_key}{naive_note}, "
        f"{len(seeds)} seeds each, "
        f"{v.epochs} epochs on {v.train_size or 'all'} training images; "
        f"{total - len(todo)}/{total} runs done, {len(todo)} to run")  # fmt: skip
    if todo:
        data = plan.load_verify_data(log)
        started = time.perf_counter()
        for i, (trial, seed) in enumerate(todo, 1):
            a = trial.user_attrs
            arch = architecture_from_record(a["architecture"])
            accuracy, seconds, reason = verify_accuracy(arch, data, plan, seed)
            reward = objective.reward(objective.values(accuracy, a))
            record = {"trial": trial.number, "seed": seed, "accuracy": accuracy, "reward": reward,
                      "seconds": seconds, "status": "failed" if reason else "ok", "reason": reason}  # fmt: skip
            journal.append(path, record)
            done[(trial.number, seed)] = record
            left = (time.perf_counter() - started) / i * (len(todo) - i)
            who = "naive network" if trial.number == NAIVE else f"trial {trial.number}"
            log(f"[verify {total - len(todo) + i}/{total}] {who} seed {seed}: "
                f"acc {100 * accuracy:.2f}%" + (f"  reward {reward:.4f}" if reward is not None else "")
                + (f"  ({reason})" if reason else "")
                + f" | {seconds:.0f}s | left ~{format_duration(left)}")  # fmt: skip
    return summarize(objective, chosen, done)


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
            seconds=sum(float(r["seconds"]) for r in runs),
            cost=float(t.user_attrs["cost"]),
        )
    return out


def verified_results(plan: RunPlan, study: optuna.Study, run_dir: Path) -> dict[int, Verified]:
    """What ``verify.jsonl`` holds for the current top-k, and the naive network under ``NAIVE`` (for reports)."""
    chosen: list[Any] = list(candidates(plan, study))
    naive = naive_contender(plan, chosen)
    out = summarize(plan.objective, [*chosen, *([naive] if naive is not None and naive.number == NAIVE else [])],
                    read_verified(run_dir))  # fmt: skip
    if naive is not None and naive.number != NAIVE and naive.number in out:  # a verified trial is the naive network
        out[NAIVE] = out[naive.number]
    return out


@dataclass(frozen=True)
class VersusNaive:
    """A verified network against the naive one, seed by seed: accuracy difference in points."""

    points: float
    std: float
    seeds: int

    def text(self) -> str:
        return f"against B0 scaled to the budget: {self.points:+.2f} ± {self.std:.2f} points ({self.seeds} seeds)"


def versus_naive(number: int, naive: int, done: dict[tuple[int, int], dict[str, Any]]) -> VersusNaive | None:
    """Trial ``number``'s verified accuracy minus the naive network's (``naive``: ``NAIVE`` or
    the trial that is the naive network), paired by seed (both ran ok)."""
    ours = {seed: r for (n, seed), r in done.items() if n == number and r["status"] == "ok"}
    base = {seed: r for (n, seed), r in done.items() if n == naive and r["status"] == "ok"}
    diffs = [100 * (float(ours[s]["accuracy"]) - float(base[s]["accuracy"])) for s in sorted(ours) if s in base]
    if not diffs:
        return None
    return VersusNaive(statistics.fmean(diffs), statistics.stdev(diffs) if len(diffs) > 1 else 0.0, len(diffs))


def verified_best(objective: Objective, verified: dict[int, Verified]) -> int | None:
    """The trial with the best mean verified score (the objective's comparison), or None."""
    if not verified:
        return None
    return min(verified.values(), key=lambda v: objective.sort_key(v.mean, v.cost, v.trial)).trial
