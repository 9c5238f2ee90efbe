"""The experiment spec: YAML -> validated, typed, frozen config with a default for every field.

Unknown keys are rejected; every error names the path and the bad value
(``proxy.epochs: must be >= 1, got 0``). Only ``yaml.safe_load`` reads a user's file.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from search_spaces import ArchitectureError, load_architecture

from .data import DATASETS, DEFAULT_FASHION_MNIST

__all__ = [
    "ExperimentSpec",
    "ObjectiveSpec",
    "OutputSpec",
    "ProxySpec",
    "ScaleSpec",
    "SearchSpec",
    "SpaceSpec",
    "SpecError",
    "TargetSpec",
    "dump_spec",
    "load_spec",
    "spec_from_dict",
    "spec_to_dict",
]


class SpecError(ValueError):
    """An invalid experiment spec; the message starts with the field path."""


@dataclass(frozen=True)
class SpaceSpec:
    """Which search space, its base, and the choices per dimension (see ``search_spaces.spaces``)."""

    type: str = "mbconv"
    base: str = "efficientnet-b0"
    kernel: tuple[int, ...] = (3, 5)
    expand: tuple[int, ...] = (1, 3, 6)
    se: tuple[float, ...] = (0.0, 0.25)
    layers: tuple[int, ...] = (-1, 0, 1)
    width: tuple[float, ...] = (0.75, 1.0, 1.25)


@dataclass(frozen=True)
class TargetSpec:
    """Where the model will run, which is where cost is counted, and the budget.

    At most one budget: ``flops`` (multiply-adds), ``params``, or ``latency_ms`` (measured
    on this machine at batch 1). The cost metric is the budget's; without one, FLOPs.
    """

    resolution: int = 224
    num_classes: int = 1000
    flops: float | None = None
    params: float | None = None
    latency_ms: float | None = None

    @property
    def cost(self) -> str:
        for name in ("flops", "params", "latency_ms"):
            if getattr(self, name) is not None:
                return name
        return "flops"

    @property
    def budget(self) -> float | None:
        value: float | None = getattr(self, self.cost)
        return value


@dataclass(frozen=True)
class ObjectiveSpec:
    """``mnas`` (``mode`` soft, hard, or custom with ``alpha``/``beta``) or ``pareto``."""

    type: str = "mnas"
    mode: str = "soft"
    alpha: float | None = None
    beta: float | None = None


@dataclass(frozen=True)
class ProxySpec:
    """How accuracy is estimated: the cheap training run of every candidate.

    ``bn_recalibrate: always`` re-estimates BN statistics before every validation: after one
    short epoch the running averages still lag the weights, and the pruner would compare
    BN noise (measured on ``digits``: 20% without, 96% with, after the first epoch).
    """

    dataset: str = "digits"
    path: str | None = None
    train_size: int | None = None
    val_size: float = 0.1
    resolution: int = 32
    epochs: int = 3
    batch_size: int = 128
    optimizer: str = "adamw"
    lr: float = 3e-3
    weight_decay: float = 0.05
    threads: int | None = None
    bn_recalibrate: str = "always"


@dataclass(frozen=True)
class SearchSpec:
    """How to search: sampler (default tpe, or nsga2 for pareto), trials, pruner, executor.

    ``pruner`` (median or halving) stops hopeless trials of single-objective searches from
    their per-epoch proxy reward; multi-objective searches do not prune.
    """

    sampler: str | None = None
    trials: int = 20
    pruner: str = "median"
    executor: str = "local"
    workers: int = 1
    storage: str | None = None


@dataclass(frozen=True)
class ScaleSpec:
    """The alpha, beta, gamma grid of ``nas scale SPEC.yaml`` and the family it emits (P1 §3.3)."""

    step: float = 0.05
    alpha: tuple[float, ...] = (1.0, 2.0)
    beta: tuple[float, ...] = (1.0, 1.5)
    gamma: tuple[float, ...] = (1.0, 1.5)
    target: float = 2.0
    tolerance: float = 0.05
    phi: int = 7


@dataclass(frozen=True)
class OutputSpec:
    """The run directory (``--out`` overrides it)."""

    dir: str | None = None


@dataclass(frozen=True)
class ExperimentSpec:
    """A whole experiment; every section has defaults."""

    name: str = "search"
    seed: int = 0
    space: SpaceSpec = field(default_factory=SpaceSpec)
    target: TargetSpec = field(default_factory=TargetSpec)
    objective: ObjectiveSpec = field(default_factory=ObjectiveSpec)
    proxy: ProxySpec = field(default_factory=ProxySpec)
    search: SearchSpec = field(default_factory=SearchSpec)
    scale: ScaleSpec = field(default_factory=ScaleSpec)
    output: OutputSpec = field(default_factory=OutputSpec)

    @property
    def run_dir(self) -> str:
        return self.output.dir or f"runs/{self.name}"


# --------------------------------------------------------------------------- generic decoding


def _type_name(tp: Any) -> str:
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
    return names.get(tp, getattr(tp, "__name__", str(tp)))


def _decode(tp: Any, value: Any, path: str) -> Any:
    """Check ``value`` against the annotation ``tp`` (int, float, str, bool, X | None, tuple[X, ...])."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _decode(args[0], value, path)
    if origin is tuple:
        (item,) = (a for a in typing.get_args(tp) if a is not Ellipsis)
        if not isinstance(value, list):
            raise SpecError(f"{path}: must be a list, got {value!r}")
        if not value:
            raise SpecError(f"{path}: must list at least one choice, got []")
        return tuple(_decode(item, v, f"{path}[{i}]") for i, v in enumerate(value))
    if dataclasses.is_dataclass(tp):
        return _decode_dataclass(tp, value, path)
    ok = {
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, (int, float)) and not isinstance(value, bool),
        str: isinstance(value, str),
        bool: isinstance(value, bool),
    }[tp]
    if not ok:
        raise SpecError(f"{path}: must be {_type_name(tp)}, got {value!r}")
    if tp is float:
        if not math.isfinite(value):
            raise SpecError(f"{path}: must be a finite number, got {value!r}")
        return float(value)
    return value


