"""The study runner: an Optuna study over a search space, stored in a run directory.

Every trial samples an architecture, counts its cost at the *target* resolution and class
count, trains it on the proxy task (unless the hard-constraint objective rules it out on
cost alone), and returns its reward. The study lives in storage (SQLite in the run
directory by default), so a killed search resumes with no completed trial lost or repeated;
a trial that was running when the process died is marked failed with that reason.
"""

from __future__ import annotations

import dataclasses
import math
import os
import socket
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState

from search_spaces import (
    SPACES,
    Architecture,
    Space,
    architecture_to_dict,
    count_flops,
    count_params,
    load_architecture,
)

from .costs import StepSettings, StepTime, StepTimeCache, measure_latency_ms
from .data import Dataset, DataSpec, load_dataset
from .objectives import Objective
from .progress import format_duration
from .spec import ExperimentSpec, dump_spec, load_spec, spec_to_dict
from .train import ProgressiveConfig, TrainConfig, train

__all__ = ["FINISHED", "RunError", "SearchRun", "build_space", "open_study", "run_search"]

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
STEP_TIMES = "step_times.jsonl"
INTERRUPTED = "interrupted: the process running this trial stopped before it finished"


class RunError(ValueError):
    """A run directory that cannot be used as asked (exit code 2)."""


class TrialFailed(Exception):
    """A trial that could not be scored; its reason is in the trial's ``fail_reason``."""


def build_space(spec: ExperimentSpec) -> Space:
    """The spec's space around its base, with the base moved to the target resolution."""
    s = spec.space
    base = dataclasses.replace(load_architecture(s.base_ref), resolution=spec.target.resolution)
    return SPACES[s.type](base=base, **s.given_choices())


def build_objective(spec: ExperimentSpec) -> Objective:
    o = spec.objective
    if o.type == "pareto":
        return Objective("pareto")
    if o.type == "training_aware":
        assert o.w is not None and o.v is not None  # resolved by the spec
        return Objective("training_aware", w=o.w, v=o.v)
    if o.mode == "hard":
        return Objective("mnas", 0.0, -1.0, hard=True)
    if o.mode == "custom":
        assert o.alpha is not None and o.beta is not None  # checked by the spec
        return Objective("mnas", o.alpha, o.beta)
    return Objective("mnas", -0.07, -0.07)


