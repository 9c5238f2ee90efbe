"""How well each cheap estimator ranks networks, scored against the ground-truth table.

For every network of the tables that ``ground_truth.py`` wrote (by default both: the
project's recipe and ``--recipe plain``, the same pool trained with and without dropout and
drop-path), each estimator gives a score; Kendall's tau and Spearman's rho between the
score and each table's mean validation accuracy (``--against val``, the default where the
table has it: choices are made on validation, test is only reported; ``--against test``
otherwise) are printed for the whole pool and for its equal-budget part (the networks
fitted into [0.9 T, T] and the naive network: where a search for a budget compares
candidates), per table and as the mean over the tables scored on validation, which is
what the default proxy is chosen by (a proxy should rank like full training under either
final recipe; a table without validation is reported, not chosen on), with
the seconds each estimator spends per network on this machine and that cost as a share
of one full training run of the tables. The recipes train as the table did, ``--workers``
runs side by side with their share of the cores each (``nas.training.train_pool``), so that the share
compares like with like. The estimators:

- the proxy recipes of the experiment specs: a class-balanced subset of the training
  images, a few epochs at 32 px, validation accuracy (``--recipes``: SIZE x EPOCHS, with
  the search base's dropout 0.2 and drop-path 0.2 as ``nas search`` trains candidates, or
  SIZE x EPOCHS-plain without either: regularization sized to a run of 1-2 epochs);
- TSE (Ru et al. 2021, arXiv 2006.04492): the negated sum of the per-epoch mean training
  losses of the same runs, which costs nothing beyond them;
- zero-cost scores at initialisation (``nas.measure.estimators``): synflow, naswot, grad_norm, snip;
- parameter count and FLOPs, the baselines every estimator must beat.

Every estimator uses ``--seed`` (default 2, a seed the table did not train with), so that a
recipe's score shares no initialisation with the ground truth it is scored against. The
table's own ceiling is printed first: the rank correlation between its seeds, since no
estimator can agree with a two-seed mean much better than one seed of it agrees with another.

Each score is appended to ``scores.jsonl`` in ``--work``, so a killed run resumes; scores are
keyed by the network (with the base's regularization), so tables of the same pool trained
under other recipes (``ground_truth.py --recipe plain``) are scored from the same runs. The
output keeps every network's score (``scores``).

Usage: ``python experiments/benchmarks/proxy_fidelity.py [--table
experiments/data/ground_truth_fashion_mnist.json --table ...] [--recipes
10000x2,10000x1,5000x2,5000x1,5000x1-plain] [--seed 2] [--workers 2] [--against val|test]``.
Needs Debian's dataset-fashion-mnist.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import statistics
from pathlib import Path
from typing import Any

import torch

from nas import journal
from nas.measure.estimators import ESTIMATORS, estimate
from nas.measure.ranking import kendall_tau, seed_agreement, spearman_rho
from nas.training.data import DataSpec, load_dataset
from nas.training.threads import set_process_threads, worker_threads
from nas.training.train import TrainConfig, TrainResult
from nas.training.train_pool import train_many
from search_spaces import Architecture, architecture_from_dict, architecture_hash

GOAL_TAU = 0.6  # the goal: tau >= 0.6 against the ground truth on the equal-budget part ...
MAX_SHARE = 1 / 20  # ... at no more than 1/20 of full training's cost
TAU_TIE = 0.05  # taus this close count as equal; the cheaper estimator wins
BASE_REGULARIZATION = (0.2, 0.2)  # EfficientNet-B0's dropout and drop-path, which searched candidates inherit
DEFAULT_TABLES = (
    "experiments/data/ground_truth_fashion_mnist.json",  # the project's recipe
    "experiments/data/ground_truth_fashion_mnist_plain.json",  # no dropout, no drop-path
)


def proxy_arch(network: dict[str, Any], plain: bool) -> Architecture:
    """The table's network as a proxy recipe trains it: with the base's dropout and drop-path, or neither."""
    arch = architecture_from_dict(network["architecture"])
    dropout, drop_path = (0.0, 0.0) if plain else BASE_REGULARIZATION
    return dataclasses.replace(arch, dropout=dropout, drop_path=drop_path)


def network_key(network: dict[str, Any]) -> str:
    """One key per network of the pool, whichever recipe's table it comes from."""
    return architecture_hash(proxy_arch(network, plain=False))


