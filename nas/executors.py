"""Executors: where the trials of a search run.

- ``local`` with ``workers: 1``: in this process (``nas.search.run_search``).
- ``local`` with ``workers: N``: N spawned worker processes share the study's storage (a
  JournalStorage file in the run directory, or the ``search.storage`` database). Each
  worker uses ``cpu_count // N`` threads (or ``proxy.threads``) so that they do not
  oversubscribe the cores. The driver watches them: a worker that dies has its trial
  marked failed with the reason, and a replacement is started while trials remain.
- ``nas worker SPEC.yaml`` adds workers to a running search from another machine, through
  a database that both reach (``search.storage``).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import optuna
import torch
from optuna.trial import TrialState

from .data import DataError
from .search import (
    RunError,
    fail_interrupted,
    finished_trials,
    open_study,
    optimize,
    redacted_url,
    start_study,
    storage_url,
)
from .spec import ExperimentSpec, SpecError, load_spec

__all__ = ["execute_search", "join_search", "run_workers", "worker_threads"]

POLL_S = 0.5


def worker_threads(spec: ExperimentSpec, workers: int) -> int:
    """Threads per worker: ``proxy.threads``, or the machine's cores shared out evenly."""
    return spec.proxy.threads or max(1, (os.cpu_count() or 1) // workers)


BAD_INPUT = 2  # a worker's exit code for input it cannot use (the same code as the CLI's)


def _worker(spec_path: str, run_dir: str, total: int, threads: int, index: int, started_at: float) -> None:
    """One worker process: load the study and run trials until the count is reached."""
    torch.set_num_threads(threads)

    def log(line: str) -> None:
        print(f"[worker {os.getpid()}] {line}", flush=True)

    try:
        spec = load_spec(spec_path)
        study = open_study(spec, Path(run_dir), create=False, worker=index)
        optimize(spec, Path(run_dir), study, total=total, log=log, shared=True, parent=os.getppid(),
                 started_at=started_at)  # fmt: skip
    except (SpecError, DataError, RunError) as exc:
        print(f"nas: error: {exc}", file=sys.stderr, flush=True)
        sys.exit(BAD_INPUT)


def _describe(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def run_workers(
    spec: ExperimentSpec,
    spec_path: Path,
    run_dir: Path,
    study: optuna.Study,
    *,
    total: int,
    workers: int,
    log: Callable[[str], None] = print,
) -> None:
    """Run ``workers`` processes on ``study`` until ``total`` trials have finished.

    ``spec_path`` is the resolved spec the workers load (``spec.yaml`` of the run).
    """
    context = multiprocessing.get_context("spawn")  # no fork of a process that holds torch threads
    threads = worker_threads(spec, workers)
    procs: dict[int, multiprocessing.process.BaseProcess] = {}
    strikes, started, started_at = 0, 0, time.time()

    def running() -> int:
        return len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))

    def start() -> None:
        nonlocal started
        started += 1  # every worker, replacements too, samples with its own seed
        args = (str(spec_path), str(run_dir), total, threads, started, started_at)
        proc = context.Process(target=_worker, args=args)
        proc.start()
        assert proc.pid is not None
        procs[proc.pid] = proc

    log(f"{workers} worker processes, {threads} thread(s) each, storage {redacted_url(storage_url(spec, run_dir))}")
    for _ in range(min(workers, total - len(finished_trials(study)))):
        start()
    try:
        while procs:
            time.sleep(POLL_S)
            for pid, proc in list(procs.items()):
                if proc.exitcode is None:
                    continue
                del procs[pid]
                if proc.exitcode == 0:
                    continue
                if proc.exitcode == BAD_INPUT:
                    raise RunError(f"worker {pid} could not start: see its error above")
                why = f"interrupted: worker process {pid} stopped ({_describe(proc.exitcode)}) during the trial"
                lost = fail_interrupted(study, pids={pid}, reason=why)
                log(f"worker {pid} stopped ({_describe(proc.exitcode)}); {lost} running trial(s) marked failed")
                strikes += lost == 0
                if strikes >= 3:
                    raise RunError("workers keep stopping before they run a trial; see their output above")
                if len(finished_trials(study)) + running() < total:
                    start()
    except BaseException:
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            proc.join()
        fail_interrupted(study, pids=set(procs))
        raise


def execute_search(
    spec: ExperimentSpec,
    run_dir: Path,
    *,
    resume: bool,
    trials: int | None = None,
    log: Callable[[str], None] = print,
) -> optuna.Study:
    """Run the search with the spec's executor until ``trials`` (default ``search.trials``) have finished."""
    from .search import run_search

    total = trials or spec.search.trials
    if spec.search.executor == "ray":
        from .ray_executor import run_ray

        return run_ray(spec, run_dir, resume=resume, total=total, log=log)
    if spec.search.workers == 1:
        return run_search(spec, run_dir, resume=resume, trials=total, log=log)
    study = start_study(spec, run_dir, resume=resume, total=total, log=log)
    if len(finished_trials(study)) < total:
        run_workers(spec, run_dir / "spec.yaml", run_dir, study, total=total, workers=spec.search.workers, log=log)
    return study


def join_search(spec_path: Path, run_dir: Path, *, workers: int, trials: int | None = None,
                log: Callable[[str], None] = print) -> optuna.Study:  # fmt: skip
    """Add ``workers`` processes to a search whose study already exists in ``search.storage``.

    This is how a second machine helps: both reach the same database; this one keeps its
    own step-time cache in ``run_dir``. No reports are written here (the driver does).
    """
    spec = load_spec(spec_path)
    if spec.search.storage is None:
        raise RunError("nas worker: the spec needs search.storage, a database URL that every machine reaches")
    total = trials or spec.search.trials
    study = open_study(spec, run_dir, create=False)
    done = len(finished_trials(study))
    log(f"{spec.name}: joining {redacted_url(spec.search.storage)}; {done}/{total} trials finished")
    if done < total:
        run_dir.mkdir(parents=True, exist_ok=True)
        run_workers(spec, spec_path, run_dir, study, total=total, workers=workers, log=log)
    return study
