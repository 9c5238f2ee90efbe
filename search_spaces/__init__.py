"""What an architecture is, and what it costs on paper.

Public API: the ``Architecture`` spec and its JSON format, the model builder, the exact
analytic counters, and the shipped presets. This package imports nothing from ``nas`` or
``scaling``.
"""

from __future__ import annotations

from .architecture import (
    ACTIVATIONS,
    BLOCKS,
    FORMAT,
    Architecture,
    ArchitectureError,
    Head,
    Stage,
    Stem,
    architecture_from_dict,
    architecture_from_record,
    architecture_hash,
    architecture_to_dict,
    dumps_architecture,
    save_architecture,
)
from .builder import EfficientNet, build_model, drop_path_rates
from .cost import StageCost, cost_breakdown, count_flops, count_params
from .presets import load_architecture, load_architecture_with_metrics, preset_names, preset_path
from .registry import BLOCK_KINDS, BlockKind, block_kind
from .spaces import SPACES, MBConvSpace, Space, TrainingAwareSpace
from .timm_notation import from_timm, to_timm

__all__ = [
    "ACTIVATIONS",
    "BLOCKS",
    "BLOCK_KINDS",
    "FORMAT",
    "SPACES",
    "Architecture",
    "ArchitectureError",
    "BlockKind",
    "EfficientNet",
    "Head",
    "MBConvSpace",
    "Space",
    "Stage",
    "StageCost",
    "Stem",
    "TrainingAwareSpace",
    "architecture_from_dict",
    "architecture_from_record",
    "architecture_hash",
    "architecture_to_dict",
    "block_kind",
    "build_model",
    "cost_breakdown",
    "count_flops",
    "count_params",
    "drop_path_rates",
    "dumps_architecture",
    "from_timm",
    "load_architecture",
    "load_architecture_with_metrics",
    "preset_names",
    "preset_path",
    "save_architecture",
    "to_timm",
]
