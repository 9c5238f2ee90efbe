"""The card written beside trained weights: what the network is, how it was trained, what it scored."""

from __future__ import annotations

import json
import platform
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy
import torch

from search_spaces import (
    Architecture,
    architecture_hash,
    architecture_to_dict,
    count_flops,
    count_params,
    dumps_architecture,
)
from search_spaces.files import OutputDir, staged_folder
from search_spaces.weights import save_weights

from .data import Dataset
from .train import TrainConfig, TrainResult

__all__ = ["CARD_FORMAT", "model_card", "write_training", "write_training_atomically"]

CARD_FORMAT = "effnas.card/1"


def model_card(arch: Architecture, data: Dataset, config: TrainConfig, result: TrainResult) -> dict[str, Any]:
    """``card.json``: architecture, recipe, data, metrics and library versions of one trained network.

    Costs are counted where the network was trained (the recipe's resolution, the data's
    classes and channels) and at the architecture's own resolution with 1000 classes, the
    convention EfficientNet reports (P1 Table 2).
    """
    from nas import __version__

    classes, channels = data.num_classes, data.in_channels
    return {
        "format": CARD_FORMAT,
        "weights": "model.safetensors",
        "architecture": architecture_to_dict(arch),
        "architecture_hash": architecture_hash(arch),
        "input": {
            "channels": channels,
            "resolution": config.resolution,
            "mean": list(data.mean),
            "std": list(data.std),
        },
        "classes": list(data.classes),
        "costs": {
            "params": count_params(arch, num_classes=classes, in_channels=channels),
            "flops": count_flops(arch, resolution=config.resolution, num_classes=classes, in_channels=channels),
            "flops_at_own_resolution_1000_classes": count_flops(arch, resolution=arch.resolution, num_classes=1000),
        },
        "recipe": asdict(config),
        "data": {
            "name": data.name,
            "description": data.describe(),
            "train": len(data.train),
            "val": len(data.val),
            "test": len(data.test),
        },
        "metrics": {
            key: result.to_dict()[key]
            for key in ("val_accuracy", "val_loss", "test_accuracy", "test_loss", "seconds", "device", "precision")
        },
        "versions": {
            "effnas": __version__,
            "python": platform.python_version(),
            "torch": torch.__version__,
            "numpy": numpy.__version__,
        },
    }


def write_training(out: OutputDir, arch: Architecture, data: Dataset, config: TrainConfig, result: TrainResult) -> None:
    """A trained run's folder (``nas train --out``): metrics.json, architecture.json and, after a
    run that ended ok, model.safetensors (CPU tensors) with card.json beside it."""
    metrics = {"architecture": arch.name, "data": data.describe(), "config": asdict(config), **result.to_dict()}
    out.write("metrics.json", json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    out.write("architecture.json", dumps_architecture(arch))
    if result.model is not None and result.status == "ok":
        card = model_card(arch, data, config, result)
        header = {"architecture": arch.name, "architecture_hash": card["architecture_hash"]}
        state = result.model.state_dict()
        out.write_with("model.safetensors", lambda tmp: save_weights(state, tmp, header))
        out.write("card.json", json.dumps(card, indent=2, sort_keys=True) + "\n")


def write_training_atomically(
    folder: Path, arch: Architecture, data: Dataset, config: TrainConfig, result: TrainResult
) -> None:
    """``write_training`` into ``folder`` as one step: written beside it as ``NAME.partial``, then
    renamed, so a folder that exists is complete. A ``.partial`` left by a killed run is replaced."""
    with staged_folder(folder) as out:
        write_training(out, arch, data, config, result)
