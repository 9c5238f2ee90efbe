"""The headline benchmark: a searched custom B0 against B0 scaled naively, and against other
search strategies, at the user's budget.

1. ``nas search`` for a custom B0 at ``--budget`` FLOPs (224 px, 1000 classes; soft MnasNet
   reward; every candidate fitted into [0.9 T, T]; the depth choices centred on the budget
   unless ``--layers``) with a Fashion-MNIST proxy, within ``--trials`` or
   ``--search-minutes``, followed by verification (the top ``--verify-k`` and every naive
   network retrained), which picks ``best.json``. ``--search-run DIR`` takes the found
   network from an earlier ``nas search`` (or ``nas run``'s ``search/``) instead, with its
   own spec and target; ``--found-from FILE`` from the ``found`` row of an earlier results file;
   ``--spec FILE`` searches with that spec file instead of the built-in one (its target
   too: ``experiments/native_fashion_mnist.yaml`` counts the budget at 32 px and 10 classes).
2. The arms (``--arms random,evolution:1,training_aware,...``): the same search with another
   ``search.sampler`` (and search seed), or with EfficientNetV2's training-aware objective in
   the same FLOPs band; the same space, fit, proxy, verification and trial cap. Each arm's
   verified winner is trained beside the found network. ``--arm-time equal`` gives each arm
   the found search's trial wall time instead of its trial cap (``equal_time``).
3. The naive networks: ``efficientnet-b0`` scaled to the budget by every rule of
   ``--rules`` (``scaling.NAIVE_RULES``: width only, EfficientNet's compound rule, depth
   halved then width; ``scaling.scale_to_budget``), and width-scaled to ``--naive-at``
   multiples of it (EfficientNet's baseline, P1 §3.3).
4. Every network is trained with one full recipe: every training image, ``--epochs`` epochs
   at ``--resolution`` px, ``--seeds`` seeds; the test split is scored once per run.
   ``--recipe own`` keeps each architecture's dropout and drop-path; ``--recipe plain``
   trains without either (AdamW one-cycle, as both recipes do). ``--runs-from`` reuses the
   runs of an earlier results file or ``nas run`` directory with the same recipe.
5. The figures, as EfficientNet gives them (P1 Table 2, Fig. 1):
   - the accuracy gap at the budget: found minus each arm's winner and each naive network,
     paired by seed, with the 95% t interval of the mean per-seed difference
     (``nas.measure.stats``), beside the found/naive ratios of FLOPs and of the measured
     training step time and batch-1 latency (``speeds.json``);
   - the FLOPs ratio: the found network's FLOPs over the FLOPs naive scaling needs for the
     found network's mean accuracy, interpolated linearly in log FLOPs between the naive
     points (a bound when the accuracy lies outside them).

Each finished training run is appended to ``train.jsonl`` in ``--out``; a killed benchmark
resumes with the same command (an interrupted search resumes too). ``--data FILE`` also
writes the results there (the repository keeps them under ``experiments/data/``).

Usage: ``python experiments/benchmarks/found_vs_naive.py --budget 25e6 --out runs/fvn-25m
[--arms random] [--recipe plain] [--epochs 10] [--seeds 3] [--naive-at 1.4,2]``, or
``--search-run runs/pipeline-fm/search --arms random --naive-at ""`` for a finished search, or
``--spec experiments/native_fashion_mnist.yaml --arms random --naive-at ""`` for the native setting.
Needs Debian's dataset-fashion-mnist.
"""

from __future__ import annotations

import argparse
import dataclasses
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

import optuna
import yaml

from nas import journal
from nas.measure.costs import measure_speeds
from nas.measure.stats import PairedGap, paired_gap
from nas.progress import format_duration
from nas.report import wall_seconds
from nas.spec import SAMPLERS
from nas.training.data import DataSpec
from nas.training.threads import worker_threads
from nas.training.train import TrainConfig
from nas.training.train_pool import train_many
from scaling import NAIVE_RULES, scale_to_budget
from search_spaces import (
    Architecture,
    architecture_from_dict,
    architecture_hash,
    architecture_to_dict,
    count_flops,
    count_params,
    load_architecture,
)

