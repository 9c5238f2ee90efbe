"""Many full training runs on one machine, in parallel worker processes.

Small convolutional networks use a CPU's cores poorly from one process: depthwise
convolutions and batch norm at 32 px leave intra-op threads idle. Measured on 2 cores with
``experiments/benchmarks/train_pool.py`` (B0 width-scaled to 98 MFLOPs, one epoch on 20,000
Fashion-MNIST images at 32 px), one process with 2 threads trained a run in 28.0 s, and two
single-thread processes side by side a run each in 42.3 s: 1.32x the throughput (1.26x
counting process start and data loading). So the grid search and the benchmarks, which
train many networks, run them in ``workers`` spawned processes that each load the dataset
once and take ``threads`` intra-op threads.

A run's result depends on its thread count only through the order of float reductions,
so runs compared with each other should use one setting; callers record it.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, TypeVar

from nas.training.card import write_training_atomically
from nas.training.data import Dataset, DataSpec, load_dataset
from nas.training.threads import set_process_threads, torch_threads
from nas.training.train import TrainConfig, TrainResult, train
from search_spaces import Architecture, architecture_from_dict, architecture_to_dict

__all__ = ["Job", "train_many"]

K = TypeVar("K")
Job = tuple[K, Architecture, TrainConfig]  # (the caller's key, the network, its recipe)
_DATA: dict[str, Dataset] = {}  # a worker process's dataset, loaded once


def _init(spec: DataSpec, seed: int, threads: int) -> None:
    set_process_threads(threads)  # a spawned worker's own entry point
    _DATA["data"] = load_dataset(spec, seed=seed)


def _run(arch: dict[str, Any], config: TrainConfig, evaluate_test: bool, out: str | None) -> TrainResult:
    network = architecture_from_dict(arch)
    result = train(network, _DATA["data"], config, evaluate_test=evaluate_test)
    if out is not None:
        write_training_atomically(Path(out), network, _DATA["data"], config, result)
    return dataclasses.replace(result, model=None)  # the weights stay in the worker (or in ``out``)


def train_many(
    jobs: Sequence[Job[K]],
    data: DataSpec,
    *,
    data_seed: int = 0,
    workers: int = 1,
    threads: int = 1,
    evaluate_test: bool = False,
    outputs: Sequence[str | None] | None = None,
) -> Iterator[tuple[K, TrainResult]]:
    """Train every job on ``data`` (drawn with ``data_seed``); yield ``(key, result)`` as each ends.

    ``workers`` > 1 runs the jobs in that many spawned processes with ``threads`` threads each;
    results then arrive in the order they finish. ``workers`` = 1 trains them here, in order,
    with ``threads`` threads. A job's own ``TrainConfig.threads`` wins over ``threads``.
    ``outputs``, one per job (or None), are folders each run writes before its result is
    yielded (``nas.training.card.write_training_atomically``: metrics, weights and card).
    """
    if not jobs:
        return
    folders = list(outputs) if outputs is not None else [None] * len(jobs)
    if len(folders) != len(jobs):
        raise ValueError(f"outputs: one per job, got {len(folders)} for {len(jobs)} jobs")
    if workers == 1:
        _DATA["data"] = load_dataset(data, seed=data_seed)
        try:
            for (key, arch, config), out in zip(jobs, folders, strict=True):
                with torch_threads(threads):
                    result = _run(architecture_to_dict(arch), config, evaluate_test, out)
                yield key, result
        finally:
            _DATA.pop("data", None)
        return
    context = multiprocessing.get_context("spawn")  # no fork of a process that holds torch threads
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_init, initargs=(data, data_seed, threads))
    try:
        futures = {pool.submit(_run, architecture_to_dict(arch), config, evaluate_test, out): key
                   for (key, arch, config), out in zip(jobs, folders, strict=True)}  # fmt: skip
        for future in as_completed(futures):
            yield futures[future], future.result()
    finally:  # a caller that stops early (or an error) cancels the runs not yet started
        pool.shutdown(wait=True, cancel_futures=True)
