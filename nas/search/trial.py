"""The evaluation of one trial, shared by every executor.

A trial samples an architecture, counts its cost at the *target* resolution and class
count, trains it on the proxy task (unless the hard-constraint objective rules it out on
cost alone), and returns its objective values. What it records goes into its user
attributes (``RUN_ATTRS``); a candidate that fails is recorded with its reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial

from nas.measure.costs import StepTimeCache, measure_latency_ms
from nas.objectives import Objective
from nas.plan import RunPlan
from nas.search.accuracy import Lookup, SourceFailed, source_for
from nas.search.screen import ScreenHistory, screen_history
from nas.search.study import completed, finished_trials, worker_id
from nas.training.data import Dataset
from nas.training.train import EpochRecord
from scaling.budget import FitError
from search_spaces import Architecture, architecture_hash, architecture_to_dict, count_flops, count_params

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
        """Fit, count, score and value ``arch``; what a trial records goes into ``attrs``.

        With a fitted budget (``RunPlan.fits``) the candidate is first rescaled into
        [lower * T, T]; one that cannot land is recorded as skipped. So is one over a hard
        budget. The accuracy comes from the plan's ``AccuracySource`` (``nas.search.accuracy``:
        an earlier trial of the same network through ``lookup``, the screen given
        ``history()``, proxy training); a source that declines leaves the candidate untrained.
        Untrained candidates get ``Objective.untrained_values``. ``on_epoch`` (``EpochHook``)
        sees every training epoch; it may raise to stop the trial (a pruner does). Any failure
        of the candidate raises ``TrialFailed`` with ``attrs["fail_reason"]`` set.
        """
        clock = _Clock()
        try:
            fitted = self._fitted(arch, attrs)
            if fitted is None:
                return self._untrained(attrs, attrs["cost"])
            costs = self._record_costs(fitted, attrs)
            if self.plan.objective.skips(costs["cost"]):
                attrs["skipped"] = (f"over budget: {self.plan.cost_metric} {costs['cost']:.6g} > "
                                    f"{self.plan.objective.budget:.6g}; not trained (hard constraint)")  # fmt: skip
                return self._untrained(attrs, costs["cost"])
            source = source_for(self.plan, self.dataset, lookup=lookup, history=history)
            estimate = source.estimate(fitted, _TrialProgress(self.plan.objective, costs, attrs, clock, on_epoch))
            if estimate.accuracy is None:
                attrs["skipped"] = f"{estimate.declined}; not trained"
                return self._untrained(attrs, costs["cost"])
            values = self.plan.objective.values(estimate.accuracy, costs)
            attrs.update(accuracy=estimate.accuracy, reward=self.plan.objective.reward(values))
            return values
        except TrialFailed as exc:
            attrs["fail_reason"] = str(exc)
            raise
        except SourceFailed as exc:
            attrs["fail_reason"] = str(exc)
            raise TrialFailed(str(exc)) from exc
        except optuna.TrialPruned:
            raise
        except Exception as exc:  # any failure of one candidate is recorded; the search goes on
            attrs["fail_reason"] = f"{type(exc).__name__}: {exc}".splitlines()[0]
            raise TrialFailed(attrs["fail_reason"]) from exc
        finally:  # pruned and failed trials trained too: their time counts as training
            clock.stop(attrs)

    def _fitted(self, arch: Architecture, attrs: dict[str, Any]) -> Architecture | None:
        """``arch`` fitted to the budget band (unchanged without one); None, recorded as skipped, if it cannot land."""
        plan = self.plan
        if not plan.fits:
            return arch
        try:
            fit = plan.fit(arch)
        except FitError as exc:
            unfitted = self.cost(arch)
            attrs.update(unfitted, cost_before_fit=unfitted["cost"], architecture=architecture_to_dict(arch))
            band = f"[{plan.spec.target.lower:g} x budget, budget]"
            attrs["skipped"] = f"cannot land in {band}: {exc}; not trained"
            return None
        attrs.update(fit_width=fit.width, cost_before_fit=float(fit.cost_before))
        if fit.rule == "compound":  # too deep for the budget: made shallower by the compound rule
            attrs.update(fit_depth=fit.depth, fit_phi=fit.phi)
        if fit.adjusted:
            attrs["fit_adjusted"] = fit.adjusted  # 8-channel steps that landed it in the band
        return fit.arch

    def _record_costs(self, arch: Architecture, attrs: dict[str, Any]) -> dict[str, float]:
        """Count and record the candidate's costs, its JSON and its hash."""
        costs = self.cost(arch)
        attrs.update(costs)
        if (source := self.cost_source()) is not None:
            attrs["cost_source"] = source
        attrs["architecture"] = architecture_to_dict(arch)
        attrs["arch_hash"] = architecture_hash(arch)
        return costs

    def _untrained(self, attrs: dict[str, Any], cost: float) -> list[float]:
        """Record a candidate that was not trained; its values are the objective's untrained ones."""
        values = self.plan.objective.untrained_values(float(cost))
        attrs.update(accuracy=None, reward=self.plan.objective.reward(values))
        return values


class _Clock:
    """A trial's wall time, and its training time from the moment a source starts training."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.train_started: float | None = None

    def stop(self, attrs: dict[str, Any]) -> None:
        now = time.perf_counter()
        if self.train_started is not None:
            attrs["train_seconds"] = now - self.train_started
        attrs["seconds"] = now - self.started


@dataclass
class _TrialProgress:
    """A source's training progress, as the trial records it: after each epoch the attrs hold
    the trial as if it ended there, and ``on_epoch`` sees the objective values and TSE."""

    objective: Objective
    costs: dict[str, float]
    attrs: dict[str, Any]
    clock: _Clock
    on_epoch: EpochHook | None
    losses: list[float] = field(default_factory=list)

    def record(self, **attrs: Any) -> None:
        self.attrs.update(attrs)

    def training_started(self) -> None:
        self.clock.train_started = time.perf_counter()

    def epoch(self, record: EpochRecord) -> None:
        self.losses.append(record.train_loss)
        values = self.objective.values(record.val_accuracy, self.costs)
        now, started = time.perf_counter(), self.clock.started
        train_started = self.clock.train_started or started
        self.attrs.update(accuracy=record.val_accuracy, reward=self.objective.reward(values),
                          seconds=now - started, train_seconds=now - train_started)  # fmt: skip
        if self.on_epoch is not None:
            self.on_epoch(record.epoch, values, record.val_accuracy, -sum(self.losses))
