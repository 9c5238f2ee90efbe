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
from typing import Any, TypeVar

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


def _run(arch: dict[str, Any], config: TrainConfig, evaluate_test: bool) -> TrainResult:
    result = train(architecture_from_dict(arch), _DATA["data"], config, evaluate_test=evaluate_test)
    return dataclasses.replace(result, model=None)  # the weights stay in the worker


def train_many(
    jobs: Sequence[Job[K]],
    data: DataSpec,
    *,
    data_seed: int = 0,
    workers: int = 1,
    threads: int = 1,
    evaluate_test: bool = False,
) -> Iterator[tuple[K, TrainResult]]:
    """Train every job on ``data`` (drawn with ``data_seed``); yield ``(key, result)`` as each ends.

    ``workers`` > 1 runs the jobs in that many spawned processes with ``threads`` threads each;
    results then arrive in the order they finish. ``workers`` = 1 trains them here, in order,
    with ``threads`` threads. A job's own ``TrainConfig.threads`` wins over ``threads``.
    """
    if not jobs:
        return
    if workers == 1:
        dataset = load_dataset(data, seed=data_seed)
        for key, arch, config in jobs:
            with torch_threads(threads):
                result = train(arch, dataset, config, evaluate_test=evaluate_test)
            yield key, dataclasses.replace(result, model=None)
        return
    context = multiprocessing.get_context("spawn")  # no fork of a process that holds torch threads
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_init, initargs=(data, data_seed, threads))
    try:
        futures = {pool.submit(_run, architecture_to_dict(arch), config, evaluate_test): key
                   for key, arch, config in jobs}  # fmt: skip
        for future in as_completed(futures):
            yield futures[future], future.result()
    finally:  # a caller that stops early (or an error) cancels the runs not yet started
        pool.shutdown(wait=True, cancel_futures=True)
