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

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial

from search_spaces import Architecture, architecture_from_record

from . import journal
from .data import Dataset
from .objectives import Objective
from .plan import RunPlan
from .progress import format_duration
from .study import completed
from .train import train

__all__ = ["VERIFY_FILE", "Verified", "candidates", "read_verified", "run_verification", "summarize", "verified_best"]

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
    """The top ``verify.top_k`` contenders by proxy score (the objective's ranking: feasible
    ones only under a constraining budget; the front's members for ``pareto``)."""
    return plan.objective.candidates(completed(study), plan.spec.verify.top_k)


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
    chosen = candidates(plan, study)
    seeds = [spec.seed + i for i in range(v.seeds)]
    path = run_dir / VERIFY_FILE
    done = read_verified(run_dir)
    journal.compact(path, list(done.values()))
    todo = [(t, s) for t in chosen for s in seeds if (t.number, s) not in done]
    total = len(chosen) * len(seeds)
    log(f"verification: top {len(chosen)} by proxy {objective.score_key}, {len(seeds)} seeds each, "
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
            log(f"[verify {total - len(todo) + i}/{total}] trial {trial.number} seed {seed}: "
                f"acc {100 * accuracy:.2f}%" + (f"  reward {reward:.4f}" if reward is not None else "")
                + (f"  ({reason})" if reason else "")
                + f" | {seconds:.0f}s | left ~{format_duration(left)}")  # fmt: skip
    return summarize(objective, chosen, done)


def summarize(objective: Objective, chosen: list[FrozenTrial],
              done: dict[tuple[int, int], dict[str, Any]]) -> dict[int, Verified]:  # fmt: skip
    """Mean and std of the verified score of each chosen trial (failed runs left out)."""
    key = objective.score_key
    out: dict[int, Verified] = {}
    for t in chosen:
        runs = [r for (n, _), r in sorted(done.items()) if n == t.number and r["status"] == "ok"]
        if not runs:
            continue
        scores = [float(r[key]) for r in runs]
        out[t.number] = Verified(
            trial=t.number,
            proxy=float(t.user_attrs[key]),
            mean=statistics.fmean(scores),
            std=statistics.stdev(scores) if len(scores) > 1 else 0.0,
            runs=len(scores),
            accuracy_mean=statistics.fmean(float(r["accuracy"]) for r in runs),
            seconds=sum(float(r["seconds"]) for r in runs),
            cost=float(t.user_attrs["cost"]),
        )
    return out


def verified_results(plan: RunPlan, study: optuna.Study, run_dir: Path) -> dict[int, Verified]:
    """What ``verify.jsonl`` holds for the current top-k (for reports)."""
    return summarize(plan.objective, candidates(plan, study), read_verified(run_dir))


def verified_best(objective: Objective, verified: dict[int, Verified]) -> int | None:
    """The trial with the best mean verified score (the objective's comparison), or None."""
    if not verified:
        return None
    return min(verified.values(), key=lambda v: objective.sort_key(v.mean, v.cost, v.trial)).trial


def kendall_tau(a: list[float], b: list[float]) -> float:
    """Kendall's tau-a between two score lists of the same candidates (1: same order)."""

    def sign(x: float) -> int:
        return (x > 0) - (x < 0)

    n = len(a)
    pairs = n * (n - 1) // 2
    agree = sum(sign(a[i] - a[j]) * sign(b[i] - b[j]) for i in range(n) for j in range(i + 1, n))
    return agree / pairs if pairs else 1.0