def _decode_dataclass(cls: Any, value: Any, path: str) -> Any:
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise SpecError(f"{path or 'spec'}: must be a mapping, got {value!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for key in value:
        if key not in names:
            where = f"{path}.{key}" if path else str(key)
            raise SpecError(f"{where}: unknown key (allowed: {', '.join(names)})")
    kwargs = {k: _decode(hints[k], v, f"{path}.{k}" if path else k) for k, v in value.items()}
    return cls(**kwargs)


# --------------------------------------------------------------------------- rules


def _fail(path: str, rule: str, value: Any) -> SpecError:
    return SpecError(f"{path}: {rule}, got {value!r}")


def _check(spec: ExperimentSpec, purpose: str) -> None:
    """Range and consistency rules that types alone do not express."""
    if not spec.name or "/" in spec.name:
        raise _fail("name", "must be a non-empty name without '/'", spec.name)
    s, t, o, p, q = spec.space, spec.target, spec.objective, spec.proxy, spec.search
    if s.type != "mbconv":
        raise _fail("space.type", "must be mbconv", s.type)
    try:
        load_architecture(s.base)
    except ArchitectureError as exc:
        raise SpecError(f"space.base: {exc}") from None
    for name, values, ok, rule in (
        ("kernel", s.kernel, lambda v: v >= 1 and v % 2 == 1, "kernels must be odd and >= 1"),
        ("expand", s.expand, lambda v: v >= 1, "expansions must be >= 1"),
        ("se", s.se, lambda v: 0 <= v < 1, "SE ratios must be in [0, 1)"),
        ("width", s.width, lambda v: v > 0, "widths must be > 0"),
        ("layers", s.layers, lambda v: -10 <= v <= 10, "layer deltas must be in [-10, 10]"),
    ):
        bad = [v for v in values if not ok(v)]
        if bad:
            raise _fail(f"space.{name}", rule, bad[0])
        if len(set(values)) != len(values):
            raise _fail(f"space.{name}", "choices must be distinct", list(values))
    for name, value in (("resolution", t.resolution), ("num_classes", t.num_classes)):
        if value < 1:
            raise _fail(f"target.{name}", "must be >= 1", value)
    budgets = [n for n in ("flops", "params", "latency_ms") if getattr(t, n) is not None]
    if len(budgets) > 1:
        raise _fail("target", "give at most one budget (flops, params or latency_ms)", budgets)
    for n in budgets:
        if not getattr(t, n) > 0:
            raise _fail(f"target.{n}", "must be > 0", getattr(t, n))
    if o.type not in ("mnas", "pareto"):
        raise _fail("objective.type", "must be mnas or pareto", o.type)
    if o.mode not in ("soft", "hard", "custom"):
        raise _fail("objective.mode", "must be soft, hard or custom", o.mode)
    if purpose == "search" and o.type == "mnas" and t.budget is None:
        raise SpecError("target: objective mnas needs a budget; set target.flops, target.params or target.latency_ms")
    if o.mode == "custom" and (o.alpha is None or o.beta is None):
        raise _fail("objective.alpha", "mode custom needs both alpha and beta", o.alpha)
    if o.mode != "custom" and (o.alpha is not None or o.beta is not None):
        raise _fail("objective.mode", "alpha and beta are only read with mode: custom", o.mode)
    if p.dataset not in DATASETS:
        raise _fail("proxy.dataset", f"must be one of {', '.join(DATASETS)}", p.dataset)
    if p.dataset == "synthetic" and p.path is not None:
        raise _fail("proxy.path", "synthetic data has no path", p.path)
    if p.dataset not in ("digits", "synthetic"):
        path = p.path or (DEFAULT_FASHION_MNIST if p.dataset == "fashion-mnist" else None)
        if path is None:
            raise _fail("proxy.path", f"dataset {p.dataset} needs a path", None)
        if not Path(path).exists():
            raise _fail("proxy.path", "does not exist", path)
    for name, value, minimum in (("resolution", p.resolution, 1), ("epochs", p.epochs, 1),
                                 ("batch_size", p.batch_size, 1)):  # fmt: skip
        if value < minimum:
            raise _fail(f"proxy.{name}", f"must be >= {minimum}", value)
    if p.train_size is not None and p.train_size < 1:
        raise _fail("proxy.train_size", "must be >= 1", p.train_size)
    if not p.val_size > 0:
        raise _fail("proxy.val_size", "must be a fraction in (0, 1) or a count >= 1", p.val_size)
    if p.optimizer not in ("adamw", "sgd", "rmsprop"):
        raise _fail("proxy.optimizer", "must be adamw, sgd or rmsprop", p.optimizer)
    if not p.lr > 0:
        raise _fail("proxy.lr", "must be > 0", p.lr)
    if p.weight_decay < 0:
        raise _fail("proxy.weight_decay", "must be >= 0", p.weight_decay)
    if p.bn_recalibrate not in ("auto", "always", "never"):
        raise _fail("proxy.bn_recalibrate", "must be auto, always or never", p.bn_recalibrate)
    if p.threads is not None and p.threads < 1:
        raise _fail("proxy.threads", "must be >= 1", p.threads)
    if q.sampler is not None and q.sampler not in ("tpe", "nsga2", "random"):
        raise _fail("search.sampler", "must be tpe, nsga2 or random", q.sampler)
    if q.trials < 1:
        raise _fail("search.trials", "must be >= 1", q.trials)
    if q.pruner not in ("median", "halving", "none"):
        raise _fail("search.pruner", "must be median, halving or none", q.pruner)
    if q.executor != "local":
        raise _fail("search.executor", "must be local", q.executor)
    if q.workers != 1:
        raise _fail("search.workers", "must be 1 (one worker process per run)", q.workers)
    if q.storage is not None and "://" not in q.storage:
        raise _fail("search.storage", "must be a storage URL such as sqlite:///path/study.db", q.storage)
    g = spec.scale
    if not g.step > 0:
        raise _fail("scale.step", "must be > 0", g.step)
    for name, bounds in (("alpha", g.alpha), ("beta", g.beta), ("gamma", g.gamma)):
        if len(bounds) != 2 or not 1.0 <= bounds[0] <= bounds[1]:
            raise _fail(f"scale.{name}", "must be [low, high] with 1 <= low <= high", list(bounds))
    if not g.target > 0:
        raise _fail("scale.target", "must be > 0", g.target)
    if g.tolerance < 0:
        raise _fail("scale.tolerance", "must be >= 0", g.tolerance)
    if g.phi < 0:
        raise _fail("scale.phi", "must be >= 0", g.phi)


def spec_from_dict(data: Any, *, purpose: str = "search") -> ExperimentSpec:
    """Validate a decoded YAML mapping into an ``ExperimentSpec``.

    ``purpose`` is ``search`` or ``scale``; a scaling spec needs no budget.
    """
    spec: ExperimentSpec = _decode_dataclass(ExperimentSpec, data, "")
    _check(spec, purpose)
    if spec.search.sampler is None:  # pinned explicitly, never left to Optuna's defaults
        sampler = "nsga2" if spec.objective.type == "pareto" else "tpe"
        spec = dataclasses.replace(spec, search=dataclasses.replace(spec.search, sampler=sampler))
    return spec


def load_spec(path: str | Path, *, purpose: str = "search") -> ExperimentSpec:
    """Read and validate a YAML spec (``yaml.safe_load`` only)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise SpecError(f"{path}: invalid YAML{where}") from None
    if data is None:
        raise SpecError(f"{path}: the spec is empty")
    return spec_from_dict(data, purpose=purpose)


def spec_to_dict(spec: ExperimentSpec) -> dict[str, Any]:
    """Plain data (lists, not tuples) with every default written out."""

    def plain(value: Any) -> Any:
        if isinstance(value, tuple):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    out: dict[str, Any] = plain(dataclasses.asdict(spec))
    return out


def dump_spec(spec: ExperimentSpec) -> str:
    """The resolved spec as YAML, keys sorted."""
    return yaml.safe_dump(spec_to_dict(spec), sort_keys=True)
