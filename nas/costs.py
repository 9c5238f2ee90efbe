"""Costs measured on a built model: the fvcore cross-check of the analytic FLOP count.

fvcore counts one fused multiply-add as one flop, the convention of ``count_flops``. Only
the convolution and linear handles are kept; every other op fvcore knows (batch norm,
pooling, upsampling, norms) is switched off, so the two counts must agree exactly.
"""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass

import torch

with warnings.catch_warnings():  # fvcore scripts a loss with torch.jit at import, now deprecated
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    from fvcore.nn import FlopCountAnalysis
    from fvcore.nn.jit_handles import addmm_flop_jit, conv_flop_jit, linear_flop_jit, matmul_flop_jit

from search_spaces import Architecture, build_model

__all__ = ["FvcoreCount", "fvcore_flops", "fvcore_model_flops", "measure_latency_ms"]

_COUNTED = {
    "aten::_convolution": conv_flop_jit,
    "aten::addmm": addmm_flop_jit,
    "aten::linear": linear_flop_jit,
    "aten::matmul": matmul_flop_jit,
    "aten::mm": matmul_flop_jit,
}
# Ops that the FLOPs convention leaves out on purpose (DESIGN.md); anything else that fvcore
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
    warmup: int = 3,
    runs: int = 10,
    threads: int | None = 1,
) -> float:
    """Median wall time of one batch-1 forward pass on this machine, in milliseconds.

    MnasNet measures single-threaded batch-1 latency (PM §5); ``threads=1`` by default.
    """
    import statistics
    import time

    size = arch.resolution if resolution is None else resolution
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        model = build_model(arch, num_classes=num_classes).eval()
        x = torch.zeros(1, 3, size, size)
        times = []
        with torch.no_grad():
            for i in range(warmup + runs):
                start = time.perf_counter()
                model(x)
                if i >= warmup:
                    times.append(time.perf_counter() - start)
        return 1000.0 * statistics.median(times)
    finally:
        torch.set_num_threads(previous)
