"""Training step time of Fused-MBConv against MBConv, and the noise of the measurement.

EfficientNetV2 (P2 §3.2, Table 3) finds that Fused-MBConv in the early stages trains faster
than MBConv, and that fusing every stage does not. This script measures the same question
on this machine with the step time that the training-aware search uses
(``nas.measure.costs.measure_step_time``: forward, backward and optimizer step, median of k steps):

1. variants of a V2 network that differ only in the conv op per stage, at equal channels,
   kernels, expansions and depths: all MBConv, Fused-MBConv in stages 1-3 (V2's own
   design), in stages 1-4, and everywhere;
2. the coefficient of variation (std / mean) of repeated measurements of one network, each
   a median of ``--steps`` steps, with their interquartile ranges.

Every number comes from one process, measured side by side (variants interleaved round by
round, so drift on shared cores hits all of them alike).

Usage: ``python experiments/benchmarks/step_time.py [--arch efficientnetv2-s]
[--resolution 128] [--batch-size 16] [--threads 1] [--rounds 3] [--repeats 8]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics

from nas.measure.costs import StepSettings, measure_step_time
from search_spaces import Architecture, count_flops, count_params, load_architecture


def with_fused(base: Architecture, fused_stages: int) -> Architecture:
    """``base`` with stages 1..``fused_stages`` Fused-MBConv (no SE) and the rest MBConv (SE 0.25)."""
    stages = tuple(
        dataclasses.replace(s, block="fused_mbconv", se=0.0)
        if i < fused_stages
        else dataclasses.replace(s, block="mbconv", se=0.25)
        for i, s in enumerate(base.stages)
    )
    return dataclasses.replace(base, name=f"{base.name}-fused1-{fused_stages}", stages=stages)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="efficientnetv2-s")
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu", help="cpu, or cuda where available")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved measurements of each variant")
    parser.add_argument("--repeats", type=int, default=8, help="repeated measurements for the noise table")
    args = parser.parse_args()

    base = load_architecture(args.arch)
    settings = StepSettings(batch_size=args.batch_size, resolution=args.resolution,
                            threads=args.threads, warmup=args.warmup, steps=args.steps,
                            device=args.device)  # fmt: skip
    n = len(base.stages)
    variants = {"all MBConv": with_fused(base, 0), "Fused 1-3 (V2)": with_fused(base, 3),
                "Fused 1-4": with_fused(base, 4), f"all Fused (1-{n})": with_fused(base, n)}  # fmt: skip
    medians: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, arch in variants.items():
            medians[name].append(measure_step_time(arch, settings, num_classes=1000).median_ms)

    print(f"{args.arch} variants at equal channels: one training step of batch {args.batch_size} at "
          f"{args.resolution} px, 1000 classes, {args.device}, {args.threads} thread(s), AdamW; "
          f"median of {args.steps} steps after {args.warmup} warm-up, "
          f"best of {args.rounds} interleaved rounds")  # fmt: skip
    reference = min(medians["all MBConv"])
    print(f"{'variant':<20} {'params':>9} {'FLOPs@res':>10} {'step ms':>9} {'vs all MBConv':>14} {'GMAC/s':>8}")
    for name, arch in variants.items():
        ms, flops = min(medians[name]), count_flops(arch, resolution=args.resolution)
        # forward multiply-adds x 3 (forward, input and weight gradients) x batch, per second
        rate = 3 * flops * args.batch_size / (ms / 1000) / 1e9
        print(f"{name:<20} {count_params(arch) / 1e6:>8.2f}M {flops / 1e9:>9.3f}G {ms:>9.1f} {ms / reference:>13.3f}x "
              f"{rate:>8.1f}")  # fmt: skip

    print()
    arch = variants["Fused 1-3 (V2)"]
    runs = [measure_step_time(arch, settings, num_classes=1000) for _ in range(args.repeats)]
    values = [r.median_ms for r in runs]
    cv = statistics.stdev(values) / statistics.mean(values)
    print(f"noise: {args.repeats} repeated measurements of {args.arch} (Fused 1-3), each the median of "
          f"{args.steps} steps")  # fmt: skip
    print("medians (ms): " + ", ".join(f"{v:.1f}" for v in values))
    print("IQR / median per measurement: " + ", ".join(f"{100 * r.relative_iqr:.1f}%" for r in runs))
    print(f"coefficient of variation of the median: {100 * cv:.2f}%")


if __name__ == "__main__":
    main()
