"""Compound scaling as pure functions over an ``Architecture``. Imports only ``search_spaces``."""

from __future__ import annotations

from .compound import EFFICIENTNET_TABLE, Coefficients, efficientnet_family, scale
from .rounding import V1_ROUND_LIMIT, V2_ROUND_LIMIT, round_filters, round_repeats

__all__ = [
    "EFFICIENTNET_TABLE",
    "V1_ROUND_LIMIT",
    "V2_ROUND_LIMIT",
    "Coefficients",
    "efficientnet_family",
    "round_filters",
    "round_repeats",
    "scale",
]
