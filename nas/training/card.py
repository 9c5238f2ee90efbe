"""The card written beside trained weights: what the network is, how it was trained, what it scored."""

from __future__ import annotations

import platform
from dataclasses import asdict
from typing import Any

import numpy
import torch

from search_spaces import Architecture, architecture_hash, architecture_to_dict, count_flops, count_params

from .data import Dataset
from .train import TrainConfig, TrainResult

__all__ = ["CARD_FORMAT", "model_card"]

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
