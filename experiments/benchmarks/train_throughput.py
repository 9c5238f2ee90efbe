"""Training throughput: effnas's builder against a plain PyTorch B0, and progressive vs fixed size.

Part 1 times the same training step (forward, backward, AdamW step) on EfficientNet-B0
built by ``build_model`` and on B0 written below as a minimal, self-contained PyTorch
module, alternating the two in rounds, at 32 and 64 px. It prints images/s and the ratio.

Part 2 trains ``experiments/archs/small-mbconv.json`` with ``nas.training.train.train`` for the same
number of epochs at a fixed 32 px and with progressive learning (16 -> 32 px over 4 stages),
on Fashion-MNIST when installed (synthetic data otherwise), and prints the seconds spent in
training steps and the ratio.

Usage: ``python experiments/benchmarks/train_throughput.py [--threads 2]``
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from nas.training.data import DataError, DataSpec, load_dataset
from nas.training.threads import set_process_threads
from nas.training.train import ProgressiveConfig, TrainConfig, train
from search_spaces import build_model, load_architecture

ROOT = Path(__file__).resolve().parents[2]

# B0 (P1 Table 1): (expand, kernel, stride, out channels, repeats)
B0_STAGES = [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3), (6, 5, 1, 112, 3),
             (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]  # fmt: skip


class PlainMBConv(nn.Module):
    def __init__(self, cin: int, cout: int, k: int, s: int, e: int, drop: float) -> None:
        super().__init__()
        mid = cin * e
        layers: list[nn.Module] = []
        if e != 1:
            layers += [nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid, eps=1e-3), nn.SiLU(inplace=True)]
        layers += [nn.Conv2d(mid, mid, k, s, k // 2, groups=mid, bias=False), nn.BatchNorm2d(mid, eps=1e-3),
                   nn.SiLU(inplace=True)]  # fmt: skip
        self.body = nn.Sequential(*layers)
        squeeze = max(1, cin // 4)
        self.se = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(mid, squeeze, 1), nn.SiLU(inplace=True),
                                nn.Conv2d(squeeze, mid, 1), nn.Sigmoid())  # fmt: skip
        self.project = nn.Sequential(nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout, eps=1e-3))
        self.residual = s == 1 and cin == cout
        self.drop = drop

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        y = self.project(y * self.se(y))
        if not self.residual:
            return y
        if self.training and self.drop > 0:
            keep = torch.empty(x.shape[0], 1, 1, 1).bernoulli_(1 - self.drop)
            y = y * keep / (1 - self.drop)
        return x + y


class PlainB0(nn.Module):
    def __init__(self, num_classes: int) -> None:
        super().__init__()
        total = sum(r for *_, r in B0_STAGES)
        layers: list[nn.Module] = [nn.Conv2d(3, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32, eps=1e-3),
                                   nn.SiLU(inplace=True)]  # fmt: skip
        cin, idx = 32, 0
        for e, k, s, cout, r in B0_STAGES:
            for i in range(r):
                layers.append(PlainMBConv(cin, cout, k, s if i == 0 else 1, e, 0.2 * idx / total))
                cin, idx = cout, idx + 1
        layers += [nn.Conv2d(cin, 1280, 1, bias=False), nn.BatchNorm2d(1280, eps=1e-3), nn.SiLU(inplace=True),
                   nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(1280, num_classes)]  # fmt: skip
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def time_steps(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int) -> float:
    """Seconds per training step (median over ``steps``), after two warm-up steps."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    times = []
    for i in range(steps + 2):
        start = time.perf_counter()
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i >= 2:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def builder_vs_plain(batch: int, rounds: int, steps: int) -> None:
    print(f"Part 1: training step, EfficientNet-B0, 10 classes, batch {batch}, AdamW; median of {steps} steps "
          f"x {rounds} alternating rounds")  # fmt: skip
    print(f"{'resolution':>10} {'memory format':>14} {'effnas img/s':>13} {'plain img/s':>12} {'ratio':>7}")
    torch.manual_seed(0)
    ours = build_model(load_architecture("efficientnet-b0"), num_classes=10)
    plain = PlainB0(10)
    n_ours, n_plain = (sum(p.numel() for p in m.parameters()) for m in (ours, plain))
    assert n_ours == n_plain, (n_ours, n_plain)
    for resolution in (32, 64):
        for label, fmt in (("NCHW", torch.contiguous_format), ("channels_last", torch.channels_last)):
            x = torch.randn(batch, 3, resolution, resolution).contiguous(memory_format=fmt)
            y = torch.randint(0, 10, (batch,))
            ours, plain = ours.to(memory_format=fmt), plain.to(memory_format=fmt)  # type: ignore[call-overload]
            t_ours, t_plain = [], []
            for _ in range(rounds):
                t_ours.append(time_steps(ours, x, y, steps))
                t_plain.append(time_steps(plain, x, y, steps))
            a, b = batch / statistics.median(t_ours), batch / statistics.median(t_plain)
            print(f"{resolution:>10} {label:>14} {a:>13.1f} {b:>12.1f} {a / b:>7.3f}")
    print(f"(both models have {n_ours:,} parameters; the trainer uses channels_last)")


def progressive_vs_fixed(epochs: int, train_size: int) -> None:
    arch = load_architecture(ROOT / "experiments/archs/small-mbconv.json")
    try:
        data = load_dataset(DataSpec("fashion-mnist", train_size=train_size))
    except DataError:
        data = load_dataset(f"synthetic:classes=10,samples={train_size + 1000},size=28")
    print(f"\nPart 2: {arch.name}, {data.describe()}, {epochs} epochs, batch 128, AdamW one-cycle")
    sizes_only = ProgressiveConfig(stages=4, min_size=16, max_size=32, dropout=(0.1, 0.1), randaug=(0, 0))
    v2 = ProgressiveConfig(stages=4, min_size=16, max_size=32)  # V2-S regularization bounds
    runs = {
        "fixed 32 px": TrainConfig(epochs=epochs, resolution=32, dropout=0.1),
        "progressive sizes 16->32": TrainConfig(epochs=epochs, resolution=32, progressive=sizes_only),
        "progressive sizes + V2-S reg.": TrainConfig(epochs=epochs, resolution=32, progressive=v2),
    }
    print(f"{'schedule (M=4 stages)':<30} {'train s':>8} {'img/s':>8} {'val acc':>8} {'ratio':>6}")
    base = None
    for label, config in runs.items():
        result = train(arch, data, config)
        images = len(data.train) // config.batch_size * config.batch_size
        steps_s = sum(images / r.images_per_second for r in result.history)
        base = base or steps_s
        rate = len(result.history) * images / steps_s
        print(f"{label:<30} {steps_s:>8.1f} {rate:>8.0f} {100 * result.val_accuracy:>7.2f}% {steps_s / base:>6.3f}")
    print("ratio: training-step seconds against fixed-size training")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--train-size", type=int, default=10000)
    args = parser.parse_args()
    set_process_threads(args.threads)
    builder_vs_plain(args.batch, args.rounds, args.steps)
    progressive_vs_fixed(args.epochs, args.train_size)


if __name__ == "__main__":
    main()
