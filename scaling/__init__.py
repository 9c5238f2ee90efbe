"""Compound scaling as pure functions over an ``Architecture``. Imports only ``search_spaces``."""

from __future__ import annotations

from .budget import (
    COMPOUND_ALPHA,
    COMPOUND_BETA,
    NAIVE_RULES,
    Fit,
    FitError,
    adjust_into_band,
    fit_to_budget,
    scale_to_budget,
)
from .compound import (
    EFFICIENTNET_TABLE,
    RESOLUTION_DIVISOR,
    Coefficients,
    efficientnet_family,
    flops_product,
    scale,
    scaled_resolution,
)
from .rounding import V1_ROUND_LIMIT, V2_ROUND_LIMIT, round_filters, round_repeats

__all__ = [
    "COMPOUND_ALPHA",
    "COMPOUND_BETA",
    "EFFICIENTNET_TABLE",
    "NAIVE_RULES",
    "RESOLUTION_DIVISOR",
    "V1_ROUND_LIMIT",
    "V2_ROUND_LIMIT",
    "Coefficients",
    "Fit",
    "FitError",
    "adjust_into_band",
    "efficientnet_family",
    "fit_to_budget",
    "flops_product",
    "round_filters",
    "round_repeats",
    "scale",
    "scale_to_budget",
    "scaled_resolution",
]
