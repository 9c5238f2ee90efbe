"""The study and its storage: where a search's trials live, and how a run reaches them.

Default storage: SQLite in the run directory for one worker; a JournalStorage file
(``study.journal``, safe for several processes on one machine) for more. A
``search.storage`` URL (any RDB, such as PostgreSQL) lets workers on other machines join;
those get Optuna's heartbeat, so a trial of a worker that dies is failed. A trial that was
running when its process died is marked failed with that reason.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import warnings
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy.exc
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState

from nas.plan import RunPlan
from nas.rundir import RunError, open_run_dir
from nas.search.samplers import MUTATION_SAMPLERS, MutationSampler
from nas.spec import spec_to_dict

__all__ = [
    "FINISHED",
    "INTERRUPTED",
    "check_resumable",
    "completed",
    "discard_unstarted",
    "fail_interrupted",
    "fail_trials",
    "finished_trials",
    "load_run",
    "make_pruner",
    "make_sampler",
    "open_study",
    "redacted_url",
    "running_trials",
    "storage_url",
    "study_storage",
    "worker_id",
]

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
INTERRUPTED = "interrupted: the process running this trial stopped before it finished"
JOURNAL = "study.journal"
HEARTBEAT_S = 30


def make_sampler(plan: RunPlan, worker: int = 0) -> optuna.samplers.BaseSampler:
    """The spec's sampler. Every setting that Optuna 5 changed by default is written out.

    Parallel workers get seeds ``seed + worker`` (the same seed would make them propose the
    same random start-up trials), and TPE's constant liar, which treats running trials as
    bad, so that workers do not all close in on the same point.
    """
    search = plan.spec.search
    name, seed = search.sampler, plan.spec.seed + worker
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=min(50, max(4, search.trials // 4)))
    # Random start-up trials: Optuna's 10, but at most a quarter of a small budget.
    startup = max(3, min(10, search.trials // 4))
    if name in MUTATION_SAMPLERS:  # a population of a third of the trials (at most 20), tournaments of a quarter of it
        population = max(4, min(20, search.trials // 3))
        return MutationSampler(name, seed=seed, population=population, sample=max(2, population // 4), startup=startup)
    # The training-aware space is conditional (SE only on MBConv stages): group=True lets the
    # multivariate TPE model each sub-space that occurs, instead of falling back to independent.
    conditional = plan.space.conditional
    with warnings.catch_warnings():  # multivariate and group are stable in use, still marked experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=conditional,
                                          constant_liar=search.workers > 1, n_startup_trials=startup)  # fmt: skip


def make_pruner(plan: RunPlan) -> optuna.pruners.BasePruner:
    """The spec's pruner; a multi-objective search does not prune."""
    pruner = plan.spec.search.pruner
    if not plan.objective.single or pruner == "none":
        return optuna.pruners.NopPruner()
    if pruner == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=2)
    if pruner == "hyperband":  # Li et al. 2018: successive halving at several aggressiveness levels
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=plan.train.epochs, reduction_factor=3)
    return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0)


def storage_url(plan: RunPlan, run_dir: Path) -> str:
    """Where the study lives, as shown to users: the spec's URL, the journal file, or SQLite.

    A relative SQLite path in ``search.storage`` (``sqlite:///study.db``) lies in the run
    directory, not in whatever folder the command was started from.
    """
    search = plan.spec.search
    if search.storage:
        prefix = "sqlite:///"
        if search.storage.startswith(prefix) and not search.storage[len(prefix) :].startswith("/"):
            return f"{prefix}{(run_dir / search.storage[len(prefix) :]).resolve()}"
        return search.storage
    if search.workers > 1 or (run_dir / JOURNAL).exists():
        return str((run_dir / JOURNAL).resolve())
    return f"sqlite:///{(run_dir / 'study.db').resolve()}"


