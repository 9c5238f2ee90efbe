"""Costs measured on a built model: the fvcore FLOP cross-check, latency, training step time.

fvcore counts one fused multiply-add as one flop, the convention of ``count_flops``. Only
the convolution and linear handles are kept; every other op fvcore knows (batch norm,
pooling, upsampling, norms) is switched off, so the two counts must agree exactly.

The training step time S of EfficientNetV2's reward (P2 §3.3) is measured, not modelled:
one forward, backward and optimizer step at a fixed batch size, resolution and thread count,
warm-up steps first, then the median of k steps with their interquartile range. Measurements
are cached by architecture hash and settings (``StepTimeCache``), so a resumed search does
not measure again.
"""

from __future__ import annotations

import json
import statistics
import time
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

with warnings.catch_warnings():  # fvcore scripts a loss with torch.jit at import, now deprecated
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    from fvcore.nn import FlopCountAnalysis
    from fvcore.nn.jit_handles import addmm_flop_jit, conv_flop_jit, linear_flop_jit, matmul_flop_jit

from nas import journal
from nas.training.device import device_problem, resolve_device
from nas.training.threads import torch_threads
from search_spaces import Architecture, architecture_hash, build_model

__all__ = [
    "FvcoreCount",
    "StepSettings",
    "StepTime",
    "StepTimeCache",
    "fvcore_flops",
    "fvcore_model_flops",
    "measure_latency_ms",
    "measure_speeds",
    "measure_step_time",
]

_COUNTED = {
    "aten::_convolution": conv_flop_jit,
    "aten::addmm": addmm_flop_jit,
    "aten::linear": linear_flop_jit,
    "aten::matmul": matmul_flop_jit,
    "aten::mm": matmul_flop_jit,
}
# Ops that the FLOPs convention leaves out on purpose (docs/formats.md); anything else that fvcore
# cannot count is reported as ``unexpected`` so a new layer type is never silently zero.
_IGNORED = {
    "aten::batch_norm", "aten::adaptive_avg_pool2d", "aten::mean", "aten::silu", "aten::silu_",
    "aten::relu", "aten::relu_", "aten::sigmoid", "aten::mul", "aten::add", "aten::add_",
    "aten::flatten", "aten::dropout", "aten::feature_dropout", "aten::div", "aten::bernoulli_",
    "aten::empty", "aten::size", "aten::view", "aten::reshape",
}  # fmt: skip


@dataclass(frozen=True)
class FvcoreCount:
    """fvcore's total, its split by operator, and ops it saw that neither count nor belong."""

    flops: int
    by_operator: dict[str, int]
    unexpected_ops: dict[str, int]


def fvcore_flops(
    arch: Architecture, *, resolution: int | None = None, num_classes: int = 1000, in_channels: int = 3
) -> FvcoreCount:
    """Build ``arch`` and count its conv and linear MACs with fvcore at ``resolution``."""
    model = build_model(arch, num_classes=num_classes, in_channels=in_channels)
    return fvcore_model_flops(model, resolution=arch.resolution if resolution is None else resolution)


def fvcore_model_flops(model: torch.nn.Module, *, resolution: int, in_channels: int = 3) -> FvcoreCount:
    """Trace ``model`` once on one ``resolution`` x ``resolution`` image and count with fvcore."""
    model.eval()
    analysis = FlopCountAnalysis(model, torch.zeros(1, in_channels, resolution, resolution))
    analysis.clear_op_handles().set_op_handle(**_COUNTED)
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    with torch.no_grad(), warnings.catch_warnings():
        # fvcore traces with torch.jit, which recent torch marks as deprecated.
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.jit")
        total = int(analysis.total())
    unsupported: Counter[str] = analysis.unsupported_ops()
    unexpected = {op: n for op, n in unsupported.items() if op not in _IGNORED}
    return FvcoreCount(total, {k: int(v) for k, v in analysis.by_operator().items()}, unexpected)


