"""The headline benchmark: a searched custom B0 against B0 scaled down naively, at equal FLOPs.

1. ``nas search`` for a custom B0 at ``--budget`` FLOPs (default 100M at 224 px, 1000
   classes; soft MnasNet reward) with a Fashion-MNIST proxy, within a wall-clock budget
   (``--search-minutes``, default 60; ``search.timeout_minutes``), followed by the
   verification stage (top 5 retrained with 3 seeds), which picks ``best.json``.
2. The naive baseline: ``efficientnet-b0`` uniformly width-scaled to the found network's
   FLOPs (``scaling.scale_to_budget``: the largest width within them).
3. Both are trained with the same full recipe: every training image, the same schedule,
   ``--seeds`` seeds; the test split is scored once per run.
4. The table: test accuracy (mean +- std), FLOPs and params of each, and the gap.

Usage: ``python experiments/benchmarks/found_vs_naive.py [--search-minutes 60] [--epochs 10]
[--seeds 3] [--out runs/found-vs-naive]``. Needs Debian's dataset-fashion-mnist.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

from nas.data import DataSpec, load_dataset
from nas.train import TrainConfig, train
from scaling import scale_to_budget
from search_spaces import Architecture, count_flops, count_params, load_architecture

ROOT = Path(__file__).resolve().parents[2]


def search(args: argparse.Namespace, out: Path) -> tuple[Path, float]:
    spec = {
        "name": "found-vs-naive",
        "seed": 0,
        "space": {
            "base": "efficientnet-b0",
            "kernel": [3, 5],
            "expand": [1, 3, 6],
            "se": [0.0, 0.25],
            "layers": [-1, 0, 1],
            "width": [0.75, 1.0, 1.25],
        },
        "target": {"resolution": 224, "num_classes": 1000, "flops": args.budget},
        "objective": {"type": "mnas", "mode": "soft"},
        "proxy": {
            "dataset": "fashion-mnist",
            "train_size": 10000,
            "val_size": 5000,
            "resolution": args.resolution,
            "epochs": 2,
            "batch_size": 128,
        },
        "search": {"trials": 1000, "sampler": "tpe", "pruner": "median", "timeout_minutes": args.search_minutes},
        "verify": {"top_k": args.verify_k, "seeds": args.seeds},
    }
    path = out / "search.yaml"
    path.write_text(yaml.safe_dump(spec))
    started = time.perf_counter()
    cmd = [sys.executable, "-m", "nas", "search", str(path), "--out", str(out / "search")]
    done = subprocess.run(cmd, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"nas search failed with exit code {done.returncode}")
    return out / "search" / "best.json", time.perf_counter() - started


def full_training(arch: Architecture, args: argparse.Namespace) -> tuple[list[float], float]:
    """Test accuracy of ``arch`` trained on every training image, once per seed, and the seconds spent."""
    data = load_dataset(DataSpec("fashion-mnist", val_size=5000), seed=0)
    accuracies, started = [], time.perf_counter()
    for seed in range(args.seeds):
        config = TrainConfig(epochs=args.epochs, batch_size=128, resolution=args.resolution, seed=seed,
                             bn_recalibrate="always")  # fmt: skip
        result = train(arch, data, config, evaluate_test=True)
        if result.status != "ok" or result.test_accuracy is None:
            raise SystemExit(f"{arch.name} seed {seed}: {result.status} {result.reason}")
        accuracies.append(result.test_accuracy)
        print(f"  {arch.name} seed {seed}: test {100 * result.test_accuracy:.2f}% in {result.seconds:.0f}s", flush=True)
    return accuracies, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=float, default=100e6)
    parser.add_argument("--search-minutes", type=float, default=60.0)
    parser.add_argument("--verify-k", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=10, help="epochs of the full recipe")
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", default="runs/found-vs-naive")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=False)

    found_path, search_seconds = search(args, out)
    found = load_architecture(found_path)
    b0 = load_architecture("efficientnet-b0")
    naive = scale_to_budget(b0, count_flops(found, num_classes=1000), resolution=224, num_classes=1000)
    results = {}
    for label, arch in (("found", found), (f"naive B0 (width {naive.width:g})", naive.arch)):
        accuracies, seconds = full_training(arch, args)
        flops, params = count_flops(arch, num_classes=1000), count_params(arch, num_classes=1000)
        results[label] = {"arch": arch.name, "flops": flops, "params": params, "test": accuracies, "seconds": seconds}

    print(f"\nsearch + verification: {search_seconds / 60:.1f} min; full recipe: every training image, "
          f"{args.epochs} epochs at {args.resolution} px, {args.seeds} seeds, test split")  # fmt: skip
    print(f"{'network':<34} {'FLOPs@224':>10} {'params':>8} {'test accuracy':>18} {'train min':>9}")
    for label, r in results.items():
        mean, std = statistics.fmean(r["test"]), statistics.stdev(r["test"]) if len(r["test"]) > 1 else 0.0
        print(f"{label:<34} {r['flops'] / 1e6:>9.1f}M {r['params'] / 1e6:>7.2f}M "
              f"{100 * mean:>9.2f} ± {100 * std:.2f}% {r['seconds'] / 60:>9.1f}")  # fmt: skip
    found_mean, naive_mean = (statistics.fmean(r["test"]) for r in results.values())
    print(f"gap (found - naive): {100 * (found_mean - naive_mean):+.2f} points")
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
