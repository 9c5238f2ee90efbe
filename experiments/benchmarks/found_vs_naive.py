"""The headline benchmark: a searched custom B0 against B0 scaled naively, at the user's budget.

1. ``nas search`` for a custom B0 at ``--budget`` FLOPs (224 px, 1000 classes; soft MnasNet
   reward; every candidate fitted into [0.9 T, T]) with a Fashion-MNIST proxy, within
   ``--search-minutes`` (``search.timeout_minutes``), followed by verification (the top
   ``--verify-k`` and the naive network retrained), which picks ``best.json``.
   ``--search-run DIR`` takes the found network from an earlier ``nas search`` run instead.
2. The naive networks: ``efficientnet-b0`` uniformly width-scaled (``scaling.scale_to_budget``)
   to the budget and to ``--naive-at`` multiples of it (EfficientNet's baseline, P1 §3.3).
3. Every network is trained with one full recipe: every training image, ``--epochs`` epochs
   at ``--resolution`` px, ``--seeds`` seeds; the test split is scored once per run.
4. Two figures, as EfficientNet gives them (P1 Table 2, Fig. 1):
   - the accuracy gap at the budget: found minus B0 scaled to the budget, paired by seed
     (mean ± sample std of the per-seed differences);
   - the FLOPs ratio: the found network's FLOPs over the FLOPs naive scaling needs for the
     found network's mean accuracy, interpolated linearly in log FLOPs between the naive
     points (a bound when the accuracy lies outside them).

Each finished training run is appended to ``train.jsonl`` in ``--out``; a killed benchmark
resumes with the same command (an interrupted search resumes too). ``--data FILE`` also
writes the results there (the repository keeps them under ``experiments/data/``).

Usage: ``python experiments/benchmarks/found_vs_naive.py --budget 25e6 --out runs/fvn-25m
[--search-minutes 60] [--epochs 10] [--seeds 3] [--naive-at 1.4,2]``.
Needs Debian's dataset-fashion-mnist.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from nas import journal
from nas.progress import format_duration
from nas.training.data import DataSpec
from nas.training.threads import worker_threads
from nas.training.train import TrainConfig
from nas.training.train_pool import train_many
from scaling import scale_to_budget
from search_spaces import (
    Architecture,
    architecture_hash,
    architecture_to_dict,
    count_flops,
    count_params,
    load_architecture,
)

ROOT = Path(__file__).resolve().parents[2]
TRAIN_LOG = "train.jsonl"


def search_spec(args: argparse.Namespace) -> dict[str, Any]:
    """The search: the space and proxy of ``experiments/custom_b0_fashion_mnist.yaml`` at ``--budget``."""
    return {
        "name": f"found-vs-naive-{args.budget / 1e6:g}m",
        "seed": args.search_seed,
        "space": {
            "base": "efficientnet-b0",
            "kernel": [3, 5],
            "expand": [1, 3, 6],
            "se": [0.0, 0.25],
            "layers": [-1, 0, 1],
            "width": [0.75, 1.0, 1.25],
        },
        "target": {"resolution": 224, "num_classes": 1000, "flops": args.budget, "lower": 0.9},
        "objective": {"type": "mnas", "mode": "soft"},
        "proxy": {
            "dataset": "fashion-mnist",
            "train_size": 10000,
            "val_size": 5000,
            "resolution": args.resolution,
            "epochs": 2,
            "batch_size": 128,
        },
        "search": {"trials": args.trials, "sampler": "tpe", "pruner": "median", "timeout_minutes": args.search_minutes},
        "verify": {"top_k": args.verify_k, "seeds": 2},
    }


def search(args: argparse.Namespace, out: Path) -> tuple[Path, float | None]:
    """The search run's directory (run, resumed or given) and its seconds (None when given)."""
    if args.search_run:
        return Path(args.search_run), None
    run = out / "search"
    timing = out / "search_seconds.json"
    if (run / "best.json").exists():
        return run, json.loads(timing.read_text()) if timing.exists() else None
    spec_path = out / "search.yaml"
    if not spec_path.exists():
        spec_path.write_text(yaml.safe_dump(search_spec(args), sort_keys=False))
    cmd = [sys.executable, "-m", "nas", "search", str(spec_path), "--out", str(run)]
    if run.exists():
        cmd.append("--resume")
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"nas search failed with exit code {done.returncode}")
    seconds = time.perf_counter() - started  # a resumed search: the last leg only
    timing.write_text(json.dumps(seconds))
    return run, seconds


@dataclass(frozen=True)
class Network:
    label: str
    arch: Architecture
    flops: int
    params: int
    naive: bool


