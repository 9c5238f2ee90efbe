"""Search quality and engine overhead, measured side by side in one run.

Part 1: on Fashion-MNIST, for a custom B0 at a FLOP budget (default 100M at 224 px, 1000
classes, soft MnasNet reward, every candidate fitted into [0.9 T, T], the depth choices
centred on the budget), run each sampler of ``--samplers`` (TPE, random, regularized
evolution, local search; no pruning) over several search seeds, each search given the same
``--trials``, or the same wall time (``--minutes``: equal search time, no trial cap). Per
sampler and seed:

- the best proxy reward the search saw (the maximum over noisy runs: it flatters every sampler);
- the **picked network re-trained**: the search's best trial trained again with
  ``--eval-seeds`` fresh seeds on the same proxy, its mean reward;
- with ``--full-epochs N``, the **picked network trained in full**: every training image, N
  epochs at 32 px, no dropout or drop-path (``found_vs_naive.py``'s plain recipe), seeded by
  the search seed; its validation accuracy (5,000 images held out of the training split)
  decides, its test accuracy is reported. B0 scaled to the budget by EfficientNet's compound
  rule is trained beside the picks with the same seeds.

Strategies are compared paired by search seed against random search, with the 95% t interval.
With ``--out DIR`` every finished search and training run is journalled there, and a killed
run resumes with the same command, repeating none of them.

Every search starts from the same warm start (trial 0 and the enqueued naive networks), as
``nas search`` does. The naive baseline is B0 width-scaled to the budget, trained per seed.

Part 2: engine overhead at quickstart scale: the share of the search's wall time spent
outside proxy training (sampling, building, counting, storage, reports).

Usage: ``python experiments/benchmarks/search_vs_random.py [--trials 20 | --minutes 2] [--seeds 3]
[--samplers tpe,random,evolution,local] [--full-epochs 10 --out runs/svr] [--data FILE]``
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
from nas.training.threads import set_process_threads, worker_threads
from nas.training.train import TrainConfig, train
from nas.training.train_pool import train_many
from scaling import scale_to_budget
from search_spaces import (
    Architecture,
    architecture_from_dict,
    architecture_from_record,
    architecture_hash,
    architecture_to_dict,
    load_architecture,
)

ROOT = Path(__file__).resolve().parents[2]


SEARCHES, FULL_RUNS = "searches.jsonl", "full.jsonl"  # the journals in --out
TRIAL_CAP = 10000  # a search given --minutes: its timeout ends it


def make_plan(args: argparse.Namespace, sampler: str, seed: int) -> RunPlan:
    timed = args.minutes is not None
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
                "search": {"trials": TRIAL_CAP if timed else args.trials, "sampler": sampler, "pruner": "none"}
                | ({"timeout_minutes": args.minutes} if timed else {}),
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


def one_search(args: argparse.Namespace, sampler: str, seed: int, eval_seeds: list[int]) -> dict[str, Any]:
    """One search's record: the best reward it saw, its pick (architecture and FLOPs), the pick
    re-trained on the proxy, and the search's trials and seconds."""
    plan = make_plan(args, sampler, seed)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        study = execute_search(plan, Path(tmp), resume=False, log=lambda _: None)
    seconds = time.perf_counter() - started
    done = [t for t in study.trials if t.user_attrs.get("reward") is not None]
    top = max(done, key=lambda t: (t.user_attrs["reward"], -t.number))
    arch = architecture_from_record(top.user_attrs["architecture"])
    return {"sampler": sampler, "seed": seed, "setting": setting(args), "best_seen": top.user_attrs["reward"],
            "pick": top.number, "architecture": architecture_to_dict(arch), "flops": top.user_attrs["flops"],
            "retrained": retrained(plan, arch, top.user_attrs["flops"], eval_seeds, args.budget),
            "trials": len(study.trials), "scored": len(done), "seconds": seconds}  # fmt: skip


def setting(args: argparse.Namespace) -> dict[str, Any]:
    """What a journalled search must share with this run to stand for one of its searches."""
    return {"budget": args.budget, "trials": None if args.minutes is not None else args.trials, "minutes": args.minutes,
            "dataset": args.dataset, "train_size": args.train_size, "resolution": args.resolution,
            "epochs": args.epochs, "eval_seeds": args.eval_seeds}  # fmt: skip


