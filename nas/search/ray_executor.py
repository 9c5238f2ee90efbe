"""``search.executor: ray``: the trials of a search run as Ray Tune trials.

``ray.tune.Tuner`` drives the search with Ray's ``OptunaSearch`` as the search algorithm,
built on the very study, sampler, space and objective of the local path (``nas.search.loop``):
the study lives in the run directory's storage, the define-by-run space is the plan's
space, and each Ray trial runs ``TrialEvaluator.evaluate_arch``. The run directory therefore ends
up with the same files as a local run.

- For single-objective rewards, ``pruner: asha`` is Ray's ``ASHAScheduler`` on the
  per-epoch proxy reward (the distributed counterpart of the median pruner); a trial it
  stops is recorded as PRUNED.
- ``ray.address`` connects to a running cluster (``ray start --head`` and
  ``ray start --address=...``); without it a local Ray instance starts with ``num_cpus``.
- ``FailureConfig(max_failures)`` retries a trial whose Ray worker died; a trial that
  still fails is recorded as FAIL with its reason, and the search goes on.
- A killed driver resumes from the study (``nas search --resume``): completed trials are
  kept, the trials that were running are marked failed as interrupted, and a new Tuner
  runs the rest.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna

from nas.plan import RunPlan
from nas.search.loop import start_study
from nas.search.screen import ScreenHistory, screen_history
from nas.search.study import completed, finished_trials, make_sampler, study_storage, worker_id
from nas.search.trial import RUN_ATTRS, TrialEvaluator, TrialFailed, trained_networks
from nas.training.threads import set_process_threads
from search_spaces import Space

__all__ = ["run_ray"]

ATTRS = "effnas_attrs"  # the trial's user attributes, as one JSON string (Tune flattens nested results)
KNOWN = "effnas_known"  # config key: what earlier trials tell this one (``_known``), as one JSON string


def _flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Ray unflattens ``s1.kernel`` into ``{"s1": {"kernel": ...}}``; this undoes it."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _trainable(config: dict[str, Any], *, wire: dict[str, Any], run_dir: str, threads: int) -> None:
    """One Ray trial: the same evaluation as a local trial, reporting every epoch to Tune."""
    from ray import tune

    set_process_threads(threads)
    plan = RunPlan.from_wire(wire)
    run = TrialEvaluator(plan, Path(run_dir))
    attrs: dict[str, Any] = {"worker": worker_id()}
    last = [0]

    def on_epoch(epoch: int, values: list[float], accuracy: float, tse: float) -> None:
        # Every epoch reports the whole trial so far: the scheduler may stop it after any
        # epoch (ASHA stops at max_t too), so the last report must be complete on its own.
        last[0] = epoch
        tune.report({"epoch": epoch, **_metric_values(values), ATTRS: json.dumps(attrs)})

    known = json.loads(config.get(KNOWN, "{}"))
    trained = {h: (int(n), float(a)) for h, (n, a) in known.get("trained", {}).items()}
    history = ScreenHistory.from_wire(known.get("screen", [[], []]))
    params = _flatten({k: v for k, v in config.items() if k != KNOWN})
    try:
        values = run.evaluate_arch(plan.space.decode(params), attrs, on_epoch=on_epoch, lookup=trained.get,
                                   history=lambda: history)  # fmt: skip
    except TrialFailed:
        tune.report({"epoch": last[0], "failed": True, ATTRS: json.dumps(attrs)})
        return
    if last[0] == 0:  # scored without training (hard constraint, over budget)
        tune.report({"epoch": plan.train.epochs, **_metric_values(values), ATTRS: json.dumps(attrs)})


METRICS = ("objective", "objective_cost")  # Tune's names for the objective values, in Optuna's order


def _metric_values(values: list[float]) -> dict[str, float]:
    return dict(zip(METRICS, values, strict=False))


@dataclass(frozen=True)
class _DefineByRun:
    """The spec's space as OptunaSearch's define-by-run function (picklable, for Tune's checkpoints)."""

    space: Space

    def __call__(self, trial: Any) -> None:
        self.space.sample(trial)


def _searcher_class() -> type:
    from ray.tune.search.optuna import OptunaSearch

    class StudySearch(OptunaSearch):
        """OptunaSearch that records each trial like the local path does.

        Attributes computed in the Ray worker (costs, accuracy, reward, architecture, the
        reason of a failure) are copied onto the Optuna trial before it is told, and a trial
        stopped early by the scheduler is told as PRUNED.
        """

        final_epoch = 1  # the proxy's epoch count: a trial that reported it finished

        def suggest(self, trial_id: str) -> dict[str, Any] | None:
            """The sampled configuration, plus what earlier trials tell it (``KNOWN``): the networks
            already trained (a trial of one of them takes that result instead of training) and
            the screen's history, as a local trial reads them from the study. A worker on
            another node need not reach the study's storage for them."""
            config = super().suggest(trial_id)
            found = _optuna_trial(self, trial_id) if isinstance(config, dict) else None
            if isinstance(config, dict) and found is not None:
                study = found[0]
                config[KNOWN] = json.dumps({"trained": trained_networks(completed(study)),
                                            "screen": screen_history(finished_trials(study)).to_wire()})  # fmt: skip
            return config

        def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False) -> None:
            found = _optuna_trial(self, trial_id)
            if found is None:
                return
            study, trial = found
            result = result or {}
            attrs = json.loads(result.get(ATTRS, "{}"))
            for key in RUN_ATTRS:
                if key in attrs:
                    trial.set_user_attr(key, attrs[key])
            if error or result.get("failed"):
                if "fail_reason" not in attrs:
                    trial.set_user_attr("fail_reason", "the Ray trial raised an error (see the Ray logs)")
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
            elif result.get("epoch", 0) < self.final_epoch:  # stopped early by the scheduler
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            else:
                values = [result[m] for m in METRICS if m in result]
                study.tell(trial, values if len(values) > 1 else values[0])
            _mark_completed(self, trial_id)

    return StudySearch