ROOT = Path(__file__).resolve().parents[2]
TRAIN_LOG = "train.jsonl"


@dataclass(frozen=True)
class Arm:
    """Another search beside the found network's: the same spec with ``sampler`` (``random``,
    ``evolution``, ``local``, or ``tpe`` again) and, when given, another search ``seed``; or
    ``training_aware``, the found search's sampler with EfficientNetV2's objective."""

    sampler: str
    seed: int | None = None

    @property
    def name(self) -> str:
        return self.sampler + ("" if self.seed is None else f"-seed{self.seed}")

    @property
    def label(self) -> str:
        what = "training-aware search" if self.sampler == TRAINING_AWARE_ARM else f"{self.sampler} search"
        return what + ("" if self.seed is None else f" (seed {self.seed})")


TRAINING_AWARE_ARM = "training_aware"  # an arm that changes the objective, not the sampler
ARM_TRIAL_CAP = 10000  # an arm searching for equal time (--arm-time equal): its timeout ends it


def parse_arms(text: str) -> list[Arm]:
    """``random,evolution:1,tpe:2,training_aware``: samplers (or the training-aware objective),
    each with an optional search seed."""
    arms = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        sampler, _, seed = item.partition(":")
        if sampler not in (*SAMPLERS, TRAINING_AWARE_ARM) or (seed and not seed.isdigit()):
            raise SystemExit(f"--arms: {item!r} is not ARM[:SEED] with an arm of "
                             f"{', '.join((*SAMPLERS, TRAINING_AWARE_ARM))}")  # fmt: skip
        arms.append(Arm(sampler, int(seed) if seed else None))
    return arms


def search_spec(args: argparse.Namespace, sampler: str = "tpe") -> dict[str, Any]:
    """The search at ``--budget``: the default space (its depth choices centred on the budget,
    ``nas.spec``; ``--layers`` gives them instead) and the 10,000-image, 2-epoch Fashion-MNIST
    proxy of ``experiments/pipeline_fashion_mnist.yaml``, with ``sampler``."""
    space: dict[str, Any] = {"base": "efficientnet-b0", "kernel": [3, 5], "expand": [1, 3, 6], "se": [0.0, 0.25],
                             "width": [0.75, 1.0, 1.25]}  # fmt: skip
    if args.layers:
        space["layers"] = [int(d) for d in args.layers.split(",")]
    return {
        "name": f"found-vs-naive-{args.budget / 1e6:g}m",
        "seed": args.search_seed,
        "space": space,
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
        "search": {
            "trials": args.trials,
            "sampler": sampler,
            "pruner": "median",
            "timeout_minutes": args.search_minutes,
        },
        "verify": {"top_k": args.verify_k, "seeds": 3},
    }


def arm_spec(spec: dict[str, Any], arm: Arm) -> dict[str, Any]:
    """``spec`` (the found network's search: space, fit, proxy, verification, trial cap and
    minutes) with the arm's sampler and seed: an arm that differs in its strategy only. The
    training-aware arm keeps the sampler and scores ``A * S^w * P^v`` within the same FLOPs
    band (``docs/training-aware.md``), with S the training step as the proxy trains: its batch
    and resolution, one thread."""
    spec = {**spec, "name": f"{spec['name']}-{arm.name}"}
    if arm.sampler == TRAINING_AWARE_ARM:
        proxy = spec["proxy"]
        step = {"batch_size": proxy.get("batch_size", 128), "resolution": proxy.get("resolution", 32), "threads": 1}
        spec["objective"] = {"type": "training_aware"}
        spec["target"] = {**spec["target"], "step": step}
    else:
        spec["search"] = {**spec["search"], "sampler": arm.sampler}
    if arm.seed is not None:
        spec["seed"] = arm.seed
    return spec


def trial_minutes(run: Path) -> float:
    """The wall time of a finished search's trials, in minutes: its first trial's start to its
    last trial's end (the study's own timestamps; verification not included)."""
    storage = f"sqlite:///{run / 'study.db'}"
    (name,) = optuna.get_all_study_names(storage)
    return wall_seconds(optuna.load_study(study_name=name, storage=storage).trials) / 60


