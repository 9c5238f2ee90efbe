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

from search_spaces import BLOCKS, SPACES, ArchitectureError, load_architecture

from .data import DATASETS, DEFAULT_FASHION_MNIST
from .objectives import TRAINING_AWARE

__all__ = [
    "ExperimentSpec",
    "ObjectiveSpec",
    "OutputSpec",
    "ProgressiveSpec",
    "ProxySpec",
    "RaySpec",
    "ScaleSpec",
    "SearchSpec",
    "SpaceSpec",
    "SpecError",
    "StepSpec",
    "TargetSpec",
    "VerifySpec",
    "dump_spec",
    "load_spec",
    "spec_from_dict",
    "spec_to_dict",
]


class SpecError(ValueError):
    """An invalid experiment spec; the message starts with the field path."""


@dataclass(frozen=True)
class SpaceSpec:
    """Which search space, its base, and the choices per dimension (see ``search_spaces.spaces``).

    ``type`` is ``mbconv`` (MnasNet / EfficientNet-B0; base ``efficientnet-b0``) or
    ``training_aware`` (EfficientNetV2; base ``efficientnetv2-s``, plus ``block``, no
    ``width``: channels come from the base). Choices left out take the space's own defaults.
    """

    type: str = "mbconv"
    base: str | None = None
    block: tuple[str, ...] | None = None
    kernel: tuple[int, ...] | None = None
    expand: tuple[int, ...] | None = None
    se: tuple[float, ...] | None = None
    layers: tuple[int, ...] | None = None
    width: tuple[float, ...] | None = None

    @property
    def base_ref(self) -> str:
        """The base architecture's path or preset name."""
        return self.base or DEFAULT_BASE[self.type]

    def given_choices(self) -> dict[str, tuple[Any, ...]]:
        """The choice lists that are set (all of the space's own, once resolved)."""
        names = ("block", "kernel", "expand", "se", "layers", "width")
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}


DEFAULT_BASE = {"mbconv": "efficientnet-b0", "training_aware": "efficientnetv2-s"}


@dataclass(frozen=True)
class StepSpec:
    """How the training step time S is measured (EfficientNetV2's reward, P2 §3.3).

    One forward, backward and optimizer step of ``batch_size`` images at ``resolution``
    (default: the target's) on ``device`` with ``threads`` CPU threads; ``warmup`` untimed
    steps, then the median of ``steps`` timed ones.
    """

    batch_size: int = 16
    resolution: int | None = None
    device: str = "cpu"
    threads: int = 1
    warmup: int = 3
    steps: int = 10


@dataclass(frozen=True)
class TargetSpec:
    """Where the model will run, which is where cost is counted, and the budget.

    At most one budget: ``flops`` (multiply-adds), ``params``, ``latency_ms`` (measured on
    this machine at batch 1) or ``step_time`` (one training step in ms, measured as
    ``step`` says). The cost metric is the budget's; without one, FLOPs (step time for the
    ``training_aware`` objective).
    """

    resolution: int = 224
    num_classes: int = 1000
    flops: float | None = None
    params: float | None = None
    latency_ms: float | None = None
    step_time: float | None = None
    step: StepSpec = field(default_factory=StepSpec)

    @property
    def cost(self) -> str:
        for name in ("flops", "params", "latency_ms", "step_time"):
            if getattr(self, name) is not None:
                return name
        return "flops"

    @property
    def budget(self) -> float | None:
        value: float | None = getattr(self, self.cost)
        return value


@dataclass(frozen=True)
class ObjectiveSpec:
    """``mnas`` (``mode`` soft, hard, or custom with ``alpha``/``beta``), ``pareto``, or
    ``training_aware`` (``A * S**w * P**v``, w = -0.07 and v = -0.05 by default; P2 §3.3)."""

    type: str = "mnas"
    mode: str = "soft"
    alpha: float | None = None
    beta: float | None = None
    w: float | None = None
    v: float | None = None