def _optuna_trial(searcher: Any, trial_id: str) -> tuple[optuna.Study, optuna.Trial] | None:
    """The Optuna study and trial behind Ray trial ``trial_id``, or None if it was already told.

    OptunaSearch has no public API to reach the Optuna trial of a Ray trial, which is needed
    to record the trial's attributes and a PRUNED state; it keeps them in ``_ot_study``,
    ``_ot_trials`` and ``_completed_trials``. This function and ``_mark_completed`` are the
    only places effnas reads them (``tests/nas/test_ray.py`` fails if Ray drops them).
    """
    if trial_id in searcher._completed_trials or trial_id not in searcher._ot_trials:
        return None
    return searcher._ot_study, searcher._ot_trials[trial_id]


def _mark_completed(searcher: Any, trial_id: str) -> None:
    """Tell OptunaSearch the trial is done, as its own ``on_trial_complete`` does (see ``_optuna_trial``)."""
    searcher._completed_trials.add(trial_id)


def run_ray(plan: RunPlan, run_dir: Path, *, resume: bool, total: int,
            log: Callable[[str], None] = print) -> optuna.Study:  # fmt: skip
    """Run the search on Ray Tune until ``total`` trials have finished."""
    r = plan.spec.search.ray
    # `ray start` turns on token authentication when ~/.ray/auth_token exists (the first
    # ray.init writes it); a driver joining that cluster must too, and Ray reads the mode
    # when it is imported.
    if r.address and "RAY_AUTH_MODE" not in os.environ and (Path.home() / ".ray" / "auth_token").is_file():
        os.environ["RAY_AUTH_MODE"] = "token"
    import ray

    study = start_study(plan, run_dir, resume=resume, total=total, log=log)
    remaining = total - len(finished_trials(study))
    if remaining <= 0:
        return study
    _start_ray(plan, log)
    scratch = Path(tempfile.mkdtemp(prefix="effnas-ray-"))  # Ray's own result files stay out of the run directory
    tuner = _tuner(plan, run_dir, study, remaining, scratch, _progress_callback(plan, study, total, log))
    try:
        tuner.fit()
    finally:
        ray.shutdown()
        shutil.rmtree(scratch, ignore_errors=True)
    return study


def _start_ray(plan: RunPlan, log: Callable[[str], None]) -> None:
    """Join ``search.ray.address``, or start a local instance with ``num_cpus``."""
    import ray

    r = plan.spec.search.ray
    started = time.perf_counter()
    if r.address:
        ray.init(address=r.address, include_dashboard=False, log_to_driver=True)
    else:
        ray.init(num_cpus=r.num_cpus, include_dashboard=False, log_to_driver=True)
    log(f"ray: {'connected to ' + r.address if r.address else 'started a local instance'} in "
        f"{time.perf_counter() - started:.1f}s; {ray.cluster_resources().get('CPU', 0):g} CPUs; "
        f"{r.cpus_per_trial:g} CPU(s) per trial")  # fmt: skip