def proxy_config(spec: ExperimentSpec) -> TrainConfig:
    """The trainer settings of the spec's proxy, with its progressive schedule if any."""
    p = spec.proxy
    progressive = None
    if p.progressive is not None:
        g = p.progressive
        progressive = ProgressiveConfig(
            stages=g.stages, min_size=g.min_size or max(1, p.resolution // 2), max_size=p.resolution,
            dropout=(g.dropout[0], g.dropout[1]), randaug=(g.randaug[0], g.randaug[1]), mixup=(g.mixup[0], g.mixup[1]),
        )  # fmt: skip
    return TrainConfig(epochs=p.epochs, batch_size=p.batch_size, optimizer=p.optimizer, lr=p.lr,
                       weight_decay=p.weight_decay, resolution=p.resolution, seed=spec.seed,
                       threads=p.threads, bn_recalibrate=p.bn_recalibrate, progressive=progressive)  # fmt: skip


def step_settings(spec: ExperimentSpec) -> StepSettings:
    """How this spec measures the training step time (``target.step``), at the target's class count."""
    m, t = spec.target.step, spec.target
    return StepSettings(batch_size=m.batch_size, resolution=m.resolution or t.resolution, num_classes=t.num_classes,
                        device=m.device, threads=m.threads, warmup=m.warmup, steps=m.steps,
                        optimizer=spec.proxy.optimizer)  # fmt: skip


def make_sampler(spec: ExperimentSpec, worker: int = 0) -> optuna.samplers.BaseSampler:
    """The spec's sampler. Every setting that Optuna 5 changed by default is written out.

    Parallel workers get seeds ``seed + worker`` (the same seed would make them propose the
    same random start-up trials), and TPE's constant liar, which treats running trials as
    bad, so that workers do not all close in on the same point.
    """
    name, seed = spec.search.sampler, spec.seed + worker
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=min(50, max(4, spec.search.trials // 4)))
    # Random start-up trials: Optuna's 10, but at most a quarter of a small budget.
    startup = max(3, min(10, spec.search.trials // 4))
    # The training-aware space is conditional (SE only on MBConv stages): group=True lets the
    # multivariate TPE model each sub-space that occurs, instead of falling back to independent.
    conditional = spec.space.type == "training_aware"
    with warnings.catch_warnings():  # multivariate and group are stable in use, still marked experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=conditional,
                                          constant_liar=spec.search.workers > 1, n_startup_trials=startup)  # fmt: skip


def _pruner(spec: ExperimentSpec) -> optuna.pruners.BasePruner:
    if spec.objective.type == "pareto" or spec.search.pruner == "none":
        return optuna.pruners.NopPruner()
    if spec.search.pruner == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=2)
    return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0)


JOURNAL = "study.journal"


def storage_url(spec: ExperimentSpec, run_dir: Path) -> str:
    """Where the study lives, as shown to users: the spec's URL, the journal file, or SQLite."""
    if spec.search.storage:
        return spec.search.storage
    if spec.search.workers > 1 or (run_dir / JOURNAL).exists():
        return str((run_dir / JOURNAL).resolve())
    return f"sqlite:///{(run_dir / 'study.db').resolve()}"


def redacted_url(url: str) -> str:
    """A storage URL fit for logs and errors: user and password left out."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}***@{rest.split('@', 1)[1]}" if sep and "@" in rest else url


def study_storage(spec: ExperimentSpec, run_dir: Path) -> str | optuna.storages.BaseStorage:
    """The Optuna storage of a run.

    Default: SQLite in the run directory for one worker; a JournalStorage file
    (``study.journal``, safe for several processes on one machine) for more. A
    ``search.storage`` URL (any RDB, such as PostgreSQL) lets workers on other machines
    join; those get Optuna's heartbeat, so a trial of a worker that dies is failed.
    """
    url = storage_url(spec, run_dir)
    if "://" not in url:
        return optuna.storages.JournalStorage(JournalFileBackend(url))
    if url.startswith("sqlite:"):
        return url
    return optuna.storages.RDBStorage(url, heartbeat_interval=HEARTBEAT_S, grace_period=3 * HEARTBEAT_S)


HEARTBEAT_S = 30


def open_study(spec: ExperimentSpec, run_dir: Path, *, create: bool, worker: int = 0) -> optuna.Study:
    """Create the study of a new run, or load the study of an existing one (as worker ``worker``)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = redacted_url(storage_url(spec, run_dir))
    storage = study_storage(spec, run_dir)
    if create:
        try:
            return optuna.create_study(storage=storage, study_name=spec.name, sampler=make_sampler(spec),
                                       pruner=_pruner(spec), directions=build_objective(spec).directions)  # fmt: skip
        except optuna.exceptions.DuplicatedStudyError:
            raise RunError(f"search.storage: a study named {spec.name!r} already exists in {url}; "
                           "resume it with --resume or rename the experiment") from None  # fmt: skip
    try:
        return optuna.load_study(storage=storage, study_name=spec.name, sampler=make_sampler(spec, worker),
                                 pruner=_pruner(spec))  # fmt: skip
    except KeyError:
        raise RunError(f"--resume: no study named {spec.name!r} in {url}") from None


def finished_trials(study: optuna.Study) -> list[FrozenTrial]:
    return study.get_trials(deepcopy=False, states=FINISHED)


def worker_id() -> dict[str, Any]:
    """Who runs a trial: host and process id (recorded on every trial)."""
    return {"host": socket.gethostname(), "pid": os.getpid()}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fail_trials(study: optuna.Study, trials: list[FrozenTrial], reason: str) -> int:
    """Mark ``trials`` (left RUNNING) as FAIL with ``reason``; returns how many."""
    storage = study._storage  # the study's own storage, as Optuna's fail_stale_trials uses it
    count = 0
    for trial in trials:
        try:
            storage.set_trial_user_attr(trial._trial_id, "fail_reason", reason)
            storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)
        except RuntimeError:  # finished meanwhile (its worker was alive after all)
            continue
        count += 1
    return count


def fail_interrupted(study: optuna.Study, *, pids: set[int] | None = None, reason: str = "") -> int:
    """Mark trials left RUNNING by dead processes of this host as FAIL, with the reason.

    ``pids``: only trials of these (known dead) worker processes. Trials of live processes
    and of other hosts (workers joined over a shared database) are left alone; Optuna's
    heartbeat fails those if their worker dies.
    """
    host, lost = socket.gethostname(), []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = trial.user_attrs.get("worker") or {}
        pid = worker.get("pid")
        if worker and worker.get("host") != host:
            continue
        if pids is not None and pid not in pids:
            continue
        if pid is None or pids is not None or not _alive(int(pid)):
            lost.append(trial)
    return fail_trials(study, lost, reason or INTERRUPTED)


@dataclass
class SearchRun:
    """A search in progress: the spec and what a trial needs.

    Step times are measured through ``step_cache`` (``step_times.jsonl`` in the run
    directory), so a resumed search does not measure an architecture twice; the base
    network's own step time and params are the denominators of S and P.
    """

    spec: ExperimentSpec
    space: Space
    objective: Objective
    data: Dataset | None = None
    step_cache: StepTimeCache | None = None

    @classmethod
    def for_run(cls, spec: ExperimentSpec, run_dir: Path) -> SearchRun:
        """The spec's space and objective, with the run directory's step-time cache."""
        return cls(spec, build_space(spec), build_objective(spec), step_cache=StepTimeCache(run_dir / STEP_TIMES))

    @property
    def measures_steps(self) -> bool:
        return self.spec.cost_metric == "step_time" or self.objective.kind == "training_aware"

    def step_time(self, arch: Architecture) -> StepTime:
        if self.step_cache is None:
            raise RuntimeError("this search measures step times but has no step-time cache")
        return self.step_cache.measure(arch, step_settings(self.spec))

    def cost(self, arch: Architecture) -> dict[str, float]:
        """FLOPs and params at the target resolution and class count, measured costs, the cost metric.

        With step times: ``step_time`` (median ms) and ``step_time_iqr``, and for the
        training-aware reward ``step_ratio`` (S) and ``param_ratio`` (P) against the base.
        """
        t = self.spec.target
        out: dict[str, float] = {
            "flops": float(count_flops(arch, resolution=t.resolution, num_classes=t.num_classes)),
            "params": float(count_params(arch, num_classes=t.num_classes)),
        }
        if t.cost == "latency_ms":
            out["latency_ms"] = measure_latency_ms(arch, resolution=t.resolution, num_classes=t.num_classes)
        if self.measures_steps:
            measured = self.step_time(arch)
            out["step_time"], out["step_time_iqr"] = measured.median_ms, measured.iqr_ms
        if self.objective.kind == "training_aware":
            base = self.space.base
            out["step_ratio"] = out["step_time"] / self.step_time(base).median_ms
            out["param_ratio"] = out["params"] / count_params(base, num_classes=t.num_classes)
        out["cost"] = out[self.spec.cost_metric]
        return out

    def values(self, accuracy: float, costs: dict[str, float]) -> list[float]:
        """The objective values of a trained candidate."""
        ratios = {"step_ratio": costs.get("step_ratio"), "param_ratio": costs.get("param_ratio")}
        return self.objective.values(accuracy, costs["cost"], self.spec.target.budget, **ratios)

    def dataset(self) -> Dataset:
        if self.data is None:
            p = self.spec.proxy
            spec = DataSpec(p.dataset, path=p.path, train_size=p.train_size, val_size=p.val_size)
            self.data = load_dataset(spec, seed=self.spec.seed)
        return self.data

    def evaluate(self, trial: optuna.Trial) -> list[float]:
        """The Optuna objective: sample, then ``evaluate_arch``; the pruner sees every epoch."""
        trial.set_user_attr("worker", worker_id())  # first: a dead worker's trial is found by it
        attrs: dict[str, Any] = {}

        def on_epoch(epoch: int, values: list[float], accuracy: float) -> None:
            if not self.objective.single:
                return
            trial.report(values[0], epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned after epoch {epoch}")

        try:
            return self.evaluate_arch(self.space.sample(trial), attrs, on_epoch=on_epoch)
        finally:
            for key, value in attrs.items():
                trial.set_user_attr(key, value)
            constraint = self.constraint(attrs)
            if constraint is not None:
                trial.set_constraint("budget", constraint)

    def constraint(self, attrs: dict[str, Any]) -> float | None:
        """Pareto searches with a budget: ``cost - budget`` (feasible when <= 0)."""
        budget = self.spec.target.budget
        if self.objective.kind != "pareto" or budget is None or "cost" not in attrs:
            return None
        return float(attrs["cost"]) - budget

    def evaluate_arch(
        self,
        arch: Architecture,
        attrs: dict[str, Any],
        *,
        on_epoch: Callable[[int, list[float], float], None] | None = None,
    ) -> list[float]:
        """Count, (maybe) train and score ``arch``; what a trial records goes into ``attrs``.

        ``on_epoch(epoch, values, accuracy)`` sees the objective values after every epoch; it
        may raise to stop the trial (a pruner does). Any failure of the candidate (in
        measuring or in training) raises ``TrialFailed`` with ``attrs["fail_reason"]`` set.
        Every executor runs trials through here.
        """
        started = time.perf_counter()
        train_started: float | None = None  # set once training starts (a skipped trial trains nothing)
        try:
            costs = self.cost(arch)
            attrs.update(costs)
            attrs["architecture"] = architecture_to_dict(arch)
            target = self.spec.target.budget
            if self.objective.skips(costs["cost"], target):
                attrs["skipped"] = (f"over budget: {self.spec.cost_metric} {costs['cost']:.6g} > {target:.6g}; "
                                    "not trained (hard constraint)")  # fmt: skip
                attrs.update(accuracy=None, reward=0.0)
                return [0.0]

            def report(record: Any) -> None:
                values = self.values(record.val_accuracy, costs)
                now = time.perf_counter()  # after each epoch, attrs hold the trial as if it ended here
                attrs.update(accuracy=record.val_accuracy, reward=values[0] if self.objective.single else None,
                             seconds=now - started, train_seconds=now - (train_started or started))  # fmt: skip
                if on_epoch is not None:
                    on_epoch(record.epoch, values, record.val_accuracy)

            data = self.dataset()
            train_started = time.perf_counter()
            result = train(arch, data, proxy_config(self.spec), callback=report)
            if result.status != "ok":
                raise TrialFailed(result.reason)
            values = self.values(result.val_accuracy, costs)
            attrs.update(accuracy=result.val_accuracy, reward=values[0] if self.objective.single else None)
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


RUN_ATTRS = (
    "worker", "flops", "params", "latency_ms", "step_time", "step_time_iqr", "step_ratio", "param_ratio", "cost",
    "architecture", "skipped", "accuracy", "reward", "seconds", "train_seconds", "fail_reason",
)  # fmt: skip
"""Every user attribute a trial may record (``evaluate_arch`` and the worker id)."""


def prepare_run_dir(spec_path: str | Path | None, out: str | None, *, resume: bool) -> tuple[ExperimentSpec, Path]:
    """Resolve the spec and the run directory; refuse to reuse a directory without ``resume``."""
    if resume:
        given = load_spec(spec_path) if spec_path is not None else None
        if out is None and given is None:
            raise RunError("--resume: give the spec or --out RUN_DIR")
        run_dir = Path(out) if out else Path(given.run_dir)  # type: ignore[union-attr]
        saved = run_dir / "spec.yaml"
        if not saved.is_file():
            raise RunError(f"--resume: {run_dir} is not a run directory (no spec.yaml)")
        spec = load_spec(saved)
        if given is not None:
            given_dict, recorded = spec_to_dict(given), spec_to_dict(spec)
            for section in recorded:
                if section not in ("search", "output") and given_dict.get(section) != recorded.get(section):
                    raise RunError(f"--resume: {spec_path} differs from {saved} in section {section!r}; "
                                   "a resumed run keeps its spec")  # fmt: skip
        return spec, run_dir
    assert spec_path is not None
    spec = load_spec(spec_path)
    run_dir = Path(out or spec.run_dir)
    if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
        raise RunError(f"{run_dir}: run directory already exists; use --resume to continue it, or another --out")
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "spec.yaml").write_text(dump_spec(spec), encoding="utf-8")
    return spec, run_dir


def run_search(
    spec: ExperimentSpec,
    run_dir: Path,
    *,
    resume: bool,
    trials: int | None = None,
    log: Callable[[str], None] = print,
) -> optuna.Study:
    """Run (or continue) the study in this process until ``trials`` trials have finished
    (complete, pruned or failed). ``nas.executors`` runs it on several workers or Ray."""
    total = trials or spec.search.trials
    study = start_study(spec, run_dir, resume=resume, total=total, log=log)
    if len(finished_trials(study)) < total:
        optimize(spec, run_dir, study, total=total, log=log)
    return study


def start_study(spec: ExperimentSpec, run_dir: Path, *, resume: bool, total: int,
                log: Callable[[str], None]) -> optuna.Study:  # fmt: skip
    """Create or load the study, fail trials that died with their process, and say what is left."""
    study = open_study(spec, run_dir, create=not resume)
    if resume:
        lost = fail_interrupted(study)
        if lost:
            log(f"marked {lost} interrupted trial(s) as failed")
    done = len(finished_trials(study))
    log(f"{spec.name}: {build_space(spec).size():.3g} architectures in the {spec.space.type} space around "
        f"{spec.space.base_ref}; {spec.search.sampler} sampler; {done}/{total} trials finished, "
        f"{max(0, total - done)} to run")  # fmt: skip
    return study


def optimize(
    spec: ExperimentSpec,
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
    run = SearchRun.for_run(spec, run_dir)
    data = run.dataset()
    log(data.describe())
    started = time.perf_counter()
    first = len(finished_trials(study))

    def progress(study: optuna.Study, trial: FrozenTrial) -> None:
        finished = len(finished_trials(study))
        elapsed = time.perf_counter() - started
        left = elapsed / max(finished - first, 1) * (total - finished)
        if spec.search.timeout_minutes is not None:  # the wall-clock budget ends the search first
            left = min(left, max(0.0, 60 * spec.search.timeout_minutes - (time.time() - started_at)))
        log(_progress_line(study, trial, finished, total, spec, left))
        if shared or parent is not None:
            running = len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))
            if finished + running >= total or (parent is not None and os.getppid() != parent):
                study.stop()

    minutes = spec.search.timeout_minutes
    timeout = None if minutes is None else max(0.0, 60 * minutes - (time.time() - started_at))
    if shared:
        running = len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))
        if len(finished_trials(study)) + running >= total:
            return
        study.optimize(run.evaluate, catch=(TrialFailed,), callbacks=[progress], timeout=timeout)
    else:
        study.optimize(run.evaluate, n_trials=max(0, total - first), catch=(TrialFailed,), callbacks=[progress],
                       timeout=timeout)  # fmt: skip


