"""Where training and timing run: ``auto``, ``cpu`` or ``cuda[:N]``, and the precision on each.

``auto`` is CUDA when this process sees a GPU (a Ray trial with ``gpus_per_trial > 0``
sees the one Ray assigned it, as ``cuda:0``), else the CPU. On CUDA the trainer uses
mixed precision: bfloat16 autocast where the GPU supports it, else float16 with a gradient
scaler (PyTorch's AMP recipe); on the CPU it trains in float32.
"""

from __future__ import annotations

import re

import torch

__all__ = ["DEVICE_RULE", "DeviceError", "amp_dtype", "device_problem", "resolve_device"]

DEVICE_RULE = "auto, cpu, cuda or cuda:N"
_PATTERN = re.compile(r"auto|cpu|cuda(:\d{1,3})?")


class DeviceError(ValueError):
    """A device this machine does not have; the message names it."""


def device_problem(name: str) -> str | None:
    """Why ``name`` is not a device setting (None if it is one), without looking at the machine."""
    return None if isinstance(name, str) and _PATTERN.fullmatch(name) else f"must be {DEVICE_RULE}"


def resolve_device(name: str) -> torch.device:
    """The ``torch.device`` of a setting on this machine; ``DeviceError`` if CUDA or GPU N is missing."""
    problem = device_problem(name)
    if problem is not None:
        raise DeviceError(f"device: {problem}, got {name!r}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise DeviceError(f"device: {name} is not available on this machine (torch.cuda.is_available() is False)")
    index = int(name.partition(":")[2] or 0)
    if index >= torch.cuda.device_count():
        raise DeviceError(f"device: {name} is not available on this machine ({torch.cuda.device_count()} GPU(s))")
    return torch.device("cuda", index)


def amp_dtype(device: torch.device, *, bf16_supported: bool | None = None) -> torch.dtype | None:
    """The autocast precision on ``device``: bfloat16 or float16 on CUDA, None (float32) on the CPU."""
    if device.type != "cuda":
        return None
    if bf16_supported is None:
        bf16_supported = torch.cuda.is_bf16_supported()
    return torch.bfloat16 if bf16_supported else torch.float16