def _tuner(plan: RunPlan, run_dir: Path, study: optuna.Study, remaining: int, scratch: Path, progress: Any) -> Any:
    """A ``tune.Tuner`` over the run's own study: OptunaSearch as the search algorithm, ASHA when asked."""
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    spec, objective, r = plan.spec, plan.objective, plan.spec.search.ray
    modes = objective.modes
    metrics = list(METRICS[: len(modes)])
    searcher = _searcher_class()(
        space=_DefineByRun(plan.space),
        metric=metrics[0] if objective.single else metrics,
        mode=modes[0] if objective.single else modes,
        sampler=make_sampler(plan),
        study_name=spec.name,
        storage=study_storage(plan, run_dir),
    )
    epochs = plan.train.epochs
    searcher.final_epoch = epochs
    scheduler = None
    if spec.search.pruner == "asha" and objective.single:
        scheduler = ASHAScheduler(metric=metrics[0], mode=modes[0], time_attr="epoch", max_t=epochs,
                                  grace_period=1, reduction_factor=2)  # fmt: skip
    with_spec = tune.with_parameters(_trainable, wire=plan.to_wire(), run_dir=str(run_dir.resolve()),
                                     threads=plan.worker_threads(cpus=r.cpus_per_trial))  # fmt: skip
    trainable = tune.with_resources(with_spec, {"cpu": r.cpus_per_trial, "gpu": r.gpus_per_trial})
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")  # the run directory holds the results
    minutes = spec.search.timeout_minutes
    # reuse_actors: a finished trial's Ray worker takes the next one (torch and the package
    # already imported) instead of a fresh process per trial.
    tune_config = tune.TuneConfig(search_alg=searcher, scheduler=scheduler, num_samples=remaining,
                                  max_concurrent_trials=r.max_concurrent_trials, reuse_actors=True,
                                  time_budget_s=None if minutes is None else 60 * minutes)  # fmt: skip
    run_config = tune.RunConfig(name=spec.name, storage_path=str(scratch), verbose=0, callbacks=[progress],
                                failure_config=tune.FailureConfig(max_failures=r.max_failures))  # fmt: skip
    return tune.Tuner(trainable, tune_config=tune_config, run_config=run_config)


def _progress_callback(plan: RunPlan, study: optuna.Study, total: int, log: Callable[[str], None]) -> Any:
    """A Tune callback that logs each finished trial as the local executor does."""
    return _progress_class()(log, plan.train.epochs, len(finished_trials(study)), total)


def _progress_class() -> type:
    """The callback's class. Tune pickles the Tuner, callbacks included, so the class closes over
    nothing and an instance's state leaves the log function out (``print``, which Ray may
    have replaced by then, does not pickle)."""
    from ray import tune

    class Progress(tune.Callback):
        def __init__(self, log: Callable[[str], None], epochs: int, done_before: int, total: int) -> None:
            self.log: Callable[[str], None] | None = log
            self.epochs, self.done_before, self.total = epochs, done_before, total

        def __getstate__(self) -> dict[str, Any]:
            return {**self.__dict__, "log": None}

        def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
            if self.log is None:
                return
            finished = self.done_before + sum(t.status in ("TERMINATED", "ERROR") for t in trials if t is not trial) + 1
            result = trial.last_result or {}
            attrs = json.loads(result.get(ATTRS, "{}"))
            state = "failed" if result.get("failed") else (
                "complete" if result.get("epoch", 0) >= self.epochs else "stopped early")  # fmt: skip
            accuracy = attrs.get("accuracy")
            self.log(f"[{finished}/{self.total}] ray trial {trial.trial_id} {state}"
                     + (f"  acc {100 * accuracy:.2f}%" if isinstance(accuracy, float) else "")
                     + (f"  reward {attrs['reward']:.4f}" if isinstance(attrs.get("reward"), float) else "")
                     + (f"  ({attrs['fail_reason']})" if attrs.get("fail_reason") else ""))  # fmt: skip

    return Progress