def _progress_line(study: optuna.Study, trial: FrozenTrial, finished: int, total: int, spec: ExperimentSpec,
                   left: float) -> str:  # fmt: skip
    attrs = trial.user_attrs
    acc = attrs.get("accuracy")
    cost_name = spec.cost_metric
    cost = attrs.get("cost", math.nan)
    text = f"[{finished}/{total}] trial {trial.number} {trial.state.name.lower()}"
    text += f"  acc {100 * acc:.2f}%" if isinstance(acc, float) else ""
    text += f"  {cost_name} {_fmt_cost(cost_name, cost)}"
    if attrs.get("reward") is not None:
        text += f"  reward {attrs['reward']:.4f}"
    if "fail_reason" in attrs or "skipped" in attrs:
        text += f"  ({attrs.get('fail_reason') or attrs.get('skipped')})"
    best = best_trial(study, spec)
    if best is not None and spec.objective.type != "pareto":
        text += f" | best #{best.number} reward {best.user_attrs.get('reward', math.nan):.4f}"
    elif best is not None:
        text += f" | pareto set {len(pareto_trials(study))}"
    text += f" | {attrs.get('seconds', 0):.0f}s | left ~{format_duration(left)}"
    return text


def _fmt_cost(name: str, value: float) -> str:
    if name in ("latency_ms", "step_time"):
        return f"{value:.2f} ms"
    return f"{value / 1e6:.1f}M"