def run_searches(args: argparse.Namespace, out: Path, samplers: list[str]) -> dict[tuple[str, int], dict[str, Any]]:
    """Every (sampler, search seed)'s record, from the journal where it finished before with this setting."""
    log = out / SEARCHES
    records = {(r["sampler"], r["seed"]): r for r in journal.read(log) if r.get("setting") == setting(args)}
    eval_seeds = [1000 + i for i in range(args.eval_seeds)]
    for seed in range(args.seeds):
        for sampler in samplers:
            if (sampler, seed) not in records:
                records[(sampler, seed)] = record = one_search(args, sampler, seed, eval_seeds)
                journal.append(log, record)
        print(f"seed {seed}: picked, re-trained: "
              + ", ".join(f"{s} {records[(s, seed)]['retrained']:.4f}" for s in samplers), flush=True)  # fmt: skip
    return records


def plain(arch: Architecture) -> Architecture:
    """The network as the plain full recipe trains it: no dropout, no drop-path."""
    return dataclasses.replace(arch, dropout=0.0, drop_path=0.0)


def full_training(args: argparse.Namespace, out: Path, picks: dict[tuple[str, int], Architecture],
                  ) -> dict[tuple[str, int], dict[str, Any]]:  # fmt: skip
    """Each pick trained in full with its search seed, by (label, seed): every training image,
    ``--full-epochs`` epochs at 32 px, the plain recipe. A network two labels share at one
    seed trains once; runs journalled in ``out`` are not trained again."""
    log = out / FULL_RUNS
    done = {(r["hash"], r["seed"]): r for r in journal.read(log) if r["epochs"] == args.full_epochs}
    todo: dict[tuple[str, int], Architecture] = {}
    for (_, seed), arch in picks.items():
        if (key := (architecture_hash(arch), seed)) not in done:
            todo[key] = arch
    print(f"full training: {len(todo)} runs to go", flush=True)
    config = TrainConfig(epochs=args.full_epochs, batch_size=128, resolution=32)
    jobs = [(key, arch, dataclasses.replace(config, seed=key[1])) for key, arch in todo.items()]
    results = train_many(jobs, DataSpec(args.dataset, val_size=args.full_val_size), workers=args.workers,
                         threads=worker_threads(args.workers), evaluate_test=True)  # fmt: skip
    for (arch_hash, seed), result in results:
        if result.status != "ok" or result.test_accuracy is None:
            raise SystemExit(f"full training of {arch_hash} seed {seed}: {result.status} {result.reason}")
        record = {"hash": arch_hash, "seed": seed, "epochs": args.full_epochs, "val": result.val_accuracy,
                  "test": result.test_accuracy, "seconds": result.seconds}  # fmt: skip
        journal.append(log, record)
        done[(arch_hash, seed)] = record
        print(f"  {arch_hash} seed {seed}: val {100 * record['val']:.2f}%, test {100 * record['test']:.2f}% "
              f"in {record['seconds']:.0f} s", flush=True)  # fmt: skip
    return {label: done[(architecture_hash(arch), label[1])] for label, arch in picks.items()}


def versus(values: dict[str, list[float]], unit: str, baseline: str = "random") -> dict[str, dict[str, Any]]:
    """Each sampler minus ``baseline`` (random search, or the compound-scaled B0), paired by
    search seed, with its 95% t interval (printed)."""
    gaps = {}
    for sampler, mine in values.items():
        if sampler != baseline and baseline in values:
            gap = paired_gap(dict(enumerate(mine)), dict(enumerate(values[baseline])))
            if gap is not None:
                gaps[sampler] = gap.as_record()
                print(f"{sampler} - {baseline}: {gap.text(unit=unit)}")
    return gaps


def stats(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.4f} +- {sd:.4f}"