def equal_time(spec: dict[str, Any], found_run: Path) -> dict[str, Any]:
    """An arm's spec searching for as long as the found network's search did (``trial_minutes``)
    rather than for its trial cap. A strategy that samples many candidates which cannot land
    (skipped untrained, in no time) would otherwise search for less time than the found one."""
    minutes = math.ceil(trial_minutes(found_run) * 100) / 100
    return {**spec, "search": {**spec["search"], "trials": ARM_TRIAL_CAP, "timeout_minutes": minutes}}


def search(args: argparse.Namespace, out: Path, arm: Arm | None = None) -> tuple[Path, float | None]:
    """The search run's directory (run, resumed or given) and its seconds (None when given).

    ``arm`` None is the found network's search (``--search-run`` gives a finished one). An
    arm searches with that search's own spec (``arm_spec``); ``--arm-run`` gives a finished arm."""
    if arm is None and args.search_run:
        return Path(args.search_run), None
    given = dict(item.split("=", 1) for item in args.arm_run) if arm is not None else {}
    if arm is not None and arm.name in given:
        return Path(given[arm.name]), _seconds(Path(given[arm.name]))
    suffix = "" if arm is None else f"-{arm.name}"
    run = out / f"search{suffix}"
    timing = out / f"search{suffix}_seconds.json"
    if (run / "best.json").exists():
        return run, json.loads(timing.read_text()) if timing.exists() else None
    spec_path = out / f"search{suffix}.yaml"
    if not spec_path.exists():
        given_spec = Path(args.search_run) / "spec.yaml" if args.search_run else args.spec
        found = yaml.safe_load(Path(given_spec).read_text()) if given_spec else search_spec(args)
        spec = found if arm is None else arm_spec(found, arm)
        if arm is not None and args.arm_time == "equal":
            spec = equal_time(spec, Path(args.search_run) if args.search_run else out / "search")
        spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))
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


def _seconds(run: Path) -> float | None:
    """The seconds a search run took, where this benchmark ran it (``search-SAMPLER_seconds.json`` beside it)."""
    timing = run.parent / f"{run.name}_seconds.json"
    return float(json.loads(timing.read_text())) if timing.exists() else None


@dataclass(frozen=True)
class Network:
    label: str
    arch: Architecture
    flops: int
    params: int
    naive: bool


@dataclass(frozen=True)
class Target:
    """Where the budget is counted (the search spec's ``target``): 224 px and 1000 classes for
    the ImageNet convention, or the size the network runs at (32 px, 10 classes natively)."""

    resolution: int = 224
    num_classes: int = 1000

    def network(self, label: str, arch: Architecture, naive: bool = False) -> Network:
        flops = count_flops(arch, resolution=self.resolution, num_classes=self.num_classes)
        return Network(label, arch, flops, count_params(arch, num_classes=self.num_classes), naive)


def networks(found: Architecture, budget: float, rules: list[str], multiples: list[float],
             target: Target = Target()) -> list[Network]:  # fmt: skip
    """The found network, B0 scaled to the budget by each rule, then B0 width-scaled to each
    multiple of it (those B0 can reach). Labels name the rule: ``width B0 x0.4444``,
    ``compound B0 phi-6.03``, ``half_depth B0 x0.5555``."""
    b0 = load_architecture("efficientnet-b0")
    out = [target.network("found", found)]
    points = [(rule, 1.0) for rule in rules] + [("width", m) for m in multiples]
    for rule, multiple in points:
        try:
            fit = scale_to_budget(b0, multiple * budget, rule=rule, resolution=target.resolution,
                                  num_classes=target.num_classes)  # fmt: skip
        except ValueError as exc:
            print(f"naive ({rule}) at {multiple:g}x the budget left out: {exc}")
            continue
        label = f"{rule} B0 " + (f"phi{fit.phi:g}" if fit.phi is not None else f"x{fit.width:g}")
        out.append(target.network(label, fit.arch, naive=True))
    return out


