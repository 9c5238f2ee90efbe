"""Rounding rules of compound scaling (TPU `efficientnet_model.round_filters`; torchvision `_make_divisible`)."""

from __future__ import annotations

import math

from search_spaces.rounding import make_divisible

__all__ = ["V1_ROUND_LIMIT", "V2_ROUND_LIMIT", "round_filters", "round_repeats"]

V1_ROUND_LIMIT = 0.9
"""EfficientNet (TPU ``round_filters``, torchvision ``_make_divisible``): never round down >10%."""

V2_ROUND_LIMIT = 0.0
"""EfficientNetV2 drops the 10% rule (AML ``round_filters``; timm ``round_limit=0.``)."""


def round_filters(channels: int, width: float, *, divisor: int = 8, round_limit: float = V1_ROUND_LIMIT) -> int:
    """Scale ``channels`` by ``width`` and round to the nearest multiple of ``divisor``.

    TPU ``efficientnet_model.round_filters``: ``max(divisor, int(f + divisor/2) // divisor *
    divisor)``, plus ``divisor`` if that lost more than ``1 - round_limit`` of ``f``.
    """
    if width <= 0:
        raise ValueError(f"width: must be > 0, got {width}")
    return make_divisible(channels * width, divisor=divisor, round_limit=round_limit)


def round_repeats(repeats: int, depth: float) -> int:
    """``ceil(depth * repeats)`` (TPU / AML ``round_repeats``, torchvision ``adjust_depth``).

    A tolerance of 1e-9 keeps float noise (``1.1 * 10 = 11.000000000000002``) from adding a layer.
    """
    if depth <= 0:
        raise ValueError(f"depth: must be > 0, got {depth}")
    return max(1, math.ceil(depth * repeats - 1e-9))