def recipe_records(name: str, result: TrainResult) -> list[dict[str, Any]]:
    """The proxy recipe's validation accuracy and its TSE, from one training run."""
    ok = result.status == "ok"
    tse = -sum(r.train_loss for r in result.history) if ok else math.nan
    return [{"estimator": name, "value": result.val_accuracy if ok else math.nan, "seconds": result.seconds},
            {"estimator": f"TSE {name}", "value": tse, "seconds": result.seconds}]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--table", action="append", help="a ground-truth table; repeat for several "
                        f"(default: {', '.join(DEFAULT_TABLES)})")  # fmt: skip
    parser.add_argument(
        "--recipes",
        default="10000x2,10000x1,5000x2,5000x1",
        help="proxy recipes: SIZE x EPOCHS, ... (the experiment specs' recipes)",
    )
    parser.add_argument("--seed", type=int, default=2, help="the estimators' seed: one the table did not train with")
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="recipe runs side by side, a share of the cores each, as the table trained (nas.training.train_pool)",
    )
    parser.add_argument("--threads", type=int, help="threads per run (default: the cores shared out among the workers)")
    parser.add_argument("--against", choices=("val", "test"), help="the table's column scored against "
                        "(default: val where every network has it, else test)")  # fmt: skip
    parser.add_argument("--work", default="runs/proxy-fidelity")
    parser.add_argument("--out", default="experiments/data/proxy_fidelity_fashion_mnist.json")
    args = parser.parse_args()
    threads = args.threads or worker_threads(args.workers)
    set_process_threads(threads)
    tables = [load_table(path, args.against, threads) for path in (args.table or DEFAULT_TABLES)]
    networks = list({n["key"]: n for t in tables for n in t["networks"]}.values())  # each network scored once
    log_path = Path(args.work) / "scores.jsonl"
    done = {(r["estimator"], r["hash"]): r for r in journal.read(log_path) if r.get("seed") == args.seed}
    recipes = [(f"proxy {r}", int(r.split("x")[0]), int(r.split("x")[1].removesuffix("-plain")))
               for r in args.recipes.split(",") if r]  # fmt: skip
    estimators = [*ESTIMATORS, *(name for name, _, _ in recipes), *(f"TSE {name}" for name, _, _ in recipes)]

    def keep(records: list[dict[str, Any]], key: str) -> None:
        for record in records:
            record["hash"], record["seed"] = key, args.seed
            journal.append(log_path, record)
            done[(record["estimator"], key)] = record

    data = load_dataset(DataSpec("fashion-mnist", val_size=5000), seed=0)
    for n in networks:  # the zero-cost scores and the counts, timed one by one in this process
        fresh = [estimate(name, proxy_arch(n, plain=False), data, resolution=args.resolution,
                          target_resolution=224, num_classes=1000, seed=args.seed)
                 for name in ESTIMATORS if (name, n["key"]) not in done]  # fmt: skip
        keep([{"estimator": s.estimator, "value": s.value, "seconds": s.seconds} for s in fresh], n["key"])
    print(f"{len(ESTIMATORS)} estimators at initialisation: {len(networks)} networks scored", flush=True)
    for size in sorted({size for _, size, _ in recipes}):  # the recipes, a pool per subset size
        jobs = [((name, n["key"]), proxy_arch(n, plain=name.endswith("-plain")),
                 TrainConfig(epochs=epochs, batch_size=128, resolution=args.resolution, seed=args.seed))
                for name, s, epochs in recipes if s == size
                for n in networks if (name, n["key"]) not in done]  # fmt: skip
        runs = train_many(jobs, DataSpec("fashion-mnist", train_size=size, val_size=5000), data_seed=args.seed,
                          workers=args.workers, threads=threads)  # fmt: skip
        for j, ((name, key), result) in enumerate(runs):
            keep(recipe_records(name, result), key)
            print(f"[{j + 1}/{len(jobs)}] {name}: {result.seconds:.1f} s", flush=True)

    full = statistics.fmean(s for t in tables for n in t["networks"] for s in n["seconds"])
    rows = [score_row(name, tables, done, full) for name in estimators]
    rows.sort(key=lambda r: -r["equal budget"]["tau"])
    ceilings = {}
    for t in tables:
        parts = table_parts(t["networks"])
        print(f"\nground truth: {t['path']}, mean {t['against']} accuracy ({len(t['networks'])} networks, "
              f"{len(parts['equal budget'])} at the budget)")  # fmt: skip
        ceilings[t["path"]] = {part: seed_agreement(members, t["against"]) for part, members in parts.items()}
        for part, agree in ceilings[t["path"]].items():
            if agree is not None:
                print(f"  its seed 0 against its seed 1, {part}: tau {agree['tau']:.2f}, rho {agree['rho']:.2f}")
        print(f"  {'estimator':<26} {'tau eq.':>8} {'rho eq.':>8} {'tau all':>8} {'rho all':>8}")
        for r in rows:
            eq, al = r["tables"][t["path"]]["equal budget"], r["tables"][t["path"]]["all"]
            print(f"  {r['estimator']:<26} {eq['tau']:>8.2f} {eq['rho']:>8.2f} {al['tau']:>8.2f} {al['rho']:>8.2f}")
    print(f"\nchosen on: {', '.join(deciding_tables(tables))} (the mean over these); "
          f"full training {full:.0f} s per run")  # fmt: skip
    print(f"{'estimator':<28} {'tau eq.':>8} {'rho eq.':>8} {'tau all':>8} {'rho all':>8} {'s/net':>8} {'of full':>8}")
    for r in rows:
        eq, al = r["equal budget"], r["all"]
        print(f"{r['estimator']:<28} {eq['tau']:>8.2f} {eq['rho']:>8.2f} {al['tau']:>8.2f} {al['rho']:>8.2f} "
              f"{r['seconds']:>8.1f} {r['share_of_full']:>8.3f}")  # fmt: skip
    choice = recommend(rows)
    if choice is None:
        print(f"no estimator costs at most {MAX_SHARE:.0%} of full training")
    else:
        eq = choice["equal budget"]
        goal = "meets" if eq["tau"] >= GOAL_TAU else "misses"
        print(f"default proxy by these tables: {choice['estimator']} (tau {eq['tau']:.2f} on the equal-budget part at "
              f"{choice['share_of_full']:.3f} of full training; {goal} the goal tau >= {GOAL_TAU})")  # fmt: skip
    rung = rung_metric(rows)
    print(f"rung metric by these tables (search.prune_on): {rung['metric']} (mean tau on the equal-budget part over "
          f"the recipes: accuracy {rung['reward']:.2f}, TSE {rung['tse']:.2f})")  # fmt: skip
    per_network = {name: {n["name"]: done[(name, n["key"])]["value"] for n in networks} for name in estimators}
    journal.write_data(args.out, {"tables": [{"path": t["path"], "against": t["against"]} for t in tables],
                                  "chosen_on": deciding_tables(tables),
                                  "seed": args.seed, "threads": torch.get_num_threads(), "scores": per_network,
                                  "full_training_seconds": full, "seed_to_seed": ceilings, "rows": rows,
                                  "recommended": None if choice is None else choice["estimator"],
                                  "rung_metric": rung})  # fmt: skip


