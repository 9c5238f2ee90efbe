"""A ground-truth table on Fashion-MNIST: a fixed pool of MBConv networks around B0, trained in full.

Every later proxy experiment (``proxy_fidelity.py``) is scored against this table in
minutes instead of hours. The pool (seeded, so the same command builds the same pool):

- ``--pool`` networks sampled from the ``mbconv`` space around EfficientNet-B0 (its default
  choices), each fitted into [0.9 T, T] of the budget T (FLOPs at 224 px, 1000 classes)
  as ``nas search`` fits candidates; the equal-budget part of the table;
- B0 scaled uniformly to T (the naive network), in the equal-budget part too;
- ``--off`` networks sampled the same way but fitted to each of 0.5 T and 2 T, so that the
  table also covers the case where cost varies.

Full training: every training image but the 5,000 held out for validation, ``--epochs``
epochs at ``--resolution`` px, ``--seeds`` seeds (the trainer's default recipe: AdamW,
one-cycle, batch 128), scored on the test split. ``--workers`` runs train side by side,
each with its share of the cores (``nas.training.train_pool``); the table records the threads per
run. Each finished run is appended to ``train.jsonl`` in ``--work``; a killed run resumes
with the same command, and progress shows the time left. The table is rewritten after
every run to ``--out`` (``complete`` says whether every run is in), with each
architecture, its FLOPs and params, the per-seed accuracies and seconds, the recipe, and
the library versions.

Usage: ``python experiments/benchmarks/ground_truth.py [--pool 13] [--off 1] [--epochs 5]
[--seeds 2] [--out experiments/data/ground_truth_fashion_mnist.json]``.
Needs Debian's dataset-fashion-mnist.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import statistics
from pathlib import Path
from typing import Any

from nas import journal
from nas.progress import format_duration
from nas.training.data import DataSpec
from nas.training.threads import worker_threads
from nas.training.train import TrainConfig
from nas.training.train_pool import train_many
from scaling import FitError, fit_to_budget, scale_to_budget
from search_spaces import (
    Architecture,
    MBConvSpace,
    architecture_hash,
    architecture_to_dict,
    count_flops,
    count_params,
    load_architecture,
)

FORMAT = "effnas.ground_truth/1"
LOWER = 0.9  # the fit's band, as nas search's default target.lower


def pool(budget: float, *, sampled: int, off: int, seed: int) -> list[tuple[str, str, Architecture]]:
    """(name, group, architecture): ``sampled`` fitted to the budget, the naive network, then
    ``off`` fitted to each of 0.5x and 2x the budget; groups ``budget``, ``naive``, ``off``."""
    b0 = load_architecture("efficientnet-b0")
    space = MBConvSpace(base=b0)
    rng = random.Random(seed)
    out: list[tuple[str, str, Architecture]] = []
    seen: set[str] = set()

    def draw(target: float, count: int, group: str, prefix: str) -> None:
        tries = 0
        while sum(1 for _, g, a in out if g == group and _at(a, target)) < count:
            tries += 1
            if tries > 1000:
                raise SystemExit(f"could not draw {count} networks that land at {target:.3g} FLOPs")
            params = {name: rng.choice(values) for name, values in space.choices().items()}
            try:
                fit = fit_to_budget(space.decode(params), target, lower=LOWER, resolution=224, num_classes=1000)
            except FitError:
                continue
            key = architecture_hash(fit.arch)
            if key not in seen:
                seen.add(key)
                out.append((f"{prefix}-{len(out):02d}", group, fit.arch))

    draw(budget, sampled, "budget", "budget")
    naive = scale_to_budget(b0, budget, resolution=224, num_classes=1000).arch
    out.append(("naive", "naive", naive))
    for factor in (0.5, 2.0):
        draw(factor * budget, off, "off", f"x{factor:g}")
    return out


def _at(arch: Architecture, target: float) -> bool:
    return LOWER * target <= count_flops(arch, resolution=224, num_classes=1000) <= target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=float, default=100e6, help="FLOPs at 224 px, 1000 classes")
    parser.add_argument("--pool", type=int, default=13, help="networks sampled and fitted to the budget")
    parser.add_argument("--off", type=int, default=1, help="networks fitted to each of 0.5x and 2x the budget")
    parser.add_argument("--pool-seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="training runs side by side, each with its share of the cores (see nas.training.train_pool)",
    )
    recipe_help = "own: the architectures' dropout and drop-path; plain: neither (AdamW one-cycle both)"
    parser.add_argument("--recipe", choices=("own", "plain"), default="own", help=recipe_help)
    parser.add_argument("--work", default="runs/ground-truth", help="the resumable journal's folder")
    parser.add_argument("--out", default="experiments/data/ground_truth_fashion_mnist.json")
    args = parser.parse_args()
    networks = pool(args.budget, sampled=args.pool, off=args.off, seed=args.pool_seed)
    if args.recipe == "plain":  # the same networks trained without dropout and drop-path
        networks = [(name, group, dataclasses.replace(a, dropout=0.0, drop_path=0.0)) for name, group, a in networks]
    log_path = Path(args.work) / "train.jsonl"
    recipe = {"dataset": "fashion-mnist", "val_size": 5000, "epochs": args.epochs, "resolution": args.resolution,
              "batch_size": 128, "seeds": args.seeds, "score": "test accuracy"}  # fmt: skip
    if args.recipe == "plain":  # the own recipe's key stays as it was, so its journal still matches
        recipe["regularization"] = "none (dropout 0, drop-path 0)"
    done = {(r["hash"], r["seed"]): r for r in journal.read(log_path) if r.get("recipe") == recipe}
    todo = [(seed, name, arch) for seed in range(args.seeds) for name, _, arch in networks
            if (architecture_hash(arch), seed) not in done]  # fmt: skip
    print(f"{len(networks)} networks x {args.seeds} seeds: {len(todo)} runs to go", flush=True)
    threads = worker_threads(args.workers)
    jobs = [((seed, name, arch), arch, TrainConfig(epochs=args.epochs, batch_size=128, resolution=args.resolution,
                                                   seed=seed)) for seed, name, arch in todo]  # fmt: skip
    spent: list[tuple[float, float]] = []
    left_flops = sum(count_flops(a, resolution=224, num_classes=1000) for _, _, a in todo)
    results = train_many(jobs, DataSpec("fashion-mnist", val_size=5000), workers=args.workers, threads=threads,
                         evaluate_test=True)  # fmt: skip
    for i, ((seed, name, arch), result) in enumerate(results):
        record = {"hash": architecture_hash(arch), "name": name, "seed": seed, "recipe": recipe,
                  "status": result.status, "reason": result.reason, "test": result.test_accuracy,
                  "val": result.val_accuracy, "seconds": result.seconds, "threads": threads}  # fmt: skip
        journal.append(log_path, record)
        done[(record["hash"], seed)] = record
        flops = count_flops(arch, resolution=224, num_classes=1000)
        spent.append((flops, result.seconds))
        left_flops -= flops
        per_flop = sum(s for _, s in spent) / sum(f for f, _ in spent) / args.workers
        accuracy = "failed: " + result.reason if result.test_accuracy is None else f"{100 * result.test_accuracy:.2f}%"
        print(f"[{i + 1}/{len(todo)}] {name} seed {seed}: test {accuracy} in {result.seconds:.0f} s; "
              f"about {format_duration(per_flop * left_flops)} left", flush=True)  # fmt: skip
        write_table(args, recipe, networks, done)
    write_table(args, recipe, networks, done)


def write_table(args: argparse.Namespace, recipe: dict[str, Any], networks: list[tuple[str, str, Architecture]],
                done: dict[tuple[str, int], dict[str, Any]]) -> None:  # fmt: skip
    """The table as it stands: every network, with the runs finished so far."""
    rows: list[dict[str, Any]] = []
    for name, group, arch in networks:
        runs = [done.get((architecture_hash(arch), s)) for s in range(args.seeds)]
        tests = [r["test"] for r in runs if r is not None and r.get("test") is not None]
        vals = [r["val"] for r in runs if r is not None and r.get("val") is not None]
        rows.append({
            "name": name,
            "group": group,
            "hash": architecture_hash(arch),
            "flops": count_flops(arch, resolution=224, num_classes=1000),
            "params": count_params(arch, num_classes=1000),
            "test": tests,
            "mean": statistics.fmean(tests) if tests else None,
            "val": vals,  # validation accuracy (5,000 images held out of training): what choices are made on
            "val_mean": statistics.fmean(vals) if vals else None,
            "seconds": [r["seconds"] for r in runs if r is not None],
            "architecture": architecture_to_dict(arch),
        })  # fmt: skip
    journal.write_data(args.out, {
        "format": FORMAT,
        "budget": args.budget,
        "band": [LOWER, 1.0],
        "recipe": recipe,
        "complete": all(len(r["test"]) == args.seeds for r in rows),
        "seconds": sum(float(sum(run["seconds"])) for run in rows),
        "threads": sorted({int(r.get("threads", 2)) for r in done.values()}),  # per run (records before: 2)
        "networks": rows,
    })  # fmt: skip


if __name__ == "__main__":
    main()