def recipe_arch(arch: Architecture, recipe: str) -> Architecture:
    """The network as the recipe trains it: ``own`` as it is, ``plain`` without dropout and drop-path."""
    return arch if recipe == "own" else dataclasses.replace(arch, dropout=0.0, drop_path=0.0)


def pipeline_runs(run: Path, args: argparse.Namespace) -> dict[tuple[str, int], dict[str, Any]]:
    """Per-seed test accuracies of a ``nas run`` directory's final training (``train/*/card.json``),
    by (network hash, seed), for the runs trained with this recipe: the same epochs and
    resolution, a fixed size (not progressive), the architecture's own dropout and drop-path
    for ``own`` (a card's hash is the trained architecture's, so ``plain`` matches only
    networks trained without them)."""
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for card_path in sorted((run / "train").glob("*/card.json")):
        card = json.loads(card_path.read_text())
        recipe, metrics = card["recipe"], card["metrics"]
        if (recipe["epochs"], recipe["resolution"], recipe.get("progressive")) != (args.epochs, args.resolution, None):
            continue
        if metrics.get("test_accuracy") is None or recipe.get("dropout") is not None:
            continue
        out[(card["architecture_hash"], recipe["seed"])] = {
            "hash": card["architecture_hash"], "label": card_path.parent.name, "seed": recipe["seed"],
            "epochs": recipe["epochs"], "test": metrics["test_accuracy"], "val": metrics.get("val_accuracy"),
            "seconds": metrics["seconds"], "threads": recipe.get("threads") or 1, "from": str(card_path)}  # fmt: skip
    return out


def earlier_runs(path: Path, args: argparse.Namespace) -> dict[tuple[str, int], dict[str, Any]]:
    """Per-seed test accuracies of an earlier results file, by (network hash, seed), where its
    recipe (epochs, resolution, dropout and drop-path) is this run's: the same training, measured once.
    A ``nas run`` directory is read by ``pipeline_runs``."""
    if path.is_dir():
        return pipeline_runs(path, args)
    earlier = json.loads(path.read_text())
    recipe = earlier["recipe"]
    own = recipe.get("dropout_and_drop_path", True)  # files before --recipe trained with the architectures' own
    if (recipe["epochs"], recipe["resolution"], own) != (args.epochs, args.resolution, args.recipe == "own"):
        raise SystemExit(f"--runs-from {path}: another recipe ({recipe})")
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for n in earlier["networks"]:
        arch_hash = architecture_hash(architecture_from_dict(n["architecture"]))
        for seed, test in enumerate(n["test"]):
            out[(arch_hash, seed)] = {"hash": arch_hash, "label": n["label"], "seed": seed, "epochs": recipe["epochs"],
                                      "test": test, "seconds": n["train_seconds"] / max(1, len(n["test"])),
                                      "threads": recipe.get("threads_per_run", [2])[0], "from": str(path)}  # fmt: skip
    return out