def search_quality(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    samplers = [s for s in args.samplers.split(",") if s]
    started = time.perf_counter()
    records = run_searches(args, out, samplers)
    seeds = range(args.seeds)
    best = {s: [records[(s, k)]["best_seen"] for k in seeds] for s in samplers}
    picked = {s: [records[(s, k)]["retrained"] for k in seeds] for s in samplers}
    naive_b0 = scale_to_budget(load_architecture("efficientnet-b0"), args.budget, resolution=224, num_classes=1000)
    naive = [retrained(make_plan(args, "random", k), naive_b0.arch, naive_b0.cost, [k], args.budget) for k in seeds]
    budget = f"equal wall time, {args.minutes:g} min" if args.minutes is not None else f"{args.trials} trials"
    print(f"\nPart 1: {budget} per search, {args.seeds} search seeds, picks re-trained with {args.eval_seeds} "
          f"fresh seeds ({args.dataset}, train {args.train_size}, {args.resolution} px, {args.epochs} epoch(s); "
          f"budget {args.budget / 1e6:.0f}M FLOPs at 224 px)")  # fmt: skip
    print(f"{'method':<38} {'trials (mean)':>14} {'best seen (mean +- std)':>26} {'picked, re-trained':>26}")
    for s in samplers:
        trials = statistics.fmean(records[(s, k)]["trials"] for k in seeds)
        print(f"{s + ' search':<38} {trials:>14.1f} {stats(best[s]):>26} {stats(picked[s]):>26}")
    print(f"{f'naive: B0 width x{naive_b0.width:.3f} ({naive_b0.cost / 1e6:.1f}M)':<38} {'':>14} {'':>26} "
          f"{stats(naive):>26}")  # fmt: skip
    results: dict[str, Any] = {
        "samplers": samplers, "trials": None if args.minutes is not None else args.trials, "minutes": args.minutes,
        "seeds": args.seeds, "eval_seeds": args.eval_seeds, "budget": args.budget,
        "proxy": {"dataset": args.dataset, "train_size": args.train_size, "resolution": args.resolution,
                  "epochs": args.epochs},
        "searches": [records[(s, k)] for k in seeds for s in samplers], "best_seen": best, "picked_retrained": picked,
        "naive": naive, "versus_random": versus(picked, "reward points")}  # fmt: skip
    if args.full_epochs:
        results["full"] = full_results(args, out, records, samplers)
    results["wall_minutes"] = (time.perf_counter() - started) / 60
    return results


def full_results(args: argparse.Namespace, out: Path, records: dict[tuple[str, int], dict[str, Any]],
                 samplers: list[str]) -> dict[str, Any]:  # fmt: skip
    """The picks and the compound-scaled B0 trained in full; accuracies per sampler, gaps to random
    search and to the compound-scaled B0."""
    compound = scale_to_budget(load_architecture("efficientnet-b0"), args.budget, rule="compound",
                               resolution=224, num_classes=1000).arch  # fmt: skip
    labels = [*samplers, "compound"]
    picks = {(s, k): plain(architecture_from_dict(records[(s, k)]["architecture"]) if s != "compound" else compound)
             for s in labels for k in range(args.seeds)}  # fmt: skip
    runs = full_training(args, out, picks)
    val = {s: [runs[(s, k)]["val"] for k in range(args.seeds)] for s in labels}
    test = {s: [runs[(s, k)]["test"] for k in range(args.seeds)] for s in labels}
    print(f"\nThe picks trained in full ({args.full_epochs} epochs, every training image, 32 px, plain recipe, "
          "seeded by the search seed)")  # fmt: skip
    print(f"{'method':<38} {'validation (mean +- std)':>26} {'test (mean +- std)':>26}")
    for s in labels:
        print(f"{s + (' search' if s != 'compound' else ' B0 (naive)'):<38} {stats(val[s]):>26} {stats(test[s]):>26}")
    gaps: dict[str, dict[str, dict[str, Any]]] = {}
    for baseline, among in (("random", samplers), ("compound", labels)):
        for split, values, what in (("val", val, "validation, which decides"), ("test", test, "test, reported")):
            print(f"{what}:")
            gaps[f"versus_{baseline}_{split}"] = versus({s: values[s] for s in among}, "points", baseline)
    return {"epochs": args.full_epochs, "resolution": 32, "recipe": "plain",
            "runs": [{"label": s, **runs[(s, k)]} for s in labels for k in range(args.seeds)], "val": val, "test": test,
            **gaps}  # fmt: skip


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
    parser.add_argument("--minutes", type=float, help="each search's wall time instead of --trials (equal time)")
    parser.add_argument("--full-epochs", type=int, default=0, help="train each pick in full for this many epochs")
    parser.add_argument("--full-val-size", type=int, default=5000, help="validation images held out of training")
    parser.add_argument("--workers", type=int, default=2, help="full training runs side by side")
    parser.add_argument("--out", help="journal searches and full runs here; a killed run resumes from it")
    parser.add_argument("--data", help="also write part 1's figures to this JSON file")
    parser.add_argument("--skip-quality", action="store_true", help="only measure the engine overhead")
    parser.add_argument("--skip-overhead", action="store_true", help="only measure the search quality")
    args = parser.parse_args()
    set_process_threads(args.threads)
    if not args.skip_quality:
        try:
            load_dataset(DataSpec(args.dataset, train_size=args.train_size))
        except DataError as exc:
            raise SystemExit(f"{exc}") from None
        with tempfile.TemporaryDirectory() as tmp:
            results = search_quality(args, Path(args.out or tmp))
        if args.data:
            journal.write_data(args.data, results)
    if not args.skip_overhead:
        engine_overhead(args)


if __name__ == "__main__":
    main()
