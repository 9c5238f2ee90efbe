"""Search quality and engine overhead, measured side by side in one run.

Part 1: on Fashion-MNIST, for a custom B0 at a FLOP budget (default 100M at 224 px, 1000
classes, soft MnasNet reward), run the same number of trained trials with TPE, NSGA-II and
random sampling over several seeds (no pruning, so every trial is trained), and report the
best reward found (mean +- std over seeds). The naive baseline is EfficientNet-B0 uniformly
width-scaled (``scaling.scale``) down to the budget, trained with the same proxy per seed.

Part 2: engine overhead at quickstart scale: the share of the search's wall time spent
outside proxy training (sampling, building, counting, storage, reports).

Usage: ``python experiments/benchmarks/search_vs_random.py [--trials 20 --seeds 3]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from nas.objectives import mnas_reward
from nas.plan import RunPlan
from nas.report import write_reports
from nas.rundir import create_run_dir
from nas.search.executors import execute_search
from nas.spec import spec_from_dict
from nas.training.data import DataError, DataSpec, load_dataset
from nas.training.threads import set_process_threads
from nas.training.train import train
from scaling import scale_to_budget
from search_spaces import load_architecture

ROOT = Path(__file__).resolve().parents[2]


def make_plan(args: argparse.Namespace, sampler: str, seed: int) -> RunPlan:
    return RunPlan.from_spec(
        spec_from_dict(
            {
                "name": f"{sampler}-{seed}",
                "seed": seed,
                "space": {"base": "efficientnet-b0"},
                "target": {"resolution": 224, "num_classes": 1000, "flops": args.budget},
                "objective": {"type": "mnas", "mode": "soft"},
                "proxy": {
                    "dataset": args.dataset,
                    "train_size": args.train_size,
                    "resolution": args.resolution,
                    "epochs": args.epochs,
                    "batch_size": 64,
                    "threads": args.threads,
                },
                "search": {"trials": args.trials, "sampler": sampler, "pruner": "none"},
            }
        )
    )


def search_quality(args: argparse.Namespace) -> None:
    samplers = ("tpe", "nsga2", "random")
    best: dict[str, list[float]] = {s: [] for s in samplers}
    naive: list[float] = []
    naive_b0 = scale_to_budget(load_architecture("efficientnet-b0"), args.budget, resolution=224, num_classes=1000)
    baseline, width, naive_flops = naive_b0.arch, naive_b0.width, naive_b0.cost
    started = time.perf_counter()
    for seed in range(args.seeds):
        for sampler in samplers:
            plan = make_plan(args, sampler, seed)
            with tempfile.TemporaryDirectory() as tmp:
                study = execute_search(plan, Path(tmp), resume=False, log=lambda _: None)
                rewards = [t.user_attrs["reward"] for t in study.trials if t.user_attrs.get("reward") is not None]
            best[sampler].append(max(rewards))
        plan = make_plan(args, "random", seed)
        result = train(baseline, plan.load_data(), plan.train)
        naive.append(mnas_reward(result.val_accuracy, naive_flops, args.budget, alpha=-0.07, beta=-0.07))
        print(f"seed {seed}: " + ", ".join(f"{s} {best[s][-1]:.4f}" for s in samplers) + f", naive {naive[-1]:.4f}",
              flush=True)  # fmt: skip
    minutes = (time.perf_counter() - started) / 60

    def stats(values: list[float]) -> str:
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{statistics.mean(values):.4f} +- {sd:.4f}"

    print(f"\nPart 1: best soft MnasNet reward after {args.trials} trained trials, {args.seeds} seeds "
          f"({args.dataset}, train {args.train_size}, {args.resolution} px, {args.epochs} epoch(s); "
          f"budget {args.budget / 1e6:.0f}M FLOPs at 224 px; {minutes:.1f} min)")  # fmt: skip
    print(f"{'method':<38} {'best reward (mean +- std)':>26}")
    for sampler in samplers:
        print(f"{sampler + ' search':<38} {stats(best[sampler]):>26}")
    print(f"{f'naive: B0 width x{width:.3f} ({naive_flops / 1e6:.1f}M)':<38} {stats(naive):>26}")
    for sampler in ("tpe", "nsga2"):
        diffs = [a - b for a, b in zip(best[sampler], best["random"], strict=True)]
        print(f"{sampler} - random, per seed: " + ", ".join(f"{d:+.4f}" for d in diffs))


def engine_overhead(args: argparse.Namespace) -> None:
    plan = RunPlan.load(ROOT / "experiments/quickstart.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = create_run_dir(plan, str(Path(tmp) / "run"))
        started = time.perf_counter()
        study = execute_search(plan, run_dir, resume=False, log=lambda _: None)
        write_reports(plan, study, run_dir)
        wall = time.perf_counter() - started
        training = sum(t.user_attrs.get("train_seconds", 0.0) for t in study.trials)
    print(f"\nPart 2: engine overhead, experiments/quickstart.yaml ({len(study.trials)} trials)")
    print(f"search wall time {wall:.1f} s, proxy training {training:.1f} s, "
          f"outside training {wall - training:.1f} s = {100 * (wall - training) / wall:.1f}% of wall time")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--budget", type=float, default=100e6)
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--train-size", type=int, default=2000)
    parser.add_argument("--resolution", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-quality", action="store_true", help="only measure the engine overhead")
    args = parser.parse_args()
    set_process_threads(args.threads)
    if not args.skip_quality:
        try:
            load_dataset(DataSpec(args.dataset, train_size=args.train_size))
        except DataError as exc:
            raise SystemExit(f"{exc}") from None
        search_quality(args)
    engine_overhead(args)


if __name__ == "__main__":
    main()
