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
from optuna.trial import FrozenTrial

from scaling.budget import FitError
from search_spaces import Architecture, architecture_hash, architecture_to_dict, count_flops, count_params

from .costs import StepTimeCache, measure_latency_ms
from .data import Dataset
from .estimators import estimate
from .plan import RunPlan
from .screen import ScreenHistory, decide, screen_history
from .study import completed, finished_trials, worker_id
from .train import EpochRecord, train

__all__ = ["RUN_ATTRS", "STEP_TIMES", "TrialEvaluator", "TrialFailed", "trained_networks"]

STEP_TIMES = "step_times.jsonl"

RUN_ATTRS = (
    "worker", "flops", "params", "latency_ms", "step_time", "step_time_iqr", "step_ratio", "param_ratio", "cost",
    "fit_width", "cost_before_fit", "arch_hash", "same_as", "warm_start", "architecture", "skipped", "accuracy",
    "reward", "seconds", "train_seconds", "fail_reason", "screen_score", "screen_seconds", "screen", "cost_source",
)  # fmt: skip
"""Every user attribute a trial may record (``evaluate_arch`` and the worker id)."""

EpochHook = Callable[[int, list[float], float, float], None]
"""``on_epoch(epoch, values, accuracy, tse)``: after each epoch, the objective values, the
validation accuracy and the negated sum of the epochs' mean training losses so far (TSE,
Ru et al. 2021, arXiv 2006.04492: higher is better)."""
Lookup = Callable[[str], "tuple[int, float] | None"]
"""``lookup(arch_hash)``: an earlier trial that trained the same network (its number and accuracy), or None."""


