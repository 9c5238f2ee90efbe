"""``search.executor: ray``: the trials of a search run as Ray Tune trials.

``ray.tune.Tuner`` drives the search with Ray's ``OptunaSearch`` as the search algorithm,
built on the very study, sampler, space and objective of the local path (``nas.search``):
the study lives in the run directory's storage, the define-by-run space is the spec's
space, and each Ray trial runs ``SearchRun.evaluate_arch``. The run directory therefore ends
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

import math
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna

from .search import (
    RUN_ATTRS,
    SearchRun,
    TrialFailed,
    _sampler,
    build_objective,
    build_space,
    finished_trials,
    start_study,
    worker_id,
)
from .spec import ExperimentSpec, spec_from_dict, spec_to_dict

__all__ = ["run_ray"]


def _flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Ray unflattens ``s1.kernel`` into ``{"s1": {"kernel": ...}}``; this undoes it."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _trainable(config: dict[str, Any], *, spec_dict: dict[str, Any], run_dir: str, threads: int) -> None:
    """One Ray trial: the same evaluation as a local trial, reporting every epoch to Tune."""
    import torch
    from ray import tune

    from .costs import StepTimeCache
    from .search import STEP_TIMES

    torch.set_num_threads(threads)
    spec = spec_from_dict(spec_dict)
    run = SearchRun(
        spec, build_space(spec), build_objective(spec), step_cache=StepTimeCache(Path(run_dir) / STEP_TIMES)
    )
    attrs: dict[str, Any] = {"worker": worker_id()}

    def on_epoch(epoch: int, values: list[float], accuracy: float) -> None:
        tune.report({"epoch": epoch, "accuracy": accuracy, **_metric_values(run, values)})

    try:
        values = run.evaluate_arch(run.space.decode(_flatten(config)), attrs, on_epoch=on_epoch)
    except TrialFailed:
        tune.report({"final": True, "failed": True, **attrs})
        return
    tune.report({"final": True, **_metric_values(run, values), **attrs})


def _metric_values(run: SearchRun, values: list[float]) -> dict[str, float]:
    if run.objective.single:
        return {"objective": values[0]}
    return {"objective": values[0], "objective_cost": values[1]}


def _searcher_class() -> type:
    from ray.tune.search.optuna import OptunaSearch

    class StudySearch(OptunaSearch):
        """OptunaSearch that records each trial like the local path does.

        Attributes computed in the Ray worker (costs, accuracy, reward, architecture, the
        reason of a failure) are copied onto the Optuna trial before it is told, and a trial
        stopped early by the scheduler is told as PRUNED.
        """

        def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False) -> None:
            if trial_id in self._completed_trials or trial_id not in self._ot_trials:
                return
            trial = self._ot_trials[trial_id]
            study: optuna.Study = self._ot_study  # type: ignore[assignment]
            result = result or {}
            for key in RUN_ATTRS:
                if key in result:
                    trial.set_user_attr(key, result[key])
            if error or result.get("failed"):
                if "fail_reason" not in result:
                    trial.set_user_attr("fail_reason", "the Ray trial raised an error (see the Ray logs)")
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
            elif not result.get("final"):
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            else:
                values = [result["objective"]] + ([result["objective_cost"]] if "objective_cost" in result else [])
                study.tell(trial, values if len(values) > 1 else values[0])
            self._completed_trials.add(trial_id)

    return StudySearch


def run_ray(spec: ExperimentSpec, run_dir: Path, *, resume: bool, total: int,
            log: Callable[[str], None] = print) -> optuna.Study:  # fmt: skip
    """Run the search on Ray Tune until ``total`` trials have finished."""
    import ray
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    r = spec.search.ray
    study = start_study(spec, run_dir, resume=resume, total=total, log=log)
    remaining = total - len(finished_trials(study))
    if remaining <= 0:
        return study
    objective = build_objective(spec)
    started = time.perf_counter()
    if r.address:
        ray.init(address=r.address, include_dashboard=False, log_to_driver=True)
    else:
        ray.init(num_cpus=r.num_cpus, include_dashboard=False, log_to_driver=True)
    log(f"ray: {'connected to ' + r.address if r.address else 'started a local instance'} in "
        f"{time.perf_counter() - started:.1f}s; {ray.cluster_resources().get('CPU', 0):g} CPUs; "
        f"{r.cpus_per_trial:g} CPU(s) per trial")  # fmt: skip
    space = build_space(spec)
    metric: str | list[str] = "objective" if objective.single else ["objective", "objective_cost"]
    mode: str | list[str] = "max" if objective.single else ["max", "min"]
    searcher = _searcher_class()(
        space=lambda trial: (space.sample(trial), None)[1],
        metric=metric,
        mode=mode,
        sampler=_sampler(spec),
        study_name=spec.name,
        storage=study._storage,
    )
    scheduler = None
    if spec.search.pruner == "asha" and objective.single:
        scheduler = ASHAScheduler(metric="objective", mode="max", time_attr="epoch", max_t=spec.proxy.epochs,
                                  grace_period=1, reduction_factor=2)  # fmt: skip
    threads = max(1, math.floor(r.cpus_per_trial))
    with_spec = tune.with_parameters(_trainable, spec_dict=spec_to_dict(spec), run_dir=str(run_dir.resolve()),
                                     threads=threads)  # fmt: skip
    trainable = tune.with_resources(with_spec, {"cpu": r.cpus_per_trial, "gpu": r.gpus_per_trial})
    scratch = Path(tempfile.mkdtemp(prefix="effnas-ray-"))  # Ray's own result files stay out of the run directory
    done_before = len(finished_trials(study))

    class Progress(tune.Callback):
        def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
            log(f"[{done_before + sum(t.status in ('TERMINATED', 'ERROR') for t in trials)}/{total}] "
                f"ray trial {trial.trial_id} {trial.status.lower()}")  # fmt: skip

    tune_config = tune.TuneConfig(search_alg=searcher, scheduler=scheduler, num_samples=remaining,
                                  max_concurrent_trials=r.max_concurrent_trials)  # fmt: skip
    run_config = tune.RunConfig(name=spec.name, storage_path=str(scratch), verbose=0, callbacks=[Progress()],
                                failure_config=tune.FailureConfig(max_failures=r.max_failures))  # fmt: skip
    tuner = tune.Tuner(trainable, tune_config=tune_config, run_config=run_config)
    try:
        tuner.fit()
    finally:
        ray.shutdown()
        shutil.rmtree(scratch, ignore_errors=True)
    return study