def networks(found: Architecture, budget: float, multiples: list[float]) -> list[Network]:
    """The found network, B0 scaled to the budget, then B0 at each multiple of it (those B0 can reach)."""
    b0 = load_architecture("efficientnet-b0")
    out = [Network("found", found, count_flops(found, num_classes=1000), count_params(found, num_classes=1000), False)]
    for multiple in [1.0, *multiples]:
        try:
            fit = scale_to_budget(b0, multiple * budget, resolution=224, num_classes=1000)
        except ValueError as exc:
            print(f"naive at {multiple:g}x the budget left out: {exc}")
            continue
        label = f"B0 x{fit.width:g}"
        out.append(Network(label, fit.arch, fit.cost, count_params(fit.arch, num_classes=1000), True))
    return out


def match_flops(points: list[tuple[float, float]], accuracy: float) -> tuple[str, float]:
    """The FLOPs naive scaling needs for ``accuracy``, from (FLOPs, mean accuracy) points.

    Linear in log FLOPs between the first pair of neighbouring points that brackets it;
    ``>=`` or ``<=`` the nearest point when none does (no extrapolation).
    """
    points = sorted(points)
    for (f0, a0), (f1, a1) in itertools.pairwise(points):
        if min(a0, a1) <= accuracy <= max(a0, a1) and a0 != a1:
            t = (accuracy - a0) / (a1 - a0)
            return "=", math.exp(math.log(f0) + t * (math.log(f1) - math.log(f0)))
    if accuracy > max(a for _, a in points):
        return ">", points[-1][0]
    return "<", points[0][0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=float, default=100e6, help="FLOPs at 224 px, 1000 classes")
    parser.add_argument("--search-minutes", type=float, default=60.0)
    parser.add_argument("--trials", type=int, default=1000, help="the search's trial cap")
    parser.add_argument("--search-seed", type=int, default=0)
    parser.add_argument("--search-run", help="take best.json from this finished nas search run instead of searching")
    parser.add_argument("--verify-k", type=int, default=3)
    parser.add_argument("--naive-at", default="1.4,2", help="further budgets for naive B0, as multiples of --budget")
    parser.add_argument("--epochs", type=int, default=10, help="epochs of the full recipe")
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", default="runs/found-vs-naive")
    parser.add_argument("--data", help="also write the results to this JSON file")
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="training runs side by side, each with its share of the cores (see nas.training.train_pool)",
    )
    parser.add_argument("--report", action="store_true", help="only report the runs finished so far")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    run, search_seconds = search(args, out)
    best = json.loads((run / "best.json").read_text())
    found = load_architecture(run / "best.json")
    budget = float(yaml.safe_load((run / "spec.yaml").read_text())["target"]["flops"])
    nets = networks(found, budget, [float(m) for m in args.naive_at.split(",") if m])

    log_path = out / TRAIN_LOG
    done = {(r["hash"], r["seed"]): r for r in journal.read(log_path) if r.get("epochs") == args.epochs}
    # the gap at the budget first (found and naive at T, seed by seed), then the naive points of the ratio
    order = [(seed, n) for seed in range(args.seeds) for n in nets[:2]] + [
        (seed, n) for seed in range(args.seeds) for n in nets[2:]]  # fmt: skip
    missing = [(seed, n) for seed, n in order if (architecture_hash(n.arch), seed) not in done]
    todo = [] if args.report else missing
    print(f"full recipe: {len(missing)} of {args.seeds * len(nets)} runs to go"
          + (" (--report: none is run now)" if args.report else ""), flush=True)  # fmt: skip
    threads = worker_threads(args.workers)
    jobs = [((seed, net), net.arch, TrainConfig(epochs=args.epochs, batch_size=128, resolution=args.resolution,
                                                seed=seed)) for seed, net in todo]  # fmt: skip
    spent: list[tuple[int, float]] = []
    left_flops = sum(n.flops for _, n in todo)
    results = train_many(jobs, DataSpec("fashion-mnist", val_size=5000), workers=args.workers, threads=threads,
                         evaluate_test=True)  # fmt: skip
    for i, ((seed, net), result) in enumerate(results):
        if result.status != "ok" or result.test_accuracy is None:
            raise SystemExit(f"{net.label} seed {seed}: {result.status} {result.reason}")
        record = {"hash": architecture_hash(net.arch), "label": net.label, "seed": seed, "epochs": args.epochs,
                  "test": result.test_accuracy, "seconds": result.seconds, "threads": threads}  # fmt: skip
        journal.append(log_path, record)
        done[(record["hash"], seed)] = record
        spent.append((net.flops, result.seconds))
        left_flops -= net.flops
        per_flop = sum(s for _, s in spent) / sum(f for f, _ in spent) / args.workers
        print(f"  [{i + 1}/{len(todo)}] {net.label} seed {seed}: test {100 * result.test_accuracy:.2f}% in "
              f"{result.seconds:.0f} s; about {format_duration(per_flop * left_flops)} left", flush=True)  # fmt: skip

    report(args, nets, done, best, budget, search_seconds, run)