def measure_latency_ms(
    arch: Architecture,
    *,
    resolution: int | None = None,
    num_classes: int = 1000,
    in_channels: int = 3,
    warmup: int = 3,
    runs: int = 10,
    threads: int | None = 1,
) -> float:
    """Median wall time of one batch-1 forward pass on this machine, in milliseconds.

    MnasNet measures single-threaded batch-1 latency (PM §5); ``threads=1`` by default.
    """
    size = arch.resolution if resolution is None else resolution
    with torch_threads(threads):
        model = build_model(arch, num_classes=num_classes, in_channels=in_channels).eval()
        x = torch.zeros(1, in_channels, size, size)
        with torch.no_grad():
            times = timed_runs(lambda: model(x), torch.device("cpu"), warmup, runs)
        return statistics.median(times)


def measure_speeds(arch: Architecture, *, resolution: int, num_classes: int, in_channels: int,
                   batch_size: int) -> dict[str, float]:  # fmt: skip
    """A network's CPU speed as a final recipe trains and serves it, one thread:
    ``step_ms``, one training step at ``batch_size`` (median of 10 after 3; EfficientNetV2's
    S, P2 §3.3), and ``latency_ms``, one batch-1 forward pass (median of 20 after 5; PM §5)."""
    settings = StepSettings(batch_size=batch_size, resolution=resolution, threads=1)
    step = measure_step_time(arch, settings, num_classes=num_classes, in_channels=in_channels)
    latency = measure_latency_ms(arch, resolution=resolution, num_classes=num_classes, in_channels=in_channels,
                                 warmup=5, runs=20)  # fmt: skip
    return {"step_ms": step.median_ms, "latency_ms": latency}