def redacted_url(url: str) -> str:
    """A storage URL fit for logs and errors: user and password left out."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}***@{rest.split('@', 1)[1]}" if sep and "@" in rest else url


def study_storage(plan: RunPlan, run_dir: Path) -> optuna.storages.BaseStorage:
    """The Optuna storage of a run (see the module docstring)."""
    url = storage_url(plan, run_dir)
    if "://" not in url:
        return optuna.storages.JournalStorage(JournalFileBackend(url))
    if url.startswith("sqlite:"):
        return optuna.storages.get_storage(url)
    return optuna.storages.RDBStorage(url, heartbeat_interval=HEARTBEAT_S, grace_period=3 * HEARTBEAT_S)


def open_study(plan: RunPlan, run_dir: Path, *, create: bool, worker: int = 0, what: str = "--resume") -> optuna.Study:
    """Create the study of a new run, or load the study of an existing one (as worker ``worker``).

    A new study records the spec it was made for (``SPEC_ATTR``), so that a resumed run can
    tell whether its ``spec.yaml`` was edited since. Storage that cannot be reached or read
    (a server down, a driver missing, a corrupt file) is an error of one line.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = redacted_url(storage_url(plan, run_dir))
    default_db = run_dir / "study.db"
    if not create and not plan.spec.search.storage and url.startswith("sqlite:") and not default_db.is_file():
        raise RunError(f"{what}: {run_dir} holds no study (no study.db)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            storage = study_storage(plan, run_dir)
            if create:
                study = optuna.create_study(storage=storage, study_name=plan.name, sampler=make_sampler(plan),
                                            pruner=make_pruner(plan), directions=plan.objective.directions)  # fmt: skip
                study.set_user_attr(SPEC_ATTR, _recorded_spec(plan))
                return study
            return optuna.load_study(storage=storage, study_name=plan.name, sampler=make_sampler(plan, worker),
                                     pruner=make_pruner(plan))  # fmt: skip
    except optuna.exceptions.DuplicatedStudyError:
        raise RunError(f"search.storage: a study named {plan.name!r} already exists in {url}; "
                       "resume it with --resume or rename the experiment") from None  # fmt: skip
    except KeyError:
        raise RunError(f"{what}: no study named {plan.name!r} in {url}") from None
    except (ImportError, OSError, RuntimeError, ValueError, sqlalchemy.exc.SQLAlchemyError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RunError(f"search.storage: cannot open the study in {url} ({type(exc).__name__}: {reason})") from None


SPEC_ATTR = "effnas_spec"
"""The study's user attribute holding the resolved spec it was made for (JSON)."""


STUDY_SECTIONS = ("name", "seed", "space", "target", "objective", "proxy")
"""What defines a study's trials: a resumed run must keep them (``search``, ``verify`` and
``output`` may change between runs)."""


def _recorded_spec(plan: RunPlan) -> str:
    """The spec sections that define the study's trials, as JSON."""
    data = spec_to_dict(plan.spec)
    return json.dumps({k: data[k] for k in STUDY_SECTIONS}, sort_keys=True)


def check_resumable(plan: RunPlan, study: optuna.Study) -> None:
    """Refuse to resume a study with a spec other than the one it was made for, naming what changed."""
    recorded = study.user_attrs.get(SPEC_ATTR)
    if recorded is None:  # a study from before specs were recorded
        return
    then, now = json.loads(recorded), json.loads(_recorded_spec(plan))
    for section in sorted(set(then) | set(now)):
        if then.get(section) != now.get(section):
            raise RunError(f"--resume: the spec's section {section!r} differs from the one this study was made for; "
                           "a resumed run keeps its spec (start a new run to change it)")  # fmt: skip


def load_run(run_dir: Path) -> tuple[RunPlan, optuna.Study]:
    """The plan and study of an existing run directory (for reports)."""
    plan = open_run_dir(run_dir, purpose="search", what="nas report")
    return plan, open_study(plan, run_dir, create=False, what="nas report")


def finished_trials(study: optuna.Study) -> list[FrozenTrial]:
    return study.get_trials(deepcopy=False, states=FINISHED)


def completed(study: optuna.Study) -> list[FrozenTrial]:
    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def running_trials(study: optuna.Study) -> list[FrozenTrial]:
    return study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))


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


def trial_handle(study: optuna.Study, trial: FrozenTrial) -> tuple[optuna.storages.BaseStorage, int]:
    """The storage and storage id of ``trial``, to change a trial this process does not run.

    Optuna has no public API to fail another process's RUNNING trial with a reason; its own
    ``fail_stale_trials`` works through these two private attributes. This is the one place
    effnas reads them (``tests/nas/test_study.py`` fails if Optuna drops them).
    """
    return study._storage, trial._trial_id


def fail_trials(study: optuna.Study, trials: list[FrozenTrial], reason: str) -> int:
    """Mark ``trials`` (left RUNNING) as FAIL with ``reason``; returns how many."""
    count = 0
    for trial in trials:
        storage, trial_id = trial_handle(study, trial)
        try:
            storage.set_trial_user_attr(trial_id, "fail_reason", reason)
            storage.set_trial_state_values(trial_id, state=TrialState.FAIL)
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
    for trial in running_trials(study):
        worker = trial.user_attrs.get("worker") or {}
        pid = worker.get("pid")
        if worker and worker.get("host") != host:
            continue
        if pids is not None and pid not in pids:
            continue
        if pid is None or pids is not None or not _alive(int(pid)):
            lost.append(trial)
    return fail_trials(study, lost, reason or INTERRUPTED)


def discard_unstarted(plan: RunPlan, run_dir: Path) -> None:
    """Remove a new run that failed before any trial ran: its study and its directory.

    The directory was created empty by this run (``rundir.create_run_dir``), so it holds
    only what the run wrote. A run with any recorded trial is kept.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            storage = study_storage(plan, run_dir)
            study = optuna.load_study(storage=storage, study_name=plan.name)
            if study.get_trials(deepcopy=False):
                return
            optuna.delete_study(storage=storage, study_name=plan.name)
    except Exception:  # no study was made (or it cannot be reached): only the directory is left
        pass
    shutil.rmtree(run_dir, ignore_errors=True)
