"""Cheap accuracy estimators: zero-cost scores at initialisation, and the baselines.

Each scores an architecture on a minibatch of the proxy's training data without training
it; a higher score predicts higher accuracy. ``proxy.screen`` ranks sampled candidates by
one of them, and ``experiments/benchmarks/proxy_fidelity.py`` measures each one's rank
correlation against a ground-truth table. No package that installs here implements them
for arbitrary PyTorch models, so each is written in a few lines, after its paper:

- ``synflow``: Tanaka et al. 2020 (arXiv 2006.05467), as a NAS score by Abdelfattah et al.
  2021 (arXiv 2101.08134): with every weight replaced by its absolute value, an all-ones
  input (float32, or float64 where that overflows) and BN in eval mode, R = sum of the outputs; the score is
  sum |theta * dR/dtheta|.
- ``naswot``: Mellor et al. 2021 (arXiv 2006.04647, v3): the binary codes of every
  activation's sign over a minibatch; K = C C^T + (1 - C)(1 - C)^T; the score is log|K|.
- ``grad_norm``: Abdelfattah et al. 2021: the sum over weights of the norm of the
  cross-entropy loss's gradient on one minibatch.
- ``snip``: Lee et al. 2019 (arXiv 1810.02340), as a NAS score by Abdelfattah et al.:
  sum |theta * dL/dtheta| on one minibatch.
- ``params`` and ``flops``: the counts (at the target resolution and class count), the
  baselines every estimator must beat (NATS-Bench: params alone reach Spearman 0.74).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from nas.training.data import Dataset
from search_spaces import Architecture, build_model, count_flops, count_params

__all__ = ["ESTIMATORS", "Score", "estimate"]

ESTIMATORS = ("synflow", "naswot", "grad_norm", "snip", "params", "flops")


@dataclass(frozen=True)
class Score:
    """An estimator's score of one architecture, and the wall-clock seconds it took."""

    estimator: str
    value: float
    seconds: float


def _batch(data: Dataset, *, resolution: int, batch_size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded minibatch of normalised training images at ``resolution`` and their labels."""
    generator = torch.Generator().manual_seed(seed)
    index = torch.randperm(len(data.train.y), generator=generator)[:batch_size]
    x = data.normalize(data.images(data.train, resolution)[index])
    return x, data.train.y[index].long()


def _weights(model: nn.Module) -> list[torch.Tensor]:
    """Convolution and linear weights: the parameters the zero-cost scores sum over."""
    return [m.weight for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def _synflow(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        for p in model.state_dict().values():
            if p.is_floating_point():
                p.abs_()
    model.eval()
    for dtype in (torch.float32, torch.float64):  # float64 (slow on CPU) only if float32 overflows
        model = model.to(dtype)
        model.zero_grad()
        model(torch.ones((1, *x.shape[1:]), dtype=dtype)).sum().backward()
        with torch.no_grad():
            value = float(sum((w * w.grad).abs().sum() for w in _weights(model) if w.grad is not None))
        if math.isfinite(value):
            break
    return value


def _naswot(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    codes: list[torch.Tensor] = []

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        codes.append((output.detach().flatten(1) > 0).double())

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.SiLU, nn.ReLU))]
    try:
        with torch.no_grad():
            model.train()(x)
    finally:
        for handle in handles:
            handle.remove()
    c = torch.cat(codes, dim=1)
    k = c @ c.T + (1 - c) @ (1 - c).T
    return float(torch.linalg.slogdet(k)[1])


def _gradients(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    model.train().zero_grad()
    F.cross_entropy(model(x), y).backward()
    return [w for w in _weights(model) if w.grad is not None]


def _grad_norm(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    weights = _gradients(model, x, y)
    with torch.no_grad():
        return float(sum(w.grad.norm() for w in weights if w.grad is not None))


def _snip(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    weights = _gradients(model, x, y)
    with torch.no_grad():
        return float(sum((w * w.grad).abs().sum() for w in weights if w.grad is not None))


_AT_INIT: dict[str, Callable[[nn.Module, torch.Tensor, torch.Tensor], float]] = {
    "synflow": _synflow,
    "naswot": _naswot,
    "grad_norm": _grad_norm,
    "snip": _snip,
}


def estimate(
    name: str,
    arch: Architecture,
    data: Dataset,
    *,
    resolution: int,
    target_resolution: int,
    num_classes: int,
    batch_size: int = 64,
    seed: int = 0,
) -> Score:
    """Score ``arch`` with estimator ``name`` (one of ``ESTIMATORS``).

    Zero-cost scores use a network built for ``data`` (its classes and channels), freshly
    initialised with ``seed``, and a seeded minibatch of ``batch_size`` training images at
    ``resolution``. ``params`` and ``flops`` are counted at ``target_resolution`` and
    ``num_classes``, where the network's cost is counted.
    """
    if name not in ESTIMATORS:
        raise ValueError(f"estimator: must be one of {', '.join(ESTIMATORS)}, got {name!r}")
    started = time.perf_counter()
    if name == "params":
        value = float(count_params(arch, num_classes=num_classes))
    elif name == "flops":
        value = float(count_flops(arch, resolution=target_resolution, num_classes=num_classes))
    else:
        torch.manual_seed(seed)
        model = build_model(arch, num_classes=data.num_classes, in_channels=data.in_channels)
        x, y = _batch(data, resolution=resolution, batch_size=batch_size, seed=seed)
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        x = x.contiguous(memory_format=torch.channels_last)  # as ``nas.training.train`` trains: 4-5x faster on CPU
        value = _AT_INIT[name](model, x, y)
    return Score(name, value, time.perf_counter() - started)
