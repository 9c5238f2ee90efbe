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

import dataclasses
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial

from search_spaces import Architecture, architecture_from_dict

from . import journal
from .data import DataError, Dataset, DataSpec, load_dataset
from .progress import format_duration
from .search import build_objective, completed, pareto_trials, proxy_config
from .spec import ExperimentSpec
from .train import train

__all__ = ["VERIFY_FILE", "Verified", "candidates", "read_verified", "run_verification", "summarize"]

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


def candidates(spec: ExperimentSpec, study: optuna.Study) -> list[FrozenTrial]:
    """The top ``verify.top_k`` trials by proxy score: reward (feasible only for the hard
    form), or for ``pareto`` the feasible members of the front by accuracy."""
    budget = spec.target.budget
    if spec.objective.type == "pareto":
        pool = [t for t in pareto_trials(study) if budget is None or t.user_attrs["cost"] <= budget]
        key = "accuracy"
    else:
        pool = [t for t in completed(study) if t.user_attrs.get("accuracy") is not None
                and t.user_attrs.get("reward") is not None]  # fmt: skip
        if spec.objective.mode == "hard" and budget is not None:
            pool = [t for t in pool if t.user_attrs["cost"] <= budget]
        key = "reward"
    pool.sort(key=lambda t: (-t.user_attrs[key], t.number))
    return pool[: spec.verify.top_k]


def score_key(spec: ExperimentSpec) -> str:
    """What verification compares: the reward, or accuracy for a Pareto search."""
    return "accuracy" if spec.objective.type == "pareto" else "reward"


def read_verified(run_dir: Path) -> dict[tuple[int, int], dict[str, Any]]:
    """Finished verification runs by (trial, seed); a torn last line is skipped."""
    return {(int(r["trial"]), int(r["seed"])): r for r in journal.read(run_dir / VERIFY_FILE)
            if "trial" in r and "seed" in r}  # fmt: skip


def verify_accuracy(arch: Architecture, data: Dataset, spec: ExperimentSpec, seed: int) -> tuple[float, float, str]:
    """(validation accuracy or NaN, seconds, failure reason) of one verification run."""
    v = spec.verify
    assert v.epochs is not None
    config = dataclasses.replace(proxy_config(spec), epochs=v.epochs, seed=seed)
    if config.progressive is not None:
        config = dataclasses.replace(config, progressive=dataclasses.replace(
            config.progressive, stages=min(config.progressive.stages, v.epochs)))  # fmt: skip
    result = train(arch, data, config)
    if result.status != "ok":
        return math.nan, result.seconds, result.reason
    return result.val_accuracy, result.seconds, ""


def run_verification(spec: ExperimentSpec, study: optuna.Study, run_dir: Path, *,
                     log: Callable[[str], None] = print) -> dict[int, Verified]:  # fmt: skip
    """Retrain the top-k candidates with every seed not yet in ``verify.jsonl``."""
    v, p = spec.verify, spec.proxy
    chosen = candidates(spec, study)
    seeds = [spec.seed + i for i in range(v.seeds)]
    path = run_dir / VERIFY_FILE
    done = read_verified(run_dir)
    journal.compact(path, list(done.values()))
    todo = [(t, s) for t in chosen for s in seeds if (t.number, s) not in done]
    total = len(chosen) * len(seeds)
    log(f"verification: top {len(chosen)} by proxy {score_key(spec)}, {len(seeds)} seeds each, "
        f"{v.epochs} epochs on {v.train_size or 'all'} training images; "
        f"{total - len(todo)}/{total} runs done, {len(todo)} to run")  # fmt: skip
    if todo:
        try:
            data = load_dataset(DataSpec(p.dataset, path=p.path, train_size=v.train_size, val_size=p.val_size),
                                seed=spec.seed)  # fmt: skip
        except DataError as exc:
            if "exceeds" not in str(exc):
                raise
            log(f"verification: {exc}; using every training image")
            data = load_dataset(DataSpec(p.dataset, path=p.path, val_size=p.val_size), seed=spec.seed)
        objective = build_objective(spec)
        started = time.perf_counter()
        for i, (trial, seed) in enumerate(todo, 1):
            a = trial.user_attrs
            arch = architecture_from_dict(a["architecture"])
            accuracy, seconds, reason = verify_accuracy(arch, data, spec, seed)
            values = objective.values(accuracy, a["cost"], spec.target.budget, step_ratio=a.get("step_ratio"),
                                      param_ratio=a.get("param_ratio"))  # fmt: skip
            reward = values[0] if objective.single else None
            record = {"trial": trial.number, "seed": seed, "accuracy": accuracy, "reward": reward,
                      "seconds": seconds, "status": "failed" if reason else "ok", "reason": reason}  # fmt: skip
            journal.append(path, record)
            done[(trial.number, seed)] = record
            left = (time.perf_counter() - started) / i * (len(todo) - i)
            log(f"[verify {total - len(todo) + i}/{total}] trial {trial.number} seed {seed}: "
                f"acc {100 * accuracy:.2f}%" + (f"  reward {reward:.4f}" if reward is not None else "")
                + (f"  ({reason})" if reason else "")
                + f" | {seconds:.0f}s | left ~{format_duration(left)}")  # fmt: skip
    return summarize(spec, chosen, done)


def summarize(spec: ExperimentSpec, chosen: list[FrozenTrial],
              done: dict[tuple[int, int], dict[str, Any]]) -> dict[int, Verified]:  # fmt: skip
    """Mean and std of the verified score of each chosen trial (failed runs left out)."""
    key = score_key(spec)
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
        )
    return out


def verified_results(spec: ExperimentSpec, study: optuna.Study, run_dir: Path) -> dict[int, Verified]:
    """What ``verify.jsonl`` holds for the current top-k (for reports)."""
    return summarize(spec, candidates(spec, study), read_verified(run_dir))


def kendall_tau(a: list[float], b: list[float]) -> float:
    """Kendall's tau-a between two score lists of the same candidates (1: same order)."""

    def sign(x: float) -> int:
        return (x > 0) - (x < 0)

    n = len(a)
    pairs = n * (n - 1) // 2
    agree = sum(sign(a[i] - a[j]) * sign(b[i] - b[j]) for i in range(n) for j in range(i + 1, n))
    return agree / pairs if pairs else 1.0
