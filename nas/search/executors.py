"""Executors: where the trials of a search run.

- ``local`` with ``workers: 1``: in this process (``nas.search.loop.optimize``).
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
from typing import Any

import optuna

from nas.plan import RunPlan
from nas.rundir import RunError
from nas.search.loop import optimize, start_study
from nas.search.study import fail_interrupted, finished_trials, open_study, redacted_url, running_trials, storage_url
from nas.spec import SpecError
from nas.training.data import DataError
from nas.training.threads import set_process_threads

__all__ = ["execute_search", "join_search", "run_workers"]

POLL_S = 0.5


BAD_INPUT = 2  # a worker's exit code for input it cannot use (the same code as the CLI's)


def _worker(wire: dict[str, Any], run_dir: str, total: int, threads: int, index: int, started_at: float) -> None:
    """One worker process: rebuild the plan, load the study and run trials until the count is reached."""
    set_process_threads(threads)

    def log(line: str) -> None:
        print(f"[worker {os.getpid()}] {line}", flush=True)

    try:
        plan = RunPlan.from_wire(wire)
        study = open_study(plan, Path(run_dir), create=False, worker=index)
        optimize(plan, Path(run_dir), study, total=total, log=log, shared=True, parent=os.getppid(),
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
    plan: RunPlan,
    run_dir: Path,
    study: optuna.Study,
    *,
    total: int,
    workers: int,
    log: Callable[[str], None] = print,
) -> None:
    """Run ``workers`` processes on ``study`` until ``total`` trials have finished."""
    context = multiprocessing.get_context("spawn")  # no fork of a process that holds torch threads
    threads, wire = plan.worker_threads(workers), plan.to_wire()
    procs: dict[int, multiprocessing.process.BaseProcess] = {}
    strikes, started, started_at = 0, 0, time.time()

    def start() -> None:
        nonlocal started
        started += 1  # every worker, replacements too, samples with its own seed
        args = (wire, str(run_dir), total, threads, started, started_at)
        proc = context.Process(target=_worker, args=args)
        proc.start()
        assert proc.pid is not None
        procs[proc.pid] = proc

    log(f"{workers} worker processes, {threads} thread(s) each, storage {redacted_url(storage_url(plan, run_dir))}")
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
                if len(finished_trials(study)) + len(running_trials(study)) < total:
                    start()
    except BaseException:
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            proc.join()
        fail_interrupted(study, pids=set(procs))
        raise


def execute_search(
    plan: RunPlan,
    run_dir: Path,
    *,
    resume: bool,
    trials: int | None = None,
    log: Callable[[str], None] = print,
) -> optuna.Study:
    """Run the search with the spec's executor until ``trials`` (default ``search.trials``) have finished."""
    search = plan.spec.search
    total = trials or search.trials
    if search.executor == "ray":
        from nas.search.ray_executor import run_ray

        return run_ray(plan, run_dir, resume=resume, total=total, log=log)
    study = start_study(plan, run_dir, resume=resume, total=total, log=log)
    if len(finished_trials(study)) >= total:
        return study
    if search.workers == 1:
        optimize(plan, run_dir, study, total=total, log=log)
    else:
        run_workers(plan, run_dir, study, total=total, workers=search.workers, log=log)
    return study


def join_search(plan: RunPlan, run_dir: Path, *, workers: int, trials: int | None = None,
                log: Callable[[str], None] = print) -> optuna.Study:  # fmt: skip
    """Add ``workers`` processes to a search whose study already exists in ``search.storage``.

    This is how a second machine helps: both reach the same database; this one keeps its
    own step-time cache in ``run_dir``. No reports are written here (the driver does).
    """
    storage = plan.spec.search.storage
    if storage is None:
        raise RunError("nas worker: the spec needs search.storage, a database URL that every machine reaches")
    total = trials or plan.spec.search.trials
    study = open_study(plan, run_dir, create=False)
    done = len(finished_trials(study))
    log(f"{plan.name}: joining {redacted_url(storage)}; {done}/{total} trials finished")
    if done < total:
        run_dir.mkdir(parents=True, exist_ok=True)
        run_workers(plan, run_dir, study, total=total, workers=workers, log=log)
    return study