def load_table(path: str, against: str | None, threads: int) -> dict[str, Any]:
    """One ground-truth table's networks with ground truth, each given its ``truth`` (mean
    validation accuracy, or test where the table has no validation column) and ``key``."""
    table = json.loads(Path(path).read_text())
    if table.get("complete") is False:
        raise SystemExit(f"{path}: the table is not complete yet (complete: false); finish ground_truth.py first")
    if table.get("threads") != [threads]:  # "of full" compares like with like only at the table's threads per run
        print(f"note: {path} trained with {table.get('threads')} threads per run, these runs with {threads}")
    networks = [n for n in table["networks"] if n["mean"] is not None]
    has_val = bool(networks) and all(n.get("val_mean") is not None for n in networks)
    column = against or ("val" if has_val else "test")
    if column == "val" and not has_val:
        raise SystemExit(f"{path}: --against val, but the table has no validation accuracy for every network")
    if column == "test":
        print(f"note: {path} is scored against test accuracy (it has no validation column); "
              "its taus are reported; the choice is made on the tables scored on validation")  # fmt: skip
    if len(networks) < 3:
        raise SystemExit(f"{path}: {len(networks)} networks have ground truth yet; at least 3 are needed")
    for n in networks:
        n["truth"] = n["val_mean"] if column == "val" else n["mean"]
        n["key"] = network_key(n)
    return {"path": path, "against": column, "networks": networks}


