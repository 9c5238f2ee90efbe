"""How well a cost table predicts whole networks, and what predicting saves, on this machine.

For each mode (``latency``: batch-1 forward, one thread, at 224 px; ``step``: one training
step at batch 8, two threads, at 128 px), the benchmark

1. profiles the space (``nas.measure.cost_table``: every layer configuration it can produce, and
   the factor calibrated on 5 networks of the space),
2. draws ``--networks`` random architectures of the space (seeded, none of them among the
   calibration networks), measures each end to end with the same settings, and predicts
   each from the table,
3. prints the share of predictions within +-10% of the measurement and Kendall's tau
   between predicted and measured, with and without the factor; the share of
   networks whose second measurement lies within +-10% of the first (the measurement's
   own repeatability, a ceiling for any predictor); and the cost
   per candidate of predicting against measuring (the speed-up of a search that predicts,
   and after how many candidates the profile has paid for itself).

The spaces: B0's default ``mbconv`` space for latency (819 layer configurations); for the
step, a narrower one (kernel {3, 5}, expansion {3, 6}, SE 0.25, widths {0.75, 1}) so that
the profile takes minutes. Results go to ``--out`` as JSON.

Usage: ``python experiments/benchmarks/cost_table.py [--networks 30] [--modes latency,step]``.
Timings need an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import time
from pathlib import Path
from typing import Any

from nas import journal
from nas.measure.cost_table import ProfileSettings, calibration_networks, measure_network, profile, space_layers
from nas.measure.ranking import kendall_tau
from search_spaces import MBConvSpace, load_architecture

SPACES: dict[str, dict[str, Any]] = {
    "latency": {},
    "step": {"kernel": (3, 5), "expand": (3, 6), "se": (0.25,), "width": (0.75, 1.0), "stem": (1.0,), "head": (1.0,)},
}
SETTINGS = {
    "latency": ProfileSettings(mode="latency", batch_size=1, threads=1, resolution=224, num_classes=1000),
    "step": ProfileSettings(mode="step", batch_size=8, threads=2, resolution=128, num_classes=1000),
}


def run(mode: str, networks: int, work: Path) -> dict[str, Any]:
    settings = SETTINGS[mode]
    base = load_architecture("efficientnet-b0")
    space = MBConvSpace(base=base, **SPACES[mode])
    layers = space_layers(space, resolution=settings.resolution, multipliers=None)

    def sample(rng: random.Random) -> Any:
        return space.decode({n: rng.choice(v) for n, v in space.choices().items()})

    own = space.base_params()
    calibration = calibration_networks(sample, space.decode(own) if own is not None else None, count=5)
    print(f"{mode}: {len(layers)} layer configurations; batch {settings.batch_size}, {settings.threads} thread(s), "
          f"{settings.resolution} px", flush=True)  # fmt: skip
    started = time.perf_counter()
    table = profile(layers, calibration, settings, base, work / f"{mode}.partial.jsonl")
    profile_seconds = time.perf_counter() - started
    rng = random.Random(1)
    rows = []
    for i in range(networks):
        arch = sample(rng)
        t0 = time.perf_counter()
        ms = measure_network(arch, settings)
        t1 = time.perf_counter()
        predicted = table.predict(arch)
        t2 = time.perf_counter()
        again = measure_network(arch, settings)  # the measurement's own repeatability: a ceiling for any predictor
        rows.append({"measured": ms, "again": again, "predicted": predicted, "summed": predicted / table.scale,
                     "measure_seconds": t1 - t0, "predict_seconds": t2 - t1})  # fmt: skip
        print(f"  [{i + 1}/{networks}] measured {ms:.2f} ms, predicted {predicted:.2f} ms", flush=True)

    def within(key: str) -> float:
        return sum(abs(r[key] / r["measured"] - 1) <= 0.10 for r in rows) / len(rows)

    measured = [r["measured"] for r in rows]
    measure_s = statistics.fmean(r["measure_seconds"] for r in rows)
    predict_s = statistics.fmean(r["predict_seconds"] for r in rows)
    return {
        "mode": mode,
        "settings": settings.key(),
        "entries": len(table.entries),
        "scale": table.scale,
        "profile_seconds": profile_seconds,
        "networks": len(rows),
        "within_10pct": within("predicted"),
        "within_10pct_unscaled": within("summed"),
        "repeat_within_10pct": within("again"),
        "kendall_tau": kendall_tau([r["predicted"] for r in rows], measured),
        "mean_abs_error_pct": 100 * statistics.fmean(abs(r["predicted"] / r["measured"] - 1) for r in rows),
        "measure_seconds_per_network": measure_s,
        "predict_seconds_per_network": predict_s,
        "speedup": measure_s / predict_s,
        "break_even_networks": profile_seconds / (measure_s - predict_s),
        "rows": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--networks", type=int, default=30)
    parser.add_argument("--modes", default="latency,step")
    parser.add_argument("--work", default="runs/cost-table", help="partial profiles (a killed run resumes)")
    parser.add_argument("--out", default="experiments/data/cost_table_cpu.json")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    results = [run(mode, args.networks, work) for mode in args.modes.split(",")]
    print(f"\n{'mode':<8} {'entries':>7} {'profile s':>9} {'±10%':>6} {'±10% unscaled':>14} {'repeat ±10%':>11} "
          f"{'tau':>5} "
          f"{'MAPE %':>7} {'measure s':>9} {'predict s':>9} {'speed-up':>9} {'break-even':>10}")  # fmt: skip
    for r in results:
        print(f"{r['mode']:<8} {r['entries']:>7} {r['profile_seconds']:>9.0f} {100 * r['within_10pct']:>5.0f}% "
              f"{100 * r['within_10pct_unscaled']:>13.0f}% {100 * r['repeat_within_10pct']:>10.0f}% "
              f"{r['kendall_tau']:>5.2f} "
              f"{r['mean_abs_error_pct']:>7.1f} {r['measure_seconds_per_network']:>9.3f} "
              f"{r['predict_seconds_per_network']:>9.5f} {r['speedup']:>8.0f}x "
              f"{r['break_even_networks']:>10.0f}")  # fmt: skip
    journal.write_data(args.out, {"machine": platform.machine(), "results": results})


if __name__ == "__main__":
    main()