def trained_networks(trials: list[FrozenTrial]) -> dict[str, tuple[int, float]]:
    """Each network that finished trials trained, by ``arch_hash``: the first such trial's number
    and proxy accuracy (what a later trial of the same network takes instead of training)."""
    table: dict[str, tuple[int, float]] = {}
    for t in sorted(trials, key=lambda t: t.number):
        arch_hash, accuracy = t.user_attrs.get("arch_hash"), t.user_attrs.get("accuracy")
        if arch_hash is not None and accuracy is not None and arch_hash not in table:
            table[str(arch_hash)] = (t.number, float(accuracy))
    return table


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
        table = plan.table
        if plan.cost_metric == "latency_ms":
            if table is not None:
                out["latency_ms"] = table.predict(arch)
            else:
                out["latency_ms"] = measure_latency_ms(arch, resolution=t.resolution, num_classes=t.num_classes)
        if plan.measures_steps:
            if table is not None:
                out["step_time"] = table.predict(arch)
            else:
                measured = plan.step_time(self.step_cache, arch)
                out["step_time"], out["step_time_iqr"] = measured.median_ms, measured.iqr_ms
        if plan.objective.uses_ratios:
            base_ms = (
                table.predict(plan.base) if table is not None else plan.step_time(self.step_cache, plan.base).median_ms
            )
            out["step_ratio"] = out["step_time"] / base_ms
            out["param_ratio"] = out["params"] / count_params(plan.base, num_classes=t.num_classes)
        out["cost"] = out[plan.cost_metric]
        return out

    def cost_source(self) -> str | None:
        """How the cost metric was obtained, for ``trials.csv``: ``table`` (predicted from
        ``target.table``), ``measured`` (timed on this machine), or None where it is counted."""
        if self.plan.cost_metric not in ("latency_ms", "step_time"):
            return None
        return "table" if self.plan.table is not None else "measured"

    def evaluate(self, trial: optuna.Trial) -> list[float]:
        """The Optuna objective: sample, then ``evaluate_arch``; the pruner sees every epoch."""
        trial.set_user_attr("worker", worker_id())  # first: a dead worker's trial is found by it
        attrs: dict[str, Any] = {}

        def on_epoch(epoch: int, values: list[float], accuracy: float, tse: float) -> None:
            if not self.plan.objective.single:
                return
            trial.report(tse if self.plan.spec.search.prune_on == "tse" else values[0], epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned after epoch {epoch}")

        def lookup(arch_hash: str) -> tuple[int, float] | None:
            return trained_networks(completed(trial.study)).get(arch_hash)

        def history() -> ScreenHistory:
            return screen_history(finished_trials(trial.study))

        try:
            return self.evaluate_arch(self.plan.space.sample(trial), attrs, on_epoch=on_epoch, lookup=lookup,
                                      history=history)  # fmt: skip
        finally:
            for key, value in attrs.items():
                trial.set_user_attr(key, value)
            constraint = self.plan.objective.constraint(attrs["cost"]) if "cost" in attrs else None
            if constraint is not None:
                trial.set_constraint("budget", constraint)

    def evaluate_arch(
        self,
        arch: Architecture,
        attrs: dict[str, Any],
        *,
        on_epoch: EpochHook | None = None,
        lookup: Lookup | None = None,
        history: Callable[[], ScreenHistory] | None = None,
    ) -> list[float]:
        """Fit, count, (maybe) train and score ``arch``; what a trial records goes into ``attrs``.

        With a fitted budget (``RunPlan.fits``) the candidate is first rescaled into
        [lower * T, T]; one that cannot land is recorded as skipped, untrained, with reward 0.
        ``lookup(arch_hash)`` finds an earlier trial of the same network: its result is
        taken (``same_as``) and nothing is trained again. With ``proxy.screen``, the candidate
        is scored first and trained only if ``nas.screen.decide`` keeps it, given
        ``history()``. ``on_epoch`` (``EpochHook``) sees every epoch; it may raise to stop
        the trial (a pruner does). Any failure of the candidate (in measuring or in training)
        raises ``TrialFailed`` with ``attrs["fail_reason"]`` set.
        """
        plan, objective = self.plan, self.plan.objective
        started = time.perf_counter()
        train_started: float | None = None  # set once training starts (a skipped trial trains nothing)
        try:
            if plan.fits:
                try:
                    fit = plan.fit(arch)
                except FitError as exc:
                    unfitted = self.cost(arch)
                    attrs.update(unfitted, cost_before_fit=unfitted["cost"], accuracy=None, reward=0.0,
                                 architecture=architecture_to_dict(arch))  # fmt: skip
                    band = f"[{plan.spec.target.lower:g} x budget, budget]"
                    attrs["skipped"] = f"cannot land in {band}: {exc}; not trained"
                    return [0.0]
                arch = fit.arch
                attrs.update(fit_width=fit.width, cost_before_fit=float(fit.cost_before))
            costs = self.cost(arch)
            attrs.update(costs)
            if (source := self.cost_source()) is not None:
                attrs["cost_source"] = source
            attrs["architecture"] = architecture_to_dict(arch)
            attrs["arch_hash"] = architecture_hash(arch)
            if objective.skips(costs["cost"]):
                attrs["skipped"] = (f"over budget: {plan.cost_metric} {costs['cost']:.6g} > "
                                    f"{objective.budget:.6g}; not trained (hard constraint)")  # fmt: skip
                attrs.update(accuracy=None, reward=0.0)
                return [0.0]
            earlier = lookup(attrs["arch_hash"]) if lookup is not None else None
            if earlier is not None:  # the same network was trained already: its result stands
                number, accuracy = earlier
                values = objective.values(accuracy, costs)
                attrs.update(accuracy=accuracy, reward=objective.reward(values), same_as=number)
                return values
            screen = plan.spec.proxy.screen
            if screen is not None and history is not None:
                score = estimate(screen.estimator, arch, self.dataset(), resolution=plan.train.resolution,
                                 target_resolution=plan.spec.target.resolution, num_classes=plan.num_classes,
                                 batch_size=screen.batch_size, seed=plan.spec.seed)  # fmt: skip
                decision = decide(screen, score.value, history())
                attrs.update(screen_score=score.value, screen_seconds=score.seconds, screen=decision.note)
                if not decision.train:
                    attrs.update(skipped=f"{decision.note}; not trained", accuracy=None, reward=0.0)
                    return [0.0]

            losses: list[float] = []

            def report(record: EpochRecord) -> None:
                losses.append(record.train_loss)
                values = objective.values(record.val_accuracy, costs)
                now = time.perf_counter()  # after each epoch, attrs hold the trial as if it ended here
                attrs.update(accuracy=record.val_accuracy, reward=objective.reward(values),
                             seconds=now - started, train_seconds=now - (train_started or started))  # fmt: skip
                if on_epoch is not None:
                    on_epoch(record.epoch, values, record.val_accuracy, -sum(losses))

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