@dataclass(frozen=True)
class ProgressiveSpec:
    """Progressive learning in the proxy (EfficientNetV2 §4; ``nas.train.progressive_schedule``).

    ``stages`` stages go from ``min_size`` (default half the proxy resolution) to the proxy
    resolution, with dropout, RandAugment magnitude and mixup alpha interpolated between
    their ``[first, last]`` values.
    """

    stages: int = 2
    min_size: int | None = None
    dropout: tuple[float, ...] = (0.1, 0.3)
    randaug: tuple[float, ...] = (0.0, 0.0)
    mixup: tuple[float, ...] = (0.0, 0.0)


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
    progressive: ProgressiveSpec | None = None


@dataclass(frozen=True)
class RaySpec:
    """The Ray Tune executor: a cluster to join (``address``, from ``ray start --head``) or a
    local instance with ``num_cpus``; resources per trial; retries of a trial whose Ray
    worker died (``FailureConfig(max_failures)``)."""

    address: str | None = None
    num_cpus: int | None = None
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    max_failures: int = 1
    max_concurrent_trials: int | None = None


@dataclass(frozen=True)
class SearchSpec:
    """How to search: sampler (default tpe, or nsga2 for pareto), trials, pruner, executor.

    ``pruner`` stops hopeless trials of single-objective searches from their per-epoch proxy
    reward: median or halving with the local executor (default median), ASHA with Ray
    (default asha); multi-objective searches do not prune. ``executor: local`` runs
    ``workers`` processes on a shared storage; ``executor: ray`` runs trials on Ray Tune.
    ``timeout_minutes`` is a wall-clock budget: no trial starts after it (running ones finish).
    """

    sampler: str | None = None
    trials: int = 20
    pruner: str | None = None
    executor: str = "local"
    workers: int = 1
    storage: str | None = None
    timeout_minutes: float | None = None
    ray: RaySpec = field(default_factory=RaySpec)


@dataclass(frozen=True)
class ScaleSpec:
    """The alpha, beta, gamma grid of ``nas scale SPEC.yaml`` and the family it emits (P1 §3.3).

    ``train_members: k`` also trains members phi = 0..k-1 on the proxy, for accuracy against FLOPs.
    """

    step: float = 0.05
    alpha: tuple[float, ...] = (1.0, 2.0)
    beta: tuple[float, ...] = (1.0, 1.5)
    gamma: tuple[float, ...] = (1.0, 1.5)
    target: float = 2.0
    tolerance: float = 0.05
    phi: int = 7
    train_members: int = 0