def table_parts(networks: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The whole pool, and its equal-budget part (the networks fitted to the budget and the naive one)."""
    return {"all": networks, "equal budget": [n for n in networks if n["group"] in ("budget", "naive")]}


def score_row(name: str, tables: list[dict[str, Any]], done: dict[tuple[str, str], dict[str, Any]],
              full: float) -> dict[str, Any]:  # fmt: skip
    """One estimator's rank agreement with each table, and by part the mean over the tables
    a choice is made on (``deciding_tables``): the figure the default is chosen by, so that a
    proxy ranks like full training under every final recipe that has validation accuracy."""
    per_table: dict[str, dict[str, dict[str, float]]] = {}
    for t in tables:
        per_table[t["path"]] = {}
        for part, members in table_parts(t["networks"]).items():
            truth = [n["truth"] for n in members]
            scores = [done[(name, n["key"])]["value"] for n in members]
            per_table[t["path"]][part] = {"tau": kendall_tau(scores, truth), "rho": spearman_rho(scores, truth),
                                          "n": len(members)}  # fmt: skip
    deciding = deciding_tables(tables)
    keys = {n["key"] for t in tables for n in t["networks"]}
    seconds = statistics.fmean(done[(name, key)]["seconds"] for key in keys)
    return {"estimator": name, **mean_over_tables({p: per_table[p] for p in deciding}), "tables": per_table,
            "seconds": seconds, "share_of_full": seconds / full}  # fmt: skip


def deciding_tables(tables: list[dict[str, Any]]) -> list[str]:
    """The tables a choice is made on: those scored against validation (test is only
    reported), or every table where none has a validation column."""
    on_val = [t["path"] for t in tables if t["against"] == "val"]
    return on_val or [t["path"] for t in tables]


def mean_over_tables(per_table: dict[str, dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Kendall tau and Spearman rho averaged over the tables, part by part."""
    parts = next(iter(per_table.values())).keys()
    return {part: {stat: statistics.fmean(t[part][stat] for t in per_table.values()) for stat in ("tau", "rho")}
            for part in parts}  # fmt: skip


def rung_metric(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """What a pruner's rungs should compare (``search.prune_on``): ``tse`` where the recipes'
    TSE ranks the equal-budget part better than their validation accuracy does, in the mean
    Kendall tau over the recipes (each pair comes from the same runs, so at the same cost);
    otherwise ``reward``, the default."""
    by_name = {r["estimator"]: r["equal budget"]["tau"] for r in rows}
    pairs = [(tau, by_name[f"TSE {name}"]) for name, tau in by_name.items()
             if name.startswith("proxy ") and f"TSE {name}" in by_name]  # fmt: skip
    reward = statistics.fmean(p[0] for p in pairs) if pairs else math.nan
    tse = statistics.fmean(p[1] for p in pairs) if pairs else math.nan
    return {"metric": "tse" if tse > reward else "reward", "reward": reward, "tse": tse}


def recommend(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The estimator a search should default to: among those costing at most ``MAX_SHARE`` of
    one full training run, the best Kendall tau on the equal-budget part, where a cheaper one
    within ``TAU_TIE`` of that tau wins (the best tau per CPU-minute without rewarding a
    near-free score for its cost alone)."""
    cheap = [r for r in rows if r["share_of_full"] <= MAX_SHARE and not math.isnan(r["equal budget"]["tau"])]
    if not cheap:
        return None
    best = max(r["equal budget"]["tau"] for r in cheap)
    return min((r for r in cheap if r["equal budget"]["tau"] >= best - TAU_TIE), key=lambda r: r["seconds"])


if __name__ == "__main__":
    main()
