"""Channel rounding shared by the search spaces and compound scaling.

The rule of TPU ``efficientnet_model.round_filters`` and torchvision ``_make_divisible``.
"""

from __future__ import annotations

__all__ = ["make_divisible"]


def make_divisible(value: float, *, divisor: int = 8, round_limit: float = 0.9) -> int:
    """``value`` to the nearest multiple of ``divisor`` (at least ``divisor``).

    TPU ``round_filters`` / torchvision ``_make_divisible``: ``max(divisor, int(v + divisor/2)
    // divisor * divisor)``, plus ``divisor`` when that lost more than ``1 - round_limit`` of
    ``v`` (the 10% rule; EfficientNetV2 uses ``round_limit=0``).
    """
    new = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if new < round_limit * value:
        new += divisor
    return int(new)
