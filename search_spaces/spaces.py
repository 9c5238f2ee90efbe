"""Search spaces: factorized, per-stage choices that map a sample to an ``Architecture``.

``mbconv`` is MnasNet's factorized hierarchical space as used for EfficientNet-B0 (PM §4.1;
reference §5): every stage of a base network picks its kernel, expansion, SE ratio, layer
count (base + delta) and a width multiplier; strides, stem and head come from the base.

Sampling is define-by-run through any object with ``suggest_categorical(name, choices)``
(an Optuna ``Trial``); this package does not import Optuna. Parameter names are stable
(``s3.kernel``), so studies stay comparable and resumable.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .architecture import Architecture
from .rounding import make_divisible

__all__ = ["SPACES", "MBConvSpace", "Suggester"]


class Suggester(Protocol):
    """What a space needs from a sampler (``optuna.Trial`` provides it)."""

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any: ...


@dataclass(frozen=True)
class MBConvSpace:
    """MnasNet / EfficientNet-B0 space around ``base``.

    Defaults (PM §4.1): kernel {3, 5}; expansion {1, 3, 6} (MnasNet's found models use
    these; the paper's exact set is unpublished); SE {0, 0.25}; layers base + {-1, 0, +1}
    (at least 1); width {0.75, 1.0, 1.25} x base channels, rounded to a multiple of 8.
    """

    base: Architecture
    kernel: tuple[int, ...] = (3, 5)
    expand: tuple[int, ...] = (1, 3, 6)
    se: tuple[float, ...] = (0.0, 0.25)
    layers: tuple[int, ...] = (-1, 0, 1)
    width: tuple[float, ...] = (0.75, 1.0, 1.25)

    def __post_init__(self) -> None:
        for name, values in (("kernel", self.kernel), ("expand", self.expand), ("se", self.se),
                             ("layers", self.layers), ("width", self.width)):  # fmt: skip
            if not values:
                raise ValueError(f"space.{name}: must list at least one choice, got []")
            if len(set(values)) != len(values):
                raise ValueError(f"space.{name}: choices must be distinct, got {list(values)}")
        if any(k < 1 or k % 2 == 0 for k in self.kernel):
            raise ValueError(f"space.kernel: kernels must be odd and >= 1, got {list(self.kernel)}")
        if any(e < 1 for e in self.expand):
            raise ValueError(f"space.expand: expansions must be >= 1, got {list(self.expand)}")
        if any(not 0 <= s < 1 for s in self.se):
            raise ValueError(f"space.se: ratios must be in [0, 1), got {list(self.se)}")
        if any(w <= 0 for w in self.width):
            raise ValueError(f"space.width: multipliers must be > 0, got {list(self.width)}")

    def stage_layers(self, index: int) -> list[int]:
        """Distinct layer counts of stage ``index``: base + delta, at least 1, sorted."""
        base = self.base.stages[index].repeats
        return sorted({max(1, base + delta) for delta in self.layers})

    def choices(self) -> dict[str, list[Any]]:
        """Every parameter name and its choices, in sampling order."""
        out: dict[str, list[Any]] = {}
        for i in range(len(self.base.stages)):
            out[f"s{i + 1}.kernel"] = list(self.kernel)
            out[f"s{i + 1}.expand"] = list(self.expand)
            out[f"s{i + 1}.se"] = list(self.se)
            out[f"s{i + 1}.layers"] = self.stage_layers(i)
            out[f"s{i + 1}.width"] = list(self.width)
        return out

    def size(self) -> int:
        """Number of distinct architectures (the product of all choice counts)."""
        return math.prod(len(c) for c in self.choices().values())

    def sample(self, suggest: Suggester) -> Architecture:
        """Ask ``suggest`` for every choice, in a fixed order, and build the architecture."""
        params = {name: suggest.suggest_categorical(name, values) for name, values in self.choices().items()}
        return self.decode(params)

    def decode(self, params: dict[str, Any]) -> Architecture:
        """The architecture of a full set of choices (as recorded by a study)."""
        stages = []
        for i, stage in enumerate(self.base.stages):
            p = f"s{i + 1}."
            stages.append(
                dataclasses.replace(
                    stage,
                    kernel=int(params[p + "kernel"]),
                    expand=int(params[p + "expand"]),
                    se=float(params[p + "se"]),
                    repeats=int(params[p + "layers"]),
                    channels=make_divisible(stage.channels * float(params[p + "width"])),
                )
            )
        return dataclasses.replace(self.base, name=f"{self.base.name}-searched", stages=tuple(stages))


SPACES = {"mbconv": MBConvSpace}
