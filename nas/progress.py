"""Formatting shared by the progress displays of ``nas train`` and ``nas search``, and the plots."""

from __future__ import annotations

__all__ = ["MS_METRICS", "format_cost", "format_duration", "plottable"]

MS_METRICS = ("latency_ms", "step_time")
"""Cost metrics measured in milliseconds; the others (FLOPs, params) are counts."""


def format_duration(seconds: float) -> str:
    """``42s``, ``3m07s`` or ``1h05m``."""
    s = max(0, round(seconds))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def format_cost(metric: str, value: float) -> str:
    """``12.34 ms`` for a measured time, ``89.1M`` for a count."""
    if metric in MS_METRICS:
        return f"{value:.2f} ms"
    return f"{value / 1e6:.1f}M"


def plottable(text: str) -> str:
    """``text`` as a plot can show it: characters the plotting font lacks become ``?`` and ``$``
    is escaped, so a run named with an emoji or a dollar sign draws without a matplotlib warning
    or a mathtext error."""
    from matplotlib import font_manager

    font = font_manager.get_font(font_manager.findfont(font_manager.FontProperties()))
    charmap = font.get_charmap()
    shown = "".join(c if c.isspace() or ord(c) in charmap else "?" for c in text)
    return shown.replace("$", r"\$")