def timed_runs(run: Callable[[], object], device: torch.device, warmup: int, repeats: int) -> list[float]:
    """Milliseconds of each of ``repeats`` calls of ``run`` after ``warmup`` untimed ones; on
    CUDA each call is synchronized before the clock is read (kernels run asynchronously)."""
    times = []
    for i in range(warmup + repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        run()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if i >= warmup:
            times.append(1000.0 * (time.perf_counter() - start))
    return times


@dataclass(frozen=True)
class StepSettings:
    """How the training step time S is measured (EfficientNetV2's reward, P2 §3.3).

    One forward, backward and optimizer step of ``batch_size`` images at ``resolution``
    (left out: the target's, filled in by the run plan) on ``device`` with ``threads`` CPU
    threads; ``warmup`` untimed steps, then the median of ``steps`` timed ones. ``threads``
    is fixed so that measurements compare.
    """

    batch_size: int = 16
    resolution: int | None = None
    device: str = "cpu"
    threads: int = 1
    warmup: int = 3
    steps: int = 10

    def __post_init__(self) -> None:
        for name, value, minimum in (("batch_size", self.batch_size, 1), ("threads", self.threads, 1),
                                     ("warmup", self.warmup, 0), ("steps", self.steps, 1)):  # fmt: skip
            if value < minimum:
                raise ValueError(f"{name}: must be >= {minimum}, got {value!r}")
        if self.resolution is not None and self.resolution < 1:
            raise ValueError(f"resolution: must be >= 1, got {self.resolution!r}")
        problem = device_problem(self.device)
        if problem is not None:
            raise ValueError(f"device: {problem}, got {self.device!r}")

    def key(self, arch: Architecture, *, num_classes: int, in_channels: int = 3, optimizer: str = "adamw") -> str:
        """The cache key: what shapes the network, every measuring setting, the classes and the optimizer."""
        settings = {**asdict(self), "num_classes": num_classes, "in_channels": in_channels, "optimizer": optimizer}
        return architecture_hash(arch) + "|" + json.dumps(settings, sort_keys=True)


@dataclass(frozen=True)
class StepTime:
    """Median and interquartile range of the timed steps, in milliseconds."""

    median_ms: float
    iqr_ms: float
    times_ms: tuple[float, ...]

    @property
    def relative_iqr(self) -> float:
        return self.iqr_ms / self.median_ms


def measure_step_time(
    arch: Architecture,
    settings: StepSettings,
    *,
    num_classes: int = 1000,
    in_channels: int = 3,
    optimizer: str = "adamw",
) -> StepTime:
    """Time ``settings.steps`` training steps (forward, cross-entropy, backward, optimizer step).

    Runs in channels-last memory format with the proxy's optimizer (``nas.training.train``), on random
    inputs with a fixed seed. On CUDA each step is synchronized before the clock is read.
    """
    s = settings
    if s.resolution is None:
        raise ValueError("resolution: the step-time settings need a resolution")
    device = resolve_device(s.device)  # DeviceError (a ValueError) names a missing GPU
    with torch_threads(s.threads):
        torch.manual_seed(0)
        model = build_model(arch, num_classes=num_classes, in_channels=in_channels)
        model = model.to(device=device, memory_format=torch.channels_last)  # type: ignore[call-overload]
        x = torch.randn(s.batch_size, in_channels, s.resolution, s.resolution, device=device)
        x = x.contiguous(memory_format=torch.channels_last)
        step = training_step(model, x, num_classes=num_classes, optimizer=optimizer, classifier=True)
        times = timed_runs(step, device, s.warmup, s.steps)
    q1, _, q3 = statistics.quantiles(times, n=4, method="inclusive") if len(times) > 1 else (times[0],) * 3
    return StepTime(statistics.median(times), q3 - q1, tuple(times))


def training_step(model: torch.nn.Module, x: torch.Tensor, *, num_classes: int, optimizer: str,
                  classifier: bool) -> Callable[[], None]:  # fmt: skip
    """One training step of ``model`` on ``x``, as the trainer takes it: forward, loss,
    backward and ``optimizer``'s step (``nas.training.train.make_optimizer``, the proxy's recipe).

    The one definition of a step that both ``target.step`` and ``nas profile --mode step``
    time. ``classifier``: the loss is cross-entropy on random labels; else (a layer inside
    the network) the output's mean, so the gradient still flows back through the layer.
    """
    from nas.training.train import TrainConfig, make_optimizer

    model.train()
    opt = make_optimizer(model, TrainConfig(optimizer=optimizer))
    y = torch.randint(0, num_classes, (x.shape[0],), device=x.device)

    def step() -> None:
        out = model(x)
        loss = torch.nn.functional.cross_entropy(out, y) if classifier else out.float().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


class StepTimeCache:
    """Step times by ``StepSettings.key``, in an append-only journal (``nas.journal``), one
    line per measurement; concurrent writers and kills leave at worst a torn last line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, StepTime] = {}
        self.hits = 0
        self.reload()

    def reload(self) -> None:
        for record in journal.read(self.path):
            try:
                self.entries[str(record["key"])] = StepTime(
                    float(record["median_ms"]), float(record["iqr_ms"]), tuple(map(float, record["times_ms"]))
                )
            except (KeyError, TypeError, ValueError):
                continue

    def measure(self, arch: Architecture, settings: StepSettings, *, num_classes: int, optimizer: str) -> StepTime:
        """The cached step time of ``arch`` under ``settings``, measured (and stored) on a miss."""
        key = settings.key(arch, num_classes=num_classes, optimizer=optimizer)
        if key in self.entries:
            self.hits += 1
            return self.entries[key]
        measured = measure_step_time(arch, settings, num_classes=num_classes, optimizer=optimizer)
        record = {"key": key, "median_ms": measured.median_ms, "iqr_ms": measured.iqr_ms,
                  "times_ms": list(measured.times_ms)}  # fmt: skip
        journal.append(self.path, record)
        self.entries[key] = measured
        return measured
