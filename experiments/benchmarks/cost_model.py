"""Analytic FLOP counting against fvcore tracing, side by side in one process.

Prints the median time of each way of counting B0's FLOPs at 224 px (1000 classes), the
ratio, and whether the counts are identical. Usage: ``python experiments/benchmarks/cost_model.py``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from nas.measure.costs import fvcore_flops, fvcore_model_flops
from nas.training.threads import set_process_threads
from search_spaces import build_model, count_flops, load_architecture


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--arch", default="efficientnet-b0")
    parser.add_argument("--resolution", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=7, help="timed fvcore runs (analytic runs: 100x more)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    set_process_threads(args.threads)
    arch = load_architecture(args.arch)

    analytic = count_flops(arch, resolution=args.resolution)
    traced = fvcore_flops(arch, resolution=args.resolution)
    t_analytic = median_seconds(lambda: count_flops(arch, resolution=args.resolution), args.repeats * 100)
    t_fvcore = median_seconds(lambda: fvcore_flops(arch, resolution=args.resolution), args.repeats)
    model = build_model(arch).eval()
    trace_only = fvcore_model_flops(model, resolution=args.resolution)
    t_trace = median_seconds(lambda: fvcore_model_flops(model, resolution=args.resolution), args.repeats)

    print(f"{args.arch} at {args.resolution} px, 1000 classes, {args.threads} threads, median of repeated runs")
    print(f"{'method':<34} {'FLOPs':>14} {'seconds':>12}")
    print(f"{'analytic count_flops':<34} {analytic:>14,} {t_analytic:>12.6f}")
    print(f"{'fvcore (build + trace)':<34} {traced.flops:>14,} {t_fvcore:>12.6f}")
    print(f"{'fvcore (trace only, model prebuilt)':<34} {trace_only.flops:>14,} {t_trace:>12.6f}")
    print(f"counts identical: {analytic == traced.flops == trace_only.flops}")
    print(f"speed-up analytic vs fvcore build + trace: {t_fvcore / t_analytic:,.0f}x")
    print(f"speed-up analytic vs fvcore trace only:    {t_trace / t_analytic:,.0f}x")


if __name__ == "__main__":
    main()