@dataclass(frozen=True)
class VerifySpec:
    """Top-k re-evaluation after the search (``nas.verify``; MnasNet retrained its top 15).

    Left out, ``enabled`` is on for real datasets (all but ``digits`` and ``synthetic``),
    ``epochs`` is twice the proxy's and ``train_size`` twice the proxy's subset (all the
    training images when the proxy uses all); ``train_size: null`` written out means all.
    """

    enabled: bool | None = None
    top_k: int = 5
    seeds: int = 3
    epochs: int | None = None
    train_size: int | None = None


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
    verify: VerifySpec = field(default_factory=VerifySpec)
    output: OutputSpec = field(default_factory=OutputSpec)

    @property
    def run_dir(self) -> str:
        return self.output.dir or f"runs/{self.name}"

    @property
    def cost_metric(self) -> str:
        """The cost of the report's axis and of ``cost`` in ``trials.csv``."""
        if self.objective.type == "training_aware" and self.target.budget is None:
            return "step_time"
        return self.target.cost


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
    if s.type not in SPACES:
        raise _fail("space.type", f"must be {' or '.join(SPACES)}", s.type)
    try:
        load_architecture(s.base or DEFAULT_BASE[s.type])
    except ArchitectureError as exc:
        raise SpecError(f"space.base: {exc}") from None
    own = {f.name for f in dataclasses.fields(SPACES[s.type])}
    for name in ("block", "width"):
        if getattr(s, name) is not None and name not in own:
            raise _fail(f"space.{name}", f"is not a choice of the {s.type} space", list(getattr(s, name)))
    for name, values, ok, rule in (
        ("block", s.block, lambda v: v in BLOCKS, "blocks must be mbconv or fused_mbconv"),
        ("kernel", s.kernel, lambda v: v >= 1 and v % 2 == 1, "kernels must be odd and >= 1"),
        ("expand", s.expand, lambda v: v >= 1, "expansions must be >= 1"),
        ("se", s.se, lambda v: 0 <= v < 1, "SE ratios must be in [0, 1)"),
        ("width", s.width, lambda v: v > 0, "widths must be > 0"),
        ("layers", s.layers, lambda v: -10 <= v <= 10, "layer deltas must be in [-10, 10]"),
    ):
        if values is None:
            continue
        bad = [v for v in values if not ok(v)]
        if bad:
            raise _fail(f"space.{name}", rule, bad[0])
        if len(set(values)) != len(values):
            raise _fail(f"space.{name}", "choices must be distinct", list(values))
    for name, value in (("resolution", t.resolution), ("num_classes", t.num_classes)):
        if value < 1:
            raise _fail(f"target.{name}", "must be >= 1", value)
    budgets = [n for n in ("flops", "params", "latency_ms", "step_time") if getattr(t, n) is not None]
    if len(budgets) > 1:
        raise _fail("target", "give at most one budget (flops, params, latency_ms or step_time)", budgets)
    for n in budgets:
        if not getattr(t, n) > 0:
            raise _fail(f"target.{n}", "must be > 0", getattr(t, n))
    m = t.step
    for name, value, minimum in (("batch_size", m.batch_size, 1), ("threads", m.threads, 1),
                                 ("warmup", m.warmup, 0), ("steps", m.steps, 1)):  # fmt: skip
        if value < minimum:
            raise _fail(f"target.step.{name}", f"must be >= {minimum}", value)
    if m.resolution is not None and m.resolution < 1:
        raise _fail("target.step.resolution", "must be >= 1", m.resolution)
    if m.device != "cpu" and not m.device.startswith("cuda"):
        raise _fail("target.step.device", "must be cpu or cuda[:N]", m.device)
    if o.type not in ("mnas", "pareto", "training_aware"):
        raise _fail("objective.type", "must be mnas, pareto or training_aware", o.type)
    if o.mode not in ("soft", "hard", "custom"):
        raise _fail("objective.mode", "must be soft, hard or custom", o.mode)
    if purpose == "search" and o.type == "mnas" and t.budget is None:
        raise SpecError(
            "target: objective mnas needs a budget; set target.flops, target.params, target.latency_ms "
            "or target.step_time"
        )
    if o.type == "training_aware":
        if t.budget is not None:
            raise _fail(f"target.{t.cost}", "objective training_aware is normalized by the base, not a budget",
                        t.budget)  # fmt: skip
        if o.mode != "soft" or o.alpha is not None or o.beta is not None:
            raise _fail("objective.mode", "training_aware takes w and v, not mode, alpha or beta", o.mode)
    elif o.w is not None or o.v is not None:
        raise _fail("objective.w", "w and v are only read with type: training_aware", o.w if o.w is not None else o.v)
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
    if p.progressive is not None:
        pg = p.progressive
        if not 1 <= pg.stages <= p.epochs:
            raise _fail("proxy.progressive.stages", f"must be in [1, proxy.epochs = {p.epochs}]", pg.stages)
        if pg.min_size is not None and not 1 <= pg.min_size <= p.resolution:
            raise _fail("proxy.progressive.min_size", f"must be in [1, proxy.resolution = {p.resolution}]",
                        pg.min_size)  # fmt: skip
        for name, bounds, limit in (("dropout", pg.dropout, 1.0), ("randaug", pg.randaug, 30.0),
                                    ("mixup", pg.mixup, math.inf)):  # fmt: skip
            if len(bounds) != 2 or not all(0 <= b < limit for b in bounds):
                raise _fail(f"proxy.progressive.{name}", f"must be [first, last] in [0, {limit:g})", list(bounds))
    if q.sampler is not None and q.sampler not in ("tpe", "nsga2", "random"):
        raise _fail("search.sampler", "must be tpe, nsga2 or random", q.sampler)
    if q.trials < 1:
        raise _fail("search.trials", "must be >= 1", q.trials)
    if q.executor not in ("local", "ray"):
        raise _fail("search.executor", "must be local or ray", q.executor)
    pruners = ("median", "halving", "none") if q.executor == "local" else ("asha", "none")
    if q.pruner is not None and q.pruner not in pruners:
        raise _fail("search.pruner", f"with executor {q.executor} must be {', '.join(pruners)}", q.pruner)
    if q.workers < 1:
        raise _fail("search.workers", "must be >= 1", q.workers)
    if q.timeout_minutes is not None and not q.timeout_minutes > 0:
        raise _fail("search.timeout_minutes", "must be > 0", q.timeout_minutes)
    if purpose == "scale" and q.executor != "local":
        raise _fail("search.executor", "the grid search runs on executor local (with search.workers)", q.executor)
    if q.executor == "ray" and q.workers != 1:
        raise _fail("search.workers", "is for executor local; Ray sizes itself (search.ray.num_cpus)", q.workers)
    ray = q.ray
    for name, count, low in (("num_cpus", ray.num_cpus, 1), ("max_failures", ray.max_failures, 0),
                             ("max_concurrent_trials", ray.max_concurrent_trials, 1)):  # fmt: skip
        if count is not None and count < low:
            raise _fail(f"search.ray.{name}", f"must be >= {low}", count)
    if not ray.cpus_per_trial > 0:
        raise _fail("search.ray.cpus_per_trial", "must be > 0", ray.cpus_per_trial)
    if ray.gpus_per_trial < 0:
        raise _fail("search.ray.gpus_per_trial", "must be >= 0", ray.gpus_per_trial)
    if q.storage is not None and "://" not in q.storage:
        raise _fail("search.storage", "must be a storage URL such as sqlite:///path/study.db", q.storage)
    v = spec.verify
    for name, count in (("top_k", v.top_k), ("seeds", v.seeds), ("epochs", v.epochs), ("train_size", v.train_size)):
        if count is not None and count < 1:
            raise _fail(f"verify.{name}", "must be >= 1", count)
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
    if not 0 <= g.train_members <= g.phi + 1:
        raise _fail("scale.train_members", f"must be in [0, phi + 1 = {g.phi + 1}]", g.train_members)