def completed(study: optuna.Study) -> list[FrozenTrial]:
    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def best_trial(study: optuna.Study, spec: ExperimentSpec) -> FrozenTrial | None:
    """Highest reward (mnas, training_aware), or the most accurate feasible member of the Pareto set (pareto)."""
    trials = [t for t in completed(study) if t.user_attrs.get("accuracy") is not None]
    if spec.objective.type != "pareto":
        trials = [t for t in trials if t.user_attrs.get("reward") is not None]
        return max(trials, key=lambda t: (t.user_attrs["reward"], -t.number)) if trials else None
    front = pareto_trials(study)
    budget = spec.target.budget
    feasible = [t for t in front if budget is None or t.user_attrs["cost"] <= budget] or front
    return (
        max(feasible, key=lambda t: (t.user_attrs["accuracy"], -t.user_attrs["cost"], -t.number)) if feasible else None
    )


def pareto_trials(study: optuna.Study) -> list[FrozenTrial]:
    """Completed, trained trials not dominated in (accuracy up, cost down), sorted by cost."""
    trials = [t for t in completed(study) if t.user_attrs.get("accuracy") is not None]
    front = []
    for t in trials:
        a, c = t.user_attrs["accuracy"], t.user_attrs["cost"]
        dominated = any(
            (o.user_attrs["accuracy"] >= a and o.user_attrs["cost"] <= c)
            and (o.user_attrs["accuracy"] > a or o.user_attrs["cost"] < c)
            for o in trials
        )
        if not dominated:
            front.append(t)
    return sorted(front, key=lambda t: (t.user_attrs["cost"], -t.user_attrs["accuracy"], t.number))


def load_run(run_dir: Path) -> tuple[ExperimentSpec, optuna.Study]:
    """The spec and study of an existing run directory (for reports)."""
    saved = run_dir / "spec.yaml"
    if not saved.is_file():
        raise RunError(f"{run_dir}: not a run directory (no spec.yaml)")
    spec = load_spec(saved)
    return spec, open_study(spec, run_dir, create=False)
