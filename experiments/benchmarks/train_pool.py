"""Training runs side by side: one run with all the cores against one run per core.

Trains the same network ``--runs`` times (one epoch on ``--images`` Fashion-MNIST images
at 32 px, the trainer's default recipe) with ``nas.training.train_pool.train_many`` in two ways,
alternating them over ``--rounds`` rounds: one process with every core's thread, the runs
one after another; and one spawned process per core with one thread each, side by side.
It prints the wall time of each, the training seconds per run, and the throughput ratio
(with and without the processes' start and data loading), which is why
the benchmarks that train many networks default to ``--workers`` = the number of cores.

Usage: ``python experiments/benchmarks/train_pool.py [--net efficientnet-b0@100e6] [--rounds 2]``.
Needs Debian's dataset-fashion-mnist.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from nas.training.data import DataSpec
from nas.training.threads import worker_threads
from nas.training.train import TrainConfig
from nas.training.train_pool import train_many
from scaling import scale_to_budget
from search_spaces import count_flops, load_architecture


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="efficientnet-b0")
    parser.add_argument("--budget", type=float, default=100e6, help="width-scale the base to this many FLOPs at 224")
    parser.add_argument("--images", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    arch = scale_to_budget(load_architecture(args.base), args.budget).arch
    data = DataSpec("fashion-mnist", train_size=args.images, val_size=1000)
    config = TrainConfig(epochs=1, batch_size=128, resolution=32, seed=0)
    jobs = [(i, arch, config) for i in range(cores)]
    print(f"{args.base} at {count_flops(arch) / 1e6:.1f}M FLOPs; {cores} runs of 1 epoch on {args.images} images, "
          f"32 px, {cores} cores")  # fmt: skip
    walls: dict[str, list[float]] = {f"1 process x {cores} threads": [], f"{cores} processes x 1 thread": []}
    train_s: dict[str, list[float]] = {label: [] for label in walls}
    for _ in range(args.rounds):
        for (label, runs), workers in zip(walls.items(), (1, cores), strict=True):
            start = time.perf_counter()
            results = list(train_many(jobs, data, workers=workers, threads=worker_threads(workers)))
            runs.append(time.perf_counter() - start)
            assert all(r.status == "ok" for _, r in results), results
            train_s[label] += [r.seconds for _, r in results]
            print(f"  {label}: {runs[-1]:.1f} s", flush=True)
    serial, parallel = (statistics.median(w) for w in walls.values())
    print(f"{'way':<26} {'median wall s':>13} {'runs/hour':>10} {'s per run':>10}")
    for label, runs in walls.items():
        wall = statistics.median(runs)
        print(f"{label:<26} {wall:>13.1f} {3600 * cores / wall:>10.1f} {statistics.median(train_s[label]):>10.1f}")
    one, each = (statistics.median(t) for t in train_s.values())
    print(
        f"throughput ratio, side by side over one after another: {serial / parallel:.2f} in wall time "
        f"(with process start and data loading), {cores * one / each:.2f} in training seconds per run"
    )


if __name__ == "__main__":
    main()
