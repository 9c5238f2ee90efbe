"""Trained weights on disk: safetensors, with a legacy reader for ``weights.pt``.

safetensors holds only named tensors and a string-to-string header, so reading a file runs no
code (unlike a pickle). ``nas train --out`` writes ``model.safetensors``; the header carries
``format`` and the architecture's name and hash, which the card beside it repeats.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path

import torch

__all__ = ["WEIGHTS_FORMAT", "WeightsError", "load_weights", "save_weights", "weights_io"]

WEIGHTS_FORMAT = "effnas.weights/1"


class WeightsError(ValueError):
    """A weights file that cannot be read, or that does not fit the network; the message names it."""


def save_weights(
    state: Mapping[str, torch.Tensor], path: str | Path, metadata: Mapping[str, str] | None = None
) -> None:
    """Write a state dict as safetensors: contiguous CPU tensors, ``format`` in the header."""
    from safetensors.torch import save_file

    tensors = {name: t.detach().to("cpu").contiguous() for name, t in state.items()}
    save_file(tensors, str(path), metadata={"format": WEIGHTS_FORMAT, **(metadata or {})})


def load_weights(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(state dict, header) of a ``.safetensors`` file, or of a legacy ``weights.pt`` (header empty).

    A ``.pt`` file is read with ``torch.load(weights_only=True)``: no pickled code runs.
    Raises ``WeightsError`` for a missing, unreadable or non-tensor file.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path} does not exist")
    if path.suffix != ".pt":
        from safetensors import SafetensorError
        from safetensors.torch import load_file, safe_open

        try:
            with safe_open(str(path), framework="pt") as handle:
                header = dict(handle.metadata() or {})
            return load_file(str(path), device="cpu"), header
        except (SafetensorError, OSError, ValueError) as exc:
            raise WeightsError(f"cannot read {path} as safetensors ({_first_line(exc)})") from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # unreadable, or not a tensor file
            raise WeightsError(f"cannot load {path} ({type(exc).__name__})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{path} is not a state dict of tensors")
    return state, {}


def weights_io(state: Mapping[str, torch.Tensor]) -> tuple[int, int]:
    """(classes, input channels) of an effnas network's state dict: its classifier rows and stem's inputs."""
    classifier, stem = state.get("classifier.weight"), state.get("stem.0.weight")
    if classifier is None or stem is None or classifier.ndim != 2 or stem.ndim != 4:
        raise WeightsError("not an effnas network's state dict (no classifier or stem weights)")
    return int(classifier.shape[0]), int(stem.shape[1])


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__
