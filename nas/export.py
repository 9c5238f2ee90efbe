"""Writing a network for use outside effnas: ONNX, and a timm checkpoint (``nas export``, ``nas run``)."""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from pathlib import Path

import torch

from search_spaces import Architecture, build_model
from search_spaces.files import OutputDir
from search_spaces.timm_notation import to_timm
from search_spaces.timm_weights import to_timm_state_dict
from search_spaces.weights import save_weights

__all__ = ["write_onnx", "write_timm"]


def write_onnx(model: torch.nn.Module, in_channels: int, resolution: int, path: Path) -> None:
    """``model`` (in eval mode) as an ONNX graph: input ``images`` (N x C x R x R), output ``logits``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.zeros(1, in_channels, resolution, resolution),), str(path), dynamo=False,
                          input_names=["images"], output_names=["logits"],
                          dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}})  # fmt: skip


def trained_model(arch: Architecture, state: Mapping[str, torch.Tensor], num_classes: int,
                  in_channels: int) -> torch.nn.Module:  # fmt: skip
    """The network of ``arch`` holding ``state``, in eval mode (``load_state_dict`` raises on a mismatch)."""
    model = build_model(arch, num_classes=num_classes, in_channels=in_channels).eval()
    model.load_state_dict(state)
    return model


def write_timm(out: OutputDir, arch: Architecture, state: Mapping[str, torch.Tensor], num_classes: int,
               in_channels: int) -> None:  # fmt: skip
    """``timm.json`` (``to_timm``'s arguments with classes and channels) and ``model.safetensors`` under timm's
    names; ``ValueError`` for an architecture timm's notation cannot write."""
    config = {**to_timm(arch), "num_classes": num_classes, "in_chans": in_channels, "weights": "model.safetensors"}
    out.write("timm.json", json.dumps(config, indent=2, sort_keys=True) + "\n")
    timm_state = to_timm_state_dict(arch, state)
    out.write_with("model.safetensors", lambda tmp: save_weights(timm_state, tmp, {"names": "timm"}))