def found_from(path: Path) -> tuple[Path, float | None, float, dict[str, Any], Architecture, Target]:
    """The found network of an earlier results file, with its search run, search seconds,
    budget, ``best.json`` and target. The network is the searched one, with its own dropout
    and drop-path (``found_best_json``), not the ``found`` row's, which is as that file's
    recipe trained it (``plain`` strips both); files without it fall back to the row."""
    earlier = json.loads(path.read_text())
    best = earlier.get("found_best_json") or {}
    row = next(n for n in earlier["networks"] if n["label"] == "found")
    found = architecture_from_dict(best or row["architecture"])
    target = Target(**earlier.get("target", {}))
    return Path(earlier["search_run"]), earlier.get("search_seconds"), float(earlier["budget"]), best, found, target


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
    spec_help = ("search with this spec file (its target, space and proxy) instead of the built-in one at "
                 "--budget: experiments/native_fashion_mnist.yaml for the native setting")  # fmt: skip
    parser.add_argument("--spec", help=spec_help)
    parser.add_argument("--verify-k", type=int, default=3)
    parser.add_argument("--found-from", help="take the found network from the 'found' row of this results file")
    parser.add_argument(
        "--runs-from",
        help="take the runs of this results file or nas run directory (same recipe) instead of training them",
    )
    arms_help = ("other searches beside the found network's, ARM[:SEED],...: the same space, fit, proxy, "
                 "verification and trial cap or minutes with another search.sampler (and seed), or "
                 "training_aware: EfficientNetV2's objective in the same FLOPs band")  # fmt: skip
    parser.add_argument("--arms", default="", help=arms_help)
    parser.add_argument("--arm-time", choices=("trials", "equal"), default="trials",
                        help="each arm searches with the found search's trial cap (trials), or for as long as "
                             "the found search's trials took, without a cap (equal)")  # fmt: skip
    parser.add_argument("--random-arm", action="store_true", help="the same as --arms random")
    parser.add_argument("--arm-run", action="append", default=[], metavar="ARM=DIR",
                        help="an arm's finished nas search run (ARM: random, random-seed1, ...)")  # fmt: skip
    parser.add_argument("--random-run", help="the same as --arm-run random=DIR")
    parser.add_argument("--layers", help="the space's layer deltas (default: centred on the budget), e.g. -1,0,1")
    parser.add_argument(
        "--rules", default=",".join(NAIVE_RULES), help="naive rules at the budget (scaling.NAIVE_RULES)"
    )
    parser.add_argument("--recipe", choices=("own", "plain"), default="own",
                        help="own: the architectures' dropout and drop-path; plain: neither")  # fmt: skip
    parser.add_argument(
        "--naive-at", default="1.4,2", help="further budgets for width-scaled B0, as multiples of --budget"
    )
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
    arms = parse_arms(args.arms + (",random" if args.random_arm else ""))
    args.arm_run += [f"random={args.random_run}"] if args.random_run else []
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    if args.found_from:
        run, search_seconds, budget, best, found, target = found_from(Path(args.found_from))
    else:
        run, search_seconds = search(args, out)
        best = json.loads((run / "best.json").read_text())
        found = load_architecture(run / "best.json")
        t = yaml.safe_load((run / "spec.yaml").read_text())["target"]
        budget, target = float(t["flops"]), Target(int(t.get("resolution", 224)), int(t.get("num_classes", 1000)))
    rules = [r for r in args.rules.split(",") if r]
    nets = networks(found, budget, rules, [float(m) for m in args.naive_at.split(",") if m], target)
    arm_runs: dict[str, dict[str, Any]] = {}
    for i, arm in enumerate(arms, 1):  # each arm's verified winner, beside the found network
        arm_run, seconds = search(args, out, arm)
        arm_runs[arm.label] = {"run": str(arm_run), "search_seconds": seconds}
        nets.insert(i, target.network(arm.label, load_architecture(arm_run / "best.json")))
    nets = [dataclasses.replace(n, arch=recipe_arch(n.arch, args.recipe)) for n in nets]

    log_path = out / TRAIN_LOG
    done = {(r["hash"], r["seed"]): r for r in journal.read(log_path) if r.get("epochs") == args.epochs}
    if args.runs_from:  # runs an earlier results file holds for the same networks and recipe are not trained again
        done = {**earlier_runs(Path(args.runs_from), args), **done}
    # the gaps at the budget first (found and each naive rule at T, seed by seed), then the naive points of the ratio
    at_budget = 1 + len(rules) + len(arms)
    order = [(seed, n) for seed in range(args.seeds) for n in nets[:at_budget]] + [
        (seed, n) for seed in range(args.seeds) for n in nets[at_budget:]]  # fmt: skip
    missing, queued = [], set(done)
    for seed, n in order:  # a network two rows share (an arm that picked a naive network) trains once
        if (key := (architecture_hash(n.arch), seed)) not in queued:
            missing.append((seed, n))
            queued.add(key)
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
                  "recipe": args.recipe, "test": result.test_accuracy, "val": result.val_accuracy,
                  "seconds": result.seconds, "threads": threads}  # fmt: skip
        journal.append(log_path, record)
        done[(record["hash"], seed)] = record
        spent.append((net.flops, result.seconds))
        left_flops -= net.flops
        per_flop = sum(s for _, s in spent) / sum(f for f, _ in spent) / args.workers
        print(f"  [{i + 1}/{len(todo)}] {net.label} seed {seed}: test {100 * result.test_accuracy:.2f}% in "
              f"{result.seconds:.0f} s; about {format_duration(per_flop * left_flops)} left", flush=True)  # fmt: skip

    report(args, nets, done, best, budget, search_seconds, run, target, at_budget, arm_runs)


