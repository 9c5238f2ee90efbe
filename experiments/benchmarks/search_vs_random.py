"""Search quality and engine overhead, measured side by side in one run.

Part 1: on Fashion-MNIST, for a custom B0 at a FLOP budget (default 100M at 224 px, 1000
classes, soft MnasNet reward, every candidate fitted into [0.9 T, T], the depth choices
centred on the budget), run the same number of trials with each sampler of ``--samplers``
(TPE, random, regularized evolution, local search; no pruning) over several search seeds.
Two figures per sampler and seed:

- the best proxy reward the search saw (the maximum over noisy runs: it flatters every sampler);
- the **picked network re-trained**: the search's best trial trained again with
  ``--eval-seeds`` fresh seeds on the same proxy, its mean reward. This is the figure that
  compares strategies, paired by search seed against random search with the 95% t interval.

Every search starts from the same warm start (trial 0 and the enqueued naive networks), as
``nas search`` does. The naive baseline is B0 width-scaled to the budget, trained per seed.

Part 2: engine overhead at quickstart scale: the share of the search's wall time spent
outside proxy training (sampling, building, counting, storage, reports).

Usage: ``python experiments/benchmarks/search_vs_random.py [--trials 20 --seeds 3]
[--samplers tpe,random,evolution,local] [--data FILE]``
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from nas import journal
from nas.measure.stats import paired_gap
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
from search_spaces import Architecture, architecture_from_record, load_architecture

ROOT = Path(__file__).resolve().parents[2]


def make_plan(args: argparse.Namespace, sampler: str, seed: int) -> RunPlan:
    return RunPlan.from_spec(
        spec_from_dict(
            {
                "name": f"{sampler}-{seed}",
                "seed": seed,
                "space": {"base": "efficientnet-b0"},
                "target": {"resolution": 224, "num_classes": 1000, "flops": args.budget, "lower": 0.9},
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
                "verify": {"enabled": False},
            }
        )
    )


def retrained(plan: RunPlan, arch: Architecture, flops: float, seeds: list[int], budget: float) -> float:
    """The mean soft reward of ``arch`` trained again with each of ``seeds`` on the plan's proxy."""
    data = plan.load_data()
    rewards = []
    for seed in seeds:
        result = train(arch, data, dataclasses.replace(plan.train, seed=seed))
        rewards.append(mnas_reward(result.val_accuracy, flops, budget, alpha=-0.07, beta=-0.07))
    return statistics.fmean(rewards)


def search_quality(args: argparse.Namespace) -> dict[str, Any]:
    samplers = [s for s in args.samplers.split(",") if s]
    best: dict[str, list[float]] = {s: [] for s in samplers}
    picked: dict[str, list[float]] = {s: [] for s in samplers}
    naive: list[float] = []
    naive_b0 = scale_to_budget(load_architecture("efficientnet-b0"), args.budget, resolution=224, num_classes=1000)
    baseline, width, naive_flops = naive_b0.arch, naive_b0.width, naive_b0.cost
    eval_seeds = [1000 + i for i in range(args.eval_seeds)]
    started = time.perf_counter()
    for seed in range(args.seeds):
        for sampler in samplers:
            plan = make_plan(args, sampler, seed)
            with tempfile.TemporaryDirectory() as tmp:
                study = execute_search(plan, Path(tmp), resume=False, log=lambda _: None)
                done = [t for t in study.trials if t.user_attrs.get("reward") is not None]
                top = max(done, key=lambda t: (t.user_attrs["reward"], -t.number))
            best[sampler].append(top.user_attrs["reward"])
            arch = architecture_from_record(top.user_attrs["architecture"])
            picked[sampler].append(retrained(plan, arch, top.user_attrs["flops"], eval_seeds, args.budget))
        plan = make_plan(args, "random", seed)
        naive.append(retrained(plan, baseline, naive_flops, [seed], args.budget))
        print(f"seed {seed}: picked, re-trained: " + ", ".join(f"{s} {picked[s][-1]:.4f}" for s in samplers)
              + f", naive {naive[-1]:.4f}", flush=True)  # fmt: skip
    minutes = (time.perf_counter() - started) / 60

    def stats(values: list[float]) -> str:
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{statistics.mean(values):.4f} +- {sd:.4f}"

    print(f"\nPart 1: {args.trials} trials per search, {args.seeds} search seeds, picks re-trained with "
          f"{args.eval_seeds} fresh seeds ({args.dataset}, train {args.train_size}, {args.resolution} px, "
          f"{args.epochs} epoch(s); budget {args.budget / 1e6:.0f}M FLOPs at 224 px; {minutes:.1f} min)")  # fmt: skip
    print(f"{'method':<38} {'best seen (mean +- std)':>26} {'picked, re-trained':>26}")
    for sampler in samplers:
        print(f"{sampler + ' search':<38} {stats(best[sampler]):>26} {stats(picked[sampler]):>26}")
    print(f"{f'naive: B0 width x{width:.3f} ({naive_flops / 1e6:.1f}M)':<38} {'':>26} {stats(naive):>26}")
    gaps = {}
    for sampler in samplers:
        if sampler != "random" and "random" in picked:
            gap = paired_gap(dict(enumerate(picked[sampler])), dict(enumerate(picked["random"])))
            if gap is not None:
                gaps[sampler] = gap.as_record()
                print(f"{sampler} - random, picked and re-trained: {gap.text(unit='reward points')}")
    return {"samplers": samplers, "trials": args.trials, "seeds": args.seeds, "eval_seeds": args.eval_seeds,
            "proxy": {"dataset": args.dataset, "train_size": args.train_size, "resolution": args.resolution,
                      "epochs": args.epochs}, "budget": args.budget,
            "best_seen": best, "picked_retrained": picked, "naive": naive, "versus_random": gaps,
            "minutes": minutes}  # fmt: skip


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
    parser.add_argument("--samplers", default="tpe,random,evolution,local", help="the samplers compared")
    parser.add_argument("--eval-seeds", type=int, default=2, help="fresh seeds each picked network is re-trained with")
    parser.add_argument("--data", help="also write part 1's figures to this JSON file")
    parser.add_argument("--skip-quality", action="store_true", help="only measure the engine overhead")
    args = parser.parse_args()
    set_process_threads(args.threads)
    if not args.skip_quality:
        try:
            load_dataset(DataSpec(args.dataset, train_size=args.train_size))
        except DataError as exc:
            raise SystemExit(f"{exc}") from None
        results = search_quality(args)
        if args.data:
            journal.write_data(args.data, results)
    engine_overhead(args)


if __name__ == "__main__":
    main()
