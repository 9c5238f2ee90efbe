"""Torch's CPU threads: one rule for a worker's share, one way to set them.

Every process that trains side by side with others (local search workers, Ray trials, the
grid's and benchmarks' training pools) gets ``worker_threads``; anything that needs another
thread count for a while (training with ``threads`` set, timing a step or a latency) uses
``torch_threads``, which restores the caller's count on the way out. Nothing else calls
``torch.set_num_threads``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

__all__ = ["set_process_threads", "torch_threads", "worker_threads"]


def worker_threads(workers: int = 1, *, cpus: float | None = None, given: int | None = None) -> int:
    """Threads for one of ``workers`` processes sharing this machine (at least one).

    ``given`` (a spec's ``proxy.threads``) wins; else ``cpus`` (a Ray trial's
    ``cpus_per_trial``), rounded down; else the machine's cores shared out evenly.
    """
    if given is not None:
        return given
    if cpus is not None:
        return max(1, math.floor(cpus))
    return max(1, (os.cpu_count() or 1) // max(1, workers))


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with ``threads`` torch CPU threads (None: as they are), then restore them."""
    previous = torch.get_num_threads()
    if threads is not None and threads != previous:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)


def set_process_threads(threads: int) -> None:
    """Set this process's torch threads for good: for a process's own entry point only (the
    CLI, a spawned worker, a Ray trial, a benchmark's main), never inside library code."""
    torch.set_num_threads(threads)