def speeds(out: Path, nets: list[Network], resolution: int) -> dict[str, dict[str, float]]:
    """Each network's measured CPU speed as the full recipe trains it (``measure_speeds``:
    Fashion-MNIST's 1 channel and 10 classes at ``resolution`` px, batch 128, one thread), by
    architecture hash, kept in ``speeds.json`` in ``--out`` (measured once, after the training,
    with the machine otherwise idle)."""
    path = out / "speeds.json"
    known: dict[str, dict[str, float]] = json.loads(path.read_text()).get("by_hash", {}) if path.exists() else {}
    for n in nets:
        key = architecture_hash(n.arch)
        if key not in known:
            known[key] = measure_speeds(n.arch, resolution=resolution, num_classes=10, in_channels=1, batch_size=128)
            journal.write_data(path, {"by_hash": known})  # beside the command and versions write_data adds
    return known


def verdict(gap: PairedGap, who: str) -> str:
    """Whether ``who`` beats the other network, loses to it, or neither, by the 95% interval."""
    return f"{who} beats it" if gap.beats else (f"{who} loses to it" if gap.loses else "no difference shown")


def arm_gaps(nets: list[Network], by_seed: dict[str, dict[int, float]], strongest: str | None) -> dict[str, PairedGap]:
    """Each arm's winner minus the strongest naive network, paired by seed with its 95% t
    interval (``nas.measure.stats.paired_gap``): whether another strategy (the default sampler
    among them) beats the paper's rule where the found network does not. Empty without a
    strongest naive network."""
    if strongest is None:
        return {}
    gaps = {n.label: paired_gap(by_seed[n.label], by_seed[strongest]) for n in nets if not n.naive}
    return {label: gap for label, gap in gaps.items() if gap is not None}