def report(args: argparse.Namespace, nets: list[Network], done: dict[tuple[str, int], dict[str, Any]],
           best: dict[str, Any], budget: float, search_seconds: float | None, run: Path) -> None:  # fmt: skip
    """Print the table and the two figures from the runs finished so far (``complete`` says
    whether every run is in); write results.json (and ``--data``)."""
    runs = {n.label: {s: done[(architecture_hash(n.arch), s)] for s in range(args.seeds)
                      if (architecture_hash(n.arch), s) in done} for n in nets}  # fmt: skip
    test = {label: [r["test"] for r in by_seed.values()] for label, by_seed in runs.items()}
    seconds = {label: sum(r["seconds"] for r in by_seed.values()) for label, by_seed in runs.items()}
    complete = all(len(by_seed) == args.seeds for by_seed in runs.values())

    def spread(values: list[float]) -> float:
        return statistics.stdev(values) if len(values) > 1 else 0.0

    def accuracy(label: str) -> str:
        acc = test[label]
        return f"{100 * statistics.fmean(acc):>8.2f} ± {100 * spread(acc):.2f}% ({len(acc)})" if acc else "not yet"

    found, at_budget = nets[0], nets[1]
    print(f"\nbudget {budget / 1e6:g}M FLOPs at 224 px; full recipe: every training image, {args.epochs} epochs at "
          f"{args.resolution} px, {args.seeds} seeds, test split" + ("" if complete else "; INCOMPLETE"))  # fmt: skip
    if search_seconds is not None:
        print(f"search + verification: {format_duration(search_seconds)}")
    print(f"{'network':<22} {'FLOPs@224':>10} {'x budget':>8} {'params':>8} {'test accuracy (seeds)':>23} "
          f"{'train min':>9}")  # fmt: skip
    for n in nets:
        print(f"{n.label:<22} {n.flops / 1e6:>9.1f}M {n.flops / budget:>8.2f} {n.params / 1e6:>7.2f}M "
              f"{accuracy(n.label):>23} {seconds[n.label] / 60:>9.1f}")  # fmt: skip
    paired = sorted(set(runs[found.label]) & set(runs[at_budget.label]))
    gaps = [runs[found.label][s]["test"] - runs[at_budget.label][s]["test"] for s in paired]
    gap, gap_std = (100 * statistics.fmean(gaps), 100 * spread(gaps)) if gaps else (math.nan, math.nan)
    print(f"gap at the budget (found - {at_budget.label}, paired by seed, {len(gaps)} seeds): "
          f"{gap:+.2f} ± {gap_std:.2f} points")  # fmt: skip
    points = [(float(n.flops), statistics.fmean(test[n.label])) for n in nets if n.naive and test[n.label]]
    relation, matched, ratio = "", math.nan, math.nan
    if test[found.label] and len(points) >= 2:
        relation, matched = match_flops(points, statistics.fmean(test[found.label]))
        ratio = found.flops / matched
        if relation == "=":
            print(f"naive B0 needs {matched / 1e6:.1f}M FLOPs for the found network's accuracy: "
                  f"the found network's FLOPs are {ratio:.2f}x that")  # fmt: skip
        else:
            words = "more than the largest" if relation == ">" else "less than the smallest"
            print(f"naive B0 needs {words} naive point ({matched / 1e6:.1f}M) for the found network's accuracy: "
                  f"FLOPs ratio {'<' if relation == '>' else '>'} {ratio:.2f}")  # fmt: skip
    else:
        print("FLOPs ratio: not yet (it needs the found network and two naive points)")

    results = {
        "budget": budget,
        "recipe": {
            "dataset": "fashion-mnist",
            "train_images": "all",
            "epochs": args.epochs,
            "resolution": args.resolution,
            "seeds": args.seeds,
            "batch_size": 128,
            "score": "test",
            "threads_per_run": sorted(
                {int(r.get("threads", 2)) for by_seed in runs.values() for r in by_seed.values()}
            ),
        },
        "search_run": str(run),
        "search_seconds": search_seconds,
        "found_best_json": best,
        "networks": [
            {
                "label": n.label,
                "naive": n.naive,
                "flops": n.flops,
                "params": n.params,
                "architecture": architecture_to_dict(n.arch),
                "test": test[n.label],
                "train_seconds": seconds[n.label],
            }
            for n in nets
        ],
        "complete": complete,
        "gap_points": {"mean": gap, "std": gap_std, "seeds": len(gaps)},
        "flops_ratio": {"relation": relation, "naive_flops": matched, "ratio": ratio},
    }
    journal.write_data(Path(args.out) / "results.json", results)
    if args.data:
        journal.write_data(args.data, results)


if __name__ == "__main__":
    main()
