"""Does the alpha, beta, gamma grid's proxy favour shallow candidates? Its ranking, against longer training.

``nas scale`` trains every grid candidate on the spec's proxy (for the Fashion-MNIST specs:
10,000 images, 2 epochs). Two epochs may favour shallow networks, which learn faster at
first, so the chosen coefficients would be partly an artefact of the proxy. This benchmark:

1. takes ``--points`` landed grid candidates of the spec (``scaling.land_candidate``, as
   ``nas scale`` lands them), spread evenly over alpha, so the depth range is covered;
2. trains each exactly as the grid does (the spec's proxy data and recipe, at the proxy
   size ``nas.scale.run.proxy_size`` gives), with the spec's epochs and with ``--longer``
   times as many, ``--seeds`` seeds each;
3. prints both rankings, their Kendall tau and Spearman rho, each recipe's winner, and the
   seeds' spread, and writes them to ``--out``.

Each finished run is appended to ``train.jsonl`` in ``--work``; a killed run resumes with
the same command.

Usage: ``python experiments/benchmarks/grid_depth_bias.py [--spec experiments/scale_found_b0.yaml]
[--points 6] [--longer 3] [--seeds 2] [--out experiments/data/grid_depth_bias.json]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from pathlib import Path
from typing import Any

from nas import journal
from nas.measure.ranking import kendall_tau, spearman_rho
from nas.plan import RunPlan
from nas.progress import format_duration
from nas.scale.run import land, plan_candidates, proxy_size
from nas.training.threads import set_process_threads
from nas.training.train import train
from scaling.grid import Candidate, GridSkip
from search_spaces import Architecture, architecture_hash, count_flops, load_architecture

FORMAT = "effnas.grid_depth_bias/1"


def landed_points(plan: RunPlan, count: int) -> list[tuple[Candidate, Architecture]]:
    """``count`` landed candidates of distinct networks, spread evenly over alpha (ties: beta, gamma)."""
    base = load_architecture(plan.spec.space.base_ref)
    landed: dict[str, tuple[Candidate, Architecture]] = {}
    for c in sorted(plan_candidates(plan)):
        try:
            arch = land(plan, base, c)
        except GridSkip:
            continue
        landed.setdefault(f"{architecture_hash(arch)}@{arch.resolution}", (c, arch))
    pool = list(landed.values())
    if len(pool) <= count:
        return pool
    return [pool[round(i * (len(pool) - 1) / (count - 1))] for i in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", default="experiments/scale_found_b0.yaml")
    parser.add_argument("--points", type=int, default=6)
    parser.add_argument("--longer", type=int, default=3, help="the long recipe's epochs, as a multiple of the spec's")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--work", default="runs/grid-depth-bias")
    parser.add_argument("--out", default="experiments/data/grid_depth_bias.json")
    args = parser.parse_args()
    set_process_threads(2)
    plan = RunPlan.load(args.spec, purpose="scale")
    base = load_architecture(plan.spec.space.base_ref)
    points = landed_points(plan, args.points)
    recipes = [plan.train.epochs, args.longer * plan.train.epochs]
    log_path = Path(args.work) / "train.jsonl"
    done = {(r["hash"], r["resolution"], r["epochs"], r["seed"]): r for r in journal.read(log_path)}
    todo = [(c, arch, e, s) for e in recipes for s in range(args.seeds) for c, arch in points
            if (architecture_hash(arch), arch.resolution, e, s) not in done]  # fmt: skip
    print(f"{len(points)} grid points x {len(recipes)} recipes x {args.seeds} seeds: {len(todo)} runs to go",
          flush=True)  # fmt: skip
    data = plan.load_data() if todo else None
    started = time.perf_counter()
    for i, (c, arch, epochs, seed) in enumerate(todo):
        assert data is not None
        size = proxy_size(plan, arch, base)
        result = train(arch, data, dataclasses.replace(plan.train, resolution=size, epochs=epochs, seed=seed))
        record = {"alpha": c[0], "beta": c[1], "gamma": c[2], "hash": architecture_hash(arch),
                  "resolution": arch.resolution, "proxy_resolution": size, "epochs": epochs, "seed": seed,
                  "status": result.status, "reason": result.reason, "val": result.val_accuracy,
                  "seconds": result.seconds}  # fmt: skip
        journal.append(log_path, record)
        done[(record["hash"], arch.resolution, epochs, seed)] = record
        left = (time.perf_counter() - started) / (i + 1) * (len(todo) - i - 1)  # long runs last: a lower bound
        print(f"[{i + 1}/{len(todo)}] alpha {c[0]:g} beta {c[1]:g} gamma {c[2]:g}, {epochs} epochs, seed {seed}: "
              f"val {100 * (result.val_accuracy or 0):.2f}% in {result.seconds:.0f} s; at least "
              f"{format_duration(left)} left", flush=True)  # fmt: skip
    report(args, plan, base, points, recipes, done)


def report(args: argparse.Namespace, plan: RunPlan, base: Architecture, points: list[tuple[Candidate, Architecture]],
           recipes: list[int], done: dict[tuple[str, int, int, int], dict[str, Any]]) -> None:  # fmt: skip
    """The table, the two rankings' agreement and winners; written to ``--out``."""
    rows: list[dict[str, Any]] = []
    for c, arch in points:
        row: dict[str, Any] = {"alpha": c[0], "beta": c[1], "gamma": c[2], "resolution": arch.resolution,
                               "flops_ratio": count_flops(arch, num_classes=plan.num_classes)
                               / count_flops(base, num_classes=plan.num_classes)}  # fmt: skip
        for e in recipes:
            runs = [done.get((architecture_hash(arch), arch.resolution, e, s)) for s in range(args.seeds)]
            vals = [r["val"] for r in runs if r is not None and r.get("val") is not None]
            row[f"val_{e}"] = vals
            row[f"mean_{e}"] = statistics.fmean(vals) if vals else None
            row[f"seconds_{e}"] = [r["seconds"] for r in runs if r is not None]
        rows.append(row)
    short, long = recipes
    complete = all(len(r[f"val_{e}"]) == args.seeds for r in rows for e in recipes)
    means = [(r[f"mean_{short}"], r[f"mean_{long}"]) for r in rows]
    pairs = [(x, y) for x, y in means if x is not None and y is not None]
    a, b = [p[0] for p in pairs], [p[1] for p in pairs]

    def spread(e: int) -> float:
        stds = [statistics.stdev(r[f"val_{e}"]) for r in rows if len(r[f"val_{e}"]) > 1]
        return statistics.fmean(stds) if stds else float("nan")

    def winner(e: int) -> str:
        scored = [r for r in rows if r[f"mean_{e}"] is not None]
        best = max(scored, key=lambda r: r[f"mean_{e}"]) if scored else None
        return f"{best['alpha']:g},{best['beta']:g},{best['gamma']:g}" if best else ""

    print(f"\n| α | β | γ | px | FLOPs ratio | {short} epochs | {long} epochs |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        cells = [f"{100 * r[f'mean_{e}']:.2f}%" if r[f"mean_{e}"] is not None else "–" for e in recipes]
        print(f"| {r['alpha']:g} | {r['beta']:g} | {r['gamma']:g} | {r['resolution']} | {r['flops_ratio']:.3f} | "
              f"{cells[0]} | {cells[1]} |")  # fmt: skip
    tau, rho = kendall_tau(a, b), spearman_rho(a, b)
    print(f"\nKendall tau {tau:.2f}, Spearman rho {rho:.2f} over {len(pairs)} points; winner at {short} epochs "
          f"{winner(short)}, at {long} epochs {winner(long)}; mean seed std {100 * spread(short):.2f} / "
          f"{100 * spread(long):.2f} points{'' if complete else ' (incomplete)'}")  # fmt: skip
    table = {
        "format": FORMAT,
        "spec": args.spec,
        "recipes": {
            "dataset": plan.data.dataset,
            "train_size": plan.data.train_size,
            "epochs": recipes,
            "seeds": args.seeds,
            "score": "validation accuracy",
        },
        "complete": complete,
        "kendall_tau": tau,
        "spearman_rho": rho,
        "winner": {str(short): winner(short), str(long): winner(long)},
        "seed_std": {str(short): spread(short), str(long): spread(long)},
        "seconds": sum(sum(r[f"seconds_{e}"]) for r in rows for e in recipes),
        "points": rows,
    }
    journal.write_data(args.out, table)


if __name__ == "__main__":
    main()