def report(args: argparse.Namespace, nets: list[Network], done: dict[tuple[str, int], dict[str, Any]],
           best: dict[str, Any], budget: float, search_seconds: float | None, run: Path,
           target: Target, at_budget: int, arm_runs: dict[str, dict[str, Any]]) -> None:  # fmt: skip
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

    found = nets[0]
    speed = speeds(Path(args.out), nets, args.resolution) if complete else {}
    where = f"{target.resolution} px, {target.num_classes} classes"
    print(f"\nbudget {budget / 1e6:g}M FLOPs at {where}; full recipe ({args.recipe}): every training image, "
          f"{args.epochs} epochs at {args.resolution} px, {args.seeds} seeds, test split"
          + ("" if complete else "; INCOMPLETE"))  # fmt: skip
    if search_seconds is not None:
        print(f"search + verification: {format_duration(search_seconds)}")
    flops_at = f"FLOPs@{target.resolution}"
    print(f"{'network':<26} {flops_at:>10} {'x budget':>8} {'params':>8} {'test accuracy (seeds)':>23} "
          f"{'train min':>9} {'step ms':>8} {'lat. ms':>8}")  # fmt: skip
    for n in nets:
        ms = speed.get(architecture_hash(n.arch), {})
        print(f"{n.label:<26} {n.flops / 1e6:>9.1f}M {n.flops / budget:>8.2f} {n.params / 1e6:>7.2f}M "
              f"{accuracy(n.label):>23} {seconds[n.label] / 60:>9.1f} {ms.get('step_ms', math.nan):>8.1f} "
              f"{ms.get('latency_ms', math.nan):>8.2f}")  # fmt: skip
    by_seed = {n.label: {s: r["test"] for s, r in runs[n.label].items()} for n in nets}
    gaps: dict[str, Any] = {}
    for n in nets[1:at_budget]:  # each arm's winner and each naive rule's network at the budget
        gap = paired_gap(by_seed[found.label], by_seed[n.label])
        if gap is None:
            continue
        ours, theirs = speed.get(architecture_hash(found.arch), {}), speed.get(architecture_hash(n.arch), {})
        measured = [k for k in ("step_ms", "latency_ms") if k in ours and k in theirs]
        ratios: dict[str, float] = {"flops": found.flops / n.flops, **{k: ours[k] / theirs[k] for k in measured}}
        print(f"found - {n.label}: {gap.text()}: {verdict(gap, 'found')}; found/it: "
              + ", ".join(f"{k} {v:.2f}x" for k, v in ratios.items()))  # fmt: skip
        gaps[n.label] = {**gap.as_record(), "verdict": verdict(gap, "found"), "found_over_it": ratios}
    naive_means = {n.label: statistics.fmean(test[n.label]) for n in nets if n.naive and n.label in gaps}
    strongest = max(naive_means, key=lambda label: naive_means[label]) if naive_means else None
    if strongest is not None:
        print(f"the strongest naive network at the budget: {strongest}")
    versus_naive = arm_gaps(nets[1:at_budget], by_seed, strongest)
    for label, gap in versus_naive.items():
        print(f"{label} - {strongest}: {gap.text()}: {verdict(gap, label)}")
    points = [(float(n.flops), statistics.fmean(test[n.label])) for n in nets
              if n.naive and n.label.startswith("width") and test[n.label]]  # fmt: skip
    relation, matched, ratio = "", math.nan, math.nan
    if test[found.label] and len(points) >= 2:
        relation, matched = match_flops(points, statistics.fmean(test[found.label]))
        ratio = found.flops / matched
        largest = max((n for n in nets if n.label.startswith("width")), key=lambda n: n.flops)
        beyond = paired_gap(by_seed[found.label], by_seed[largest.label])
        supported = relation == ">" and beyond is not None and beyond.beats
        claim = ("the found network beats the largest naive point beyond its interval" if supported
                 else "not claimed: the largest naive point is not beaten beyond its interval")  # fmt: skip
        more, below = ("more than ", "<") if relation == ">" else ("", "")
        print(f"width-scaled B0 needs {more}{matched / 1e6:.1f}M FLOPs for the found network's accuracy "
              f"(FLOPs ratio {below}{ratio:.2f}); {claim}")  # fmt: skip
    else:
        print("FLOPs ratio: not yet (it needs the found network and two width-scaled naive points)")

    results = {
        "budget": budget,
        "target": dataclasses.asdict(target),
        "recipe": {
            "dataset": "fashion-mnist",
            "name": args.recipe,
            "dropout_and_drop_path": args.recipe == "own",
            "train_images": "all",
            "epochs": args.epochs,
            "resolution": args.resolution,
            "seeds": args.seeds,
            "batch_size": 128,
            "score": "test",
            "speed": "nas.measure.costs.measure_speeds: step_ms at batch 128, latency_ms at batch 1, one CPU thread",
            "threads_per_run": sorted(
                {int(r.get("threads", 2)) for by_seed in runs.values() for r in by_seed.values()}
            ),
        },
        "search_run": str(run),
        "search_seconds": search_seconds,
        "arms": arm_runs,
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
                **speed.get(architecture_hash(n.arch), {}),
            }
            for n in nets
        ],
        "complete": complete,
        "gaps": gaps,
        "strongest_naive": strongest,
        "arms_versus_strongest_naive": {
            label: {**gap.as_record(), "versus": strongest, "verdict": verdict(gap, label)}
            for label, gap in versus_naive.items()
        },
        "flops_ratio": {"relation": relation, "naive_flops": matched, "ratio": ratio},
    }
    journal.write_data(Path(args.out) / "results.json", results)
    if args.data:
        journal.write_data(args.data, results)


if __name__ == "__main__":
    main()
