"""The evaluation of one trial, shared by every executor.

A trial samples an architecture, counts its cost at the *target* resolution and class
count, trains it on the proxy task (unless the hard-constraint objective rules it out on
cost alone), and returns its objective values. What it records goes into its user
attributes (``RUN_ATTRS``); a candidate that fails is recorded with its reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna

from search_spaces import Architecture, architecture_to_dict, count_flops, count_params

from .costs import StepTimeCache, measure_latency_ms
from .data import Dataset
from .plan import RunPlan
from .study import worker_id
from .train import EpochRecord, train

__all__ = ["RUN_ATTRS", "STEP_TIMES", "TrialEvaluator", "TrialFailed"]

STEP_TIMES = "step_times.jsonl"

RUN_ATTRS = (
    "worker", "flops", "params", "latency_ms", "step_time", "step_time_iqr", "step_ratio", "param_ratio", "cost",
    "architecture", "skipped", "accuracy", "reward", "seconds", "train_seconds", "fail_reason",
)  # fmt: skip
"""Every user attribute a trial may record (``evaluate_arch`` and the worker id)."""

EpochHook = Callable[[int, list[float], float], None]


class TrialFailed(Exception):
    """A trial that could not be scored; its reason is in the trial's ``fail_reason``."""


class TrialEvaluator:
    """What a trial needs: the plan, the proxy data (loaded once) and the step-time cache.

    Step times are measured through the cache (``step_times.jsonl`` in the run directory),
    so a resumed search does not measure an architecture twice; the base network's own step
    time and params are the denominators of S and P.
    """

    def __init__(self, plan: RunPlan, run_dir: Path) -> None:
        self.plan = plan
        self.step_cache = StepTimeCache(run_dir / STEP_TIMES)
        self._data: Dataset | None = None

    def dataset(self) -> Dataset:
        if self._data is None:
            self._data = self.plan.load_data()
        return self._data

    def cost(self, arch: Architecture) -> dict[str, float]:
        """FLOPs and params at the target resolution and class count, measured costs, the cost metric.

        With step times: ``step_time`` (median ms) and ``step_time_iqr``, and for the
        training-aware reward ``step_ratio`` (S) and ``param_ratio`` (P) against the base.
        """
        plan, t = self.plan, self.plan.spec.target
        out: dict[str, float] = {
            "flops": float(count_flops(arch, resolution=t.resolution, num_classes=t.num_classes)),
            "params": float(count_params(arch, num_classes=t.num_classes)),
        }
        if plan.cost_metric == "latency_ms":
            out["latency_ms"] = measure_latency_ms(arch, resolution=t.resolution, num_classes=t.num_classes)
        if plan.measures_steps:
            measured = plan.step_time(self.step_cache, arch)
            out["step_time"], out["step_time_iqr"] = measured.median_ms, measured.iqr_ms
        if plan.objective.uses_ratios:
            out["step_ratio"] = out["step_time"] / plan.step_time(self.step_cache, plan.base).median_ms
            out["param_ratio"] = out["params"] / count_params(plan.base, num_classes=t.num_classes)
        out["cost"] = out[plan.cost_metric]
        return out

    def evaluate(self, trial: optuna.Trial) -> list[float]:
        """The Optuna objective: sample, then ``evaluate_arch``; the pruner sees every epoch."""
        trial.set_user_attr("worker", worker_id())  # first: a dead worker's trial is found by it
        attrs: dict[str, Any] = {}

        def on_epoch(epoch: int, values: list[float], accuracy: float) -> None:
            if not self.plan.objective.single:
                return
            trial.report(values[0], epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned after epoch {epoch}")

        try:
            return self.evaluate_arch(self.plan.space.sample(trial), attrs, on_epoch=on_epoch)
        finally:
            for key, value in attrs.items():
                trial.set_user_attr(key, value)
            constraint = self.plan.objective.constraint(attrs["cost"]) if "cost" in attrs else None
            if constraint is not None:
                trial.set_constraint("budget", constraint)

    def evaluate_arch(
        self, arch: Architecture, attrs: dict[str, Any], *, on_epoch: EpochHook | None = None
    ) -> list[float]:
        """Count, (maybe) train and score ``arch``; what a trial records goes into ``attrs``.

        ``on_epoch(epoch, values, accuracy)`` sees the objective values after every epoch; it
        may raise to stop the trial (a pruner does). Any failure of the candidate (in
        measuring or in training) raises ``TrialFailed`` with ``attrs["fail_reason"]`` set.
        """
        objective = self.plan.objective
        started = time.perf_counter()
        train_started: float | None = None  # set once training starts (a skipped trial trains nothing)
        try:
            costs = self.cost(arch)
            attrs.update(costs)
            attrs["architecture"] = architecture_to_dict(arch)
            if objective.skips(costs["cost"]):
                attrs["skipped"] = (f"over budget: {self.plan.cost_metric} {costs['cost']:.6g} > "
                                    f"{objective.budget:.6g}; not trained (hard constraint)")  # fmt: skip
                attrs.update(accuracy=None, reward=0.0)
                return [0.0]

            def report(record: EpochRecord) -> None:
                values = objective.values(record.val_accuracy, costs)
                now = time.perf_counter()  # after each epoch, attrs hold the trial as if it ended here
                attrs.update(accuracy=record.val_accuracy, reward=objective.reward(values),
                             seconds=now - started, train_seconds=now - (train_started or started))  # fmt: skip
                if on_epoch is not None:
                    on_epoch(record.epoch, values, record.val_accuracy)

            data = self.dataset()
            train_started = time.perf_counter()
            result = train(arch, data, self.plan.train, callback=report)
            if result.status != "ok":
                raise TrialFailed(result.reason)
            values = objective.values(result.val_accuracy, costs)
            attrs.update(accuracy=result.val_accuracy, reward=objective.reward(values))
            return values
        except TrialFailed as exc:
            attrs["fail_reason"] = str(exc)
            raise
        except optuna.TrialPruned:
            raise
        except Exception as exc:  # any failure of one candidate is recorded; the search goes on
            attrs["fail_reason"] = f"{type(exc).__name__}: {exc}".splitlines()[0]
            raise TrialFailed(attrs["fail_reason"]) from exc
        finally:  # pruned and failed trials trained too: their time counts as training
            if train_started is not None:
                attrs["train_seconds"] = time.perf_counter() - train_started
            attrs["seconds"] = time.perf_counter() - started
