"""Search spaces: factorized, per-stage choices that map a sample to an ``Architecture``.

``mbconv`` is MnasNet's factorized hierarchical space as used for EfficientNet-B0 (PM §4.1;
PM §4.1): every stage of a base network picks its kernel, expansion, SE ratio, layer
count (base + delta) and a width multiplier; strides, stem and head come from the base.

``training_aware`` is EfficientNetV2's space (P2 §3.3): every stage picks its
conv op (MBConv or Fused-MBConv), kernel, expansion and layer count; channels are reused
from the base, and only MBConv stages carry squeeze-excite.

Sampling is define-by-run through any object with ``suggest_categorical(name, choices)``
(an Optuna ``Trial``); this package does not import Optuna. Parameter names are stable
(``s3.kernel``), so studies stay comparable and resumable.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from .architecture import Architecture, Head, Stem
from .registry import block_kind
from .rounding import make_divisible

__all__ = ["SPACES", "MBConvSpace", "Space", "Suggester", "TrainingAwareSpace"]


class Suggester(Protocol):
    """What a space needs from a sampler (``optuna.Trial`` provides it)."""

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any: ...


@dataclass(frozen=True)
class MBConvSpace:
    """MnasNet / EfficientNet-B0 space around ``base``.

    Defaults (PM §4.1): kernel {3, 5}; expansion {1, 3, 6} (MnasNet's found models use
    these; the paper's exact set is unpublished); SE {0, 0.25}; layers base + {-1, 0, +1}
    (at least 1); width {0.75, 1.0, 1.25} x base channels, rounded to a multiple of 8. The
    stem's and the head's widths are choices too (``stem`` {0.5, 0.75, 1.0}, ``head``
    {0.25, 0.5, 0.75, 1.0} x the base's): B0 keeps a 1280-channel head at every width, which
    at a 100M budget is most of its parameters, so a search for a small budget may trade
    head for stages. The base's own values are among every default list, so the base is a
    point of the space (``base_params``).
    """

    base: Architecture
    kernel: tuple[int, ...] = (3, 5)
    expand: tuple[int, ...] = (1, 3, 6)
    se: tuple[float, ...] = (0.0, 0.25)
    layers: tuple[int, ...] = (-1, 0, 1)
    width: tuple[float, ...] = (0.75, 1.0, 1.25)
    stem: tuple[float, ...] = (0.5, 0.75, 1.0)
    head: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0)
    conditional: ClassVar[bool] = False  # every parameter is asked of every trial

    def __post_init__(self) -> None:
        _check_common(self.kernel, self.expand, self.se, self.layers)
        for name in ("width", "stem", "head"):
            _check_distinct(name, getattr(self, name))
            _check_each(name, getattr(self, name), lambda w: w > 0, "widths must be > 0")

    def stage_layers(self, index: int) -> list[int]:
        """Distinct layer counts of stage ``index``: base + delta, at least 1, sorted."""
        return _layer_counts(self.base, index, self.layers)

    def choices(self) -> dict[str, list[Any]]:
        """Every parameter name and its choices, in sampling order."""
        out: dict[str, list[Any]] = {}
        for i in range(len(self.base.stages)):
            out[f"s{i + 1}.kernel"] = list(self.kernel)
            out[f"s{i + 1}.expand"] = list(self.expand)
            out[f"s{i + 1}.se"] = list(self.se)
            out[f"s{i + 1}.layers"] = self.stage_layers(i)
            out[f"s{i + 1}.width"] = list(self.width)
        out["stem.width"] = list(self.stem)
        out["head.width"] = list(self.head)
        return out

    def base_params(self) -> dict[str, Any] | None:
        """The choices that decode to the base itself, or None where the base is not a point of the space."""
        params: dict[str, Any] = {"stem.width": 1.0, "head.width": 1.0}
        for i, stage in enumerate(self.base.stages):
            p = f"s{i + 1}."
            params.update({p + "kernel": stage.kernel, p + "expand": stage.expand, p + "se": stage.se,
                           p + "layers": stage.repeats, p + "width": 1.0})  # fmt: skip
        return _if_valid(self, params)

    def params_of(self, arch: Architecture, *, uniform: bool = True) -> dict[str, Any]:
        """The point of the space that ``arch`` is, widths up to one uniform multiplier.

        Kernels, expansions, SE ratios and layer counts must be choices of the space, and
        blocks and strides the base's. Each width (stages, stem, head) becomes the choice
        nearest its ratio to the base's channels, after dividing out the one multiplier that
        fits them best (``uniform``; a fit to a budget scales every width by one factor
        anyway), or none (``uniform=False``). Raises ``ValueError`` naming what is not a choice.
        """
        params = _discrete_point(self, arch, se=True)
        pairs = enumerate(zip(arch.stages, self.base.stages, strict=True))
        ratios = {f"s{i + 1}.width": s.channels / b.channels for i, (s, b) in pairs}
        ratios["stem.width"] = arch.stem.channels / self.base.stem.channels
        ratios["head.width"] = arch.head.channels / self.base.head.channels
        offered = {name: (self.stem if name == "stem.width" else self.head if name == "head.width" else self.width)
                   for name in ratios}  # fmt: skip

        channels = {name: r * base for (name, r), base in zip(ratios.items(), self._base_channels(), strict=True)}

        def snap(m: float) -> tuple[float, dict[str, float]]:
            """The nearest choices at multiplier ``m``, and their misfit; wide layers weigh more
            (rounding to multiples of 8 blurs a narrow layer's ratio)."""
            error, chosen = 0.0, {}
            for name, r in ratios.items():
                best = min(offered[name], key=lambda c: abs(math.log(r / (m * c))))
                error += channels[name] * abs(math.log(r / (m * best)))
                chosen[name] = best
            return error, chosen

        scales = {r / c for name, r in ratios.items() for c in offered[name]} if uniform else {1.0}
        _, chosen = min((snap(m) for m in sorted(scales)), key=lambda x: x[0])
        params.update(chosen)
        return params

    def _base_channels(self) -> list[int]:
        """The base's widths in ``params_of``'s order: stages, stem, head."""
        return [*(stage.channels for stage in self.base.stages), self.base.stem.channels, self.base.head.channels]

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
        stem = Stem(make_divisible(self.base.stem.channels * float(params.get("stem.width", 1.0))))
        head = Head(make_divisible(self.base.head.channels * float(params.get("head.width", 1.0))))
        return dataclasses.replace(self.base, name=f"{self.base.name}-searched", stages=tuple(stages), stem=stem,
                                   head=head)  # fmt: skip


@dataclass(frozen=True)
class TrainingAwareSpace:
    """EfficientNetV2's training-aware space around ``base`` (P2 §3.3).

    Per stage: conv op {mbconv, fused_mbconv}, kernel {3, 5}, expansion {1, 4, 6}, layers
    base + {-1, 0, +1} (at least 1). Channels, strides, stem and head come from the base.
    The SE ratio (default {0.25}, V2's) is asked only of stages that chose MBConv: Fused-MBConv
    stages have no SE (P2 Table 4; google/automl ``effnetv2_configs.py``), so the parameter is
    conditional (define-by-run).
    """

    base: Architecture
    block: tuple[str, ...] = ("mbconv", "fused_mbconv")
    kernel: tuple[int, ...] = (3, 5)
    expand: tuple[int, ...] = (1, 4, 6)
    se: tuple[float, ...] = (0.25,)
    layers: tuple[int, ...] = (-1, 0, 1)
    conditional: ClassVar[bool] = True  # sN.se is asked only of MBConv stages

    def __post_init__(self) -> None:
        _check_common(self.kernel, self.expand, self.se, self.layers)
        _check_distinct("block", self.block)
        for b in self.block:
            try:
                block_kind(b)
            except ValueError as exc:
                raise ValueError(f"space.{exc}") from None

    def stage_layers(self, index: int) -> list[int]:
        """Distinct layer counts of stage ``index``: base + delta, at least 1, sorted."""
        return _layer_counts(self.base, index, self.layers)

    def choices(self) -> dict[str, list[Any]]:
        """Every parameter name and its choices; ``sN.se`` is only asked when ``sN.block`` is mbconv."""
        out: dict[str, list[Any]] = {}
        for i in range(len(self.base.stages)):
            out[f"s{i + 1}.block"] = list(self.block)
            out[f"s{i + 1}.kernel"] = list(self.kernel)
            out[f"s{i + 1}.expand"] = list(self.expand)
            out[f"s{i + 1}.layers"] = self.stage_layers(i)
            if any(block_kind(b).takes_se for b in self.block):
                out[f"s{i + 1}.se"] = list(self.se)
        return out

    def size(self) -> int:
        """Number of distinct architectures: per stage, (MBConv x SE choices + Fused) x the rest."""
        total = 1
        for i in range(len(self.base.stages)):
            ops = sum(len(self.se) if block_kind(b).takes_se else 1 for b in self.block)
            total *= ops * len(self.kernel) * len(self.expand) * len(self.stage_layers(i))
        return total

    def base_params(self) -> dict[str, Any] | None:
        """The choices that decode to the base itself, or None where the base is not a point of the space."""
        params: dict[str, Any] = {}
        for i, stage in enumerate(self.base.stages):
            p = f"s{i + 1}."
            params.update({p + "block": stage.block, p + "kernel": stage.kernel, p + "expand": stage.expand,
                           p + "layers": stage.repeats})  # fmt: skip
            if block_kind(stage.block).takes_se:
                params[p + "se"] = stage.se
        return _if_valid(self, params)

    def params_of(self, arch: Architecture, *, uniform: bool = True) -> dict[str, Any]:
        """The point of the space that ``arch`` is: its blocks, kernels, expansions, layer
        counts and (MBConv stages) SE ratios, each a choice of the space; the space reuses
        the base's channels (``uniform`` is accepted for a common signature). Raises
        ``ValueError`` naming what is not a choice."""
        return _discrete_point(self, arch, se=False)

    def sample(self, suggest: Suggester) -> Architecture:
        """Ask ``suggest`` stage by stage; the SE ratio only for an MBConv stage."""
        params: dict[str, Any] = {}
        for i in range(len(self.base.stages)):
            p = f"s{i + 1}."
            params[p + "block"] = suggest.suggest_categorical(p + "block", list(self.block))
            params[p + "kernel"] = suggest.suggest_categorical(p + "kernel", list(self.kernel))
            params[p + "expand"] = suggest.suggest_categorical(p + "expand", list(self.expand))
            params[p + "layers"] = suggest.suggest_categorical(p + "layers", self.stage_layers(i))
            if block_kind(params[p + "block"]).takes_se:
                params[p + "se"] = suggest.suggest_categorical(p + "se", list(self.se))
        return self.decode(params)

    def decode(self, params: dict[str, Any]) -> Architecture:
        """The architecture of a full set of choices (as recorded by a study)."""
        stages = []
        for i, stage in enumerate(self.base.stages):
            p = f"s{i + 1}."
            block = str(params[p + "block"])
            stages.append(
                dataclasses.replace(
                    stage,
                    block=block,
                    kernel=int(params[p + "kernel"]),
                    expand=int(params[p + "expand"]),
                    se=float(params[p + "se"]) if block_kind(block).takes_se else 0.0,
                    repeats=int(params[p + "layers"]),
                )
            )
        return dataclasses.replace(self.base, name=f"{self.base.name}-searched", stages=tuple(stages))


def _if_valid(space: MBConvSpace | TrainingAwareSpace, params: dict[str, Any]) -> dict[str, Any] | None:
    """``params`` if each is one of its parameter's choices (and, where every parameter is
    always asked, none is missing); else None."""
    choices = space.choices()
    if not space.conditional and set(params) != set(choices):
        return None
    if any(name not in choices or value not in choices[name] for name, value in params.items()):
        return None
    return params


def _discrete_point(space: MBConvSpace | TrainingAwareSpace, arch: Architecture, *, se: bool) -> dict[str, Any]:
    """``arch``'s per-stage discrete choices in ``space`` (block where the space chooses it, kernel,
    expansion, layers; SE on MBConv stages, or on every stage where ``se``); ``ValueError`` if
    its stage structure is not the base's or a value is not offered."""
    base = space.base
    if len(arch.stages) != len(base.stages):
        raise ValueError(f"has {len(arch.stages)} stages; the space around {base.name} has {len(base.stages)}")
    choices = space.choices()
    params: dict[str, Any] = {}
    for i, (stage, own) in enumerate(zip(arch.stages, base.stages, strict=True)):
        p = f"s{i + 1}."
        if stage.stride != own.stride:
            raise ValueError(f"stage {i + 1} has stride {stage.stride}; the space keeps {base.name}'s {own.stride}")
        values: dict[str, Any] = {"kernel": stage.kernel, "expand": stage.expand, "layers": stage.repeats}
        if p + "block" in choices:
            values["block"] = stage.block
        elif stage.block != own.block:
            raise ValueError(f"stage {i + 1} is {stage.block}; the space keeps {base.name}'s {own.block}")
        if se or block_kind(stage.block).takes_se:
            values["se"] = stage.se
        for key, value in values.items():
            offered = choices.get(p + key, [])
            if value not in offered:
                raise ValueError(f"{p}{key} {value!r} is not among the space's choices {offered}")
            params[p + key] = value
    return params


def _layer_counts(base: Architecture, index: int, deltas: Sequence[int]) -> list[int]:
    """Distinct layer counts of stage ``index`` of ``base``: its repeats + delta, at least 1, sorted."""
    repeats = base.stages[index].repeats
    return sorted({max(1, repeats + delta) for delta in deltas})


def _check_distinct(name: str, values: Sequence[Any]) -> None:
    if not values:
        raise ValueError(f"space.{name}: must list at least one choice, got []")
    if len(set(values)) != len(values):
        raise ValueError(f"space.{name}: choices must be distinct, got {list(values)}")


def _check_each(name: str, values: Sequence[Any], ok: Callable[[Any], bool], rule: str) -> None:
    """Every choice of ``space.<name>`` passes ``ok``; the error names the first that does not."""
    bad = [v for v in values if not ok(v)]
    if bad:
        raise ValueError(f"space.{name}: {rule}, got {bad[0]!r}")


def _check_common(kernel: Sequence[int], expand: Sequence[int], se: Sequence[float], layers: Sequence[int]) -> None:
    """The checks every space shares: non-empty, distinct, in range."""
    for name, values in (("kernel", kernel), ("expand", expand), ("se", se), ("layers", layers)):
        _check_distinct(name, values)
    _check_each("kernel", kernel, lambda k: k >= 1 and k % 2 == 1, "kernels must be odd and >= 1")
    _check_each("expand", expand, lambda e: e >= 1, "expansions must be >= 1")
    _check_each("se", se, lambda r: 0 <= r < 1, "SE ratios must be in [0, 1)")
    _check_each("layers", layers, lambda d: -MAX_LAYER_DELTA <= d <= MAX_LAYER_DELTA,
                f"layer deltas must be in [-{MAX_LAYER_DELTA}, {MAX_LAYER_DELTA}]")  # fmt: skip


MAX_LAYER_DELTA = 10
"""The largest change of a stage's layer count that a space may offer."""


Space = MBConvSpace | TrainingAwareSpace
SPACES: dict[str, type[MBConvSpace] | type[TrainingAwareSpace]] = {
    "mbconv": MBConvSpace,
    "training_aware": TrainingAwareSpace,
}
