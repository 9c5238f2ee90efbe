"""effnas engine: experiment specs, training, objectives, the study runner and the ``nas`` CLI."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