def _resolve_verify(spec: ExperimentSpec, given: dict[str, Any]) -> VerifySpec:
    """Defaults of the fields the user left out (a written-out ``train_size: null`` means all)."""
    v, p = spec.verify, spec.proxy
    changes: dict[str, Any] = {}
    if v.enabled is None:
        changes["enabled"] = p.dataset not in ("digits", "synthetic")
    if v.epochs is None:
        changes["epochs"] = 2 * p.epochs
    if "train_size" not in given and p.train_size is not None:
        changes["train_size"] = 2 * p.train_size
    return dataclasses.replace(v, **changes)


def _resolve_space(s: SpaceSpec) -> SpaceSpec:
    """Fill the base and every choice left out from the space's own defaults (one source)."""
    own = {f.name: f.default for f in dataclasses.fields(SPACES[s.type]) if f.name != "base"}
    changes: dict[str, Any] = {name: default for name, default in own.items() if getattr(s, name) is None}
    if s.base is None:
        changes["base"] = DEFAULT_BASE[s.type]
    return dataclasses.replace(s, **changes)


def spec_from_dict(data: Any, *, purpose: str = "search") -> ExperimentSpec:
    """Validate a decoded YAML mapping into an ``ExperimentSpec``.

    ``purpose`` is ``search`` or ``scale``; a scaling spec needs no budget.
    """
    spec: ExperimentSpec = _decode_dataclass(ExperimentSpec, data, "")
    _check(spec, purpose)
    given = data.get("verify") if isinstance(data, dict) else None
    spec = dataclasses.replace(spec, verify=_resolve_verify(spec, given if isinstance(given, dict) else {}))
    spec = dataclasses.replace(spec, space=_resolve_space(spec.space))
    o = spec.objective
    if o.type == "training_aware":  # the paper's exponents, written out in the resolved spec
        w, v = TRAINING_AWARE
        spec = dataclasses.replace(spec, objective=dataclasses.replace(o, w=w if o.w is None else o.w,
                                                                          v=v if o.v is None else o.v))  # fmt: skip
    if spec.search.sampler is None:  # pinned explicitly, never left to Optuna's defaults
        sampler = "nsga2" if spec.objective.type == "pareto" else "tpe"
        spec = dataclasses.replace(spec, search=dataclasses.replace(spec.search, sampler=sampler))
    if spec.search.pruner is None:
        pruner = "median" if spec.search.executor == "local" else "asha"
        spec = dataclasses.replace(spec, search=dataclasses.replace(spec.search, pruner=pruner))
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
