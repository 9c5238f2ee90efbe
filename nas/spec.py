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

from nas.measure.costs import StepSettings
from nas.measure.estimators import ESTIMATORS
from nas.objectives import ABS_BETA, FITTED_OBJECTIVES, KINDS, MNAS_HARD, MNAS_SOFT, TRAINING_AWARE, Objective
from nas.training.data import MAX_CLASSES, DataSpec
from nas.training.train import TrainConfig
from scaling.budget import BUDGET_METRICS
from search_spaces import SPACES, ArchitectureError, load_architecture
from search_spaces.architecture import MAX_RESOLUTION
from search_spaces.files import name_problem, printable

__all__ = [
    "ExperimentSpec",
    "ObjectiveSpec",
    "OutputSpec",
    "ProxySpec",
    "RaySpec",
    "RungSpec",
    "ScaleSpec",
    "SearchSpec",
    "SpaceSpec",
    "SpecError",
    "TargetSpec",
    "VerifySpec",
    "dump_spec",
    "load_spec",
    "spec_from_dict",
    "spec_to_dict",
]


class SpecError(ValueError):
    """An invalid experiment spec; the message starts with the field path."""


def _fail(field_name: str, rule: str, value: Any) -> ValueError:
    """A field's error, relative to its section; the decoder prefixes the section's path."""
    return ValueError(f"{field_name}: {rule}, got {value!r}")


@dataclass(frozen=True)
class SpaceSpec:
    """Which search space, its base, and the choices per dimension (see ``search_spaces.spaces``).

    ``type`` is ``mbconv`` (MnasNet / EfficientNet-B0; base ``efficientnet-b0``) or
    ``training_aware`` (EfficientNetV2; base ``efficientnetv2-s``, plus ``block``, no
    ``width``: channels come from the base). Choices left out take the space's own defaults.
    The choices are validated by the space class itself (one home for each rule).
    """

    type: str = "mbconv"
    base: str | None = None
    block: tuple[str, ...] | None = None
    kernel: tuple[int, ...] | None = None
    expand: tuple[int, ...] | None = None
    se: tuple[float, ...] | None = None
    layers: tuple[int, ...] | None = None
    width: tuple[float, ...] | None = None
    stem: tuple[float, ...] | None = None
    head: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.type not in SPACES:
            raise _fail("type", f"must be {' or '.join(SPACES)}", self.type)
        own = {f.name for f in dataclasses.fields(SPACES[self.type])}
        for name in CHOICES:
            if getattr(self, name) is not None and name not in own:
                raise _fail(name, f"is not a choice of the {self.type} space", list(getattr(self, name)))
        try:
            base = load_architecture(self.base_ref)
        except ArchitectureError as exc:
            raise ValueError(f"base: {exc}") from None
        try:
            SPACES[self.type](base=base, **self.given_choices())
        except ValueError as exc:  # the space's messages name "space.<field>" already
            raise SpecError(str(exc)) from None

    @property
    def base_ref(self) -> str:
        """The base architecture's path or preset name."""
        return self.base or DEFAULT_BASE[self.type]

    def given_choices(self) -> dict[str, tuple[Any, ...]]:
        """The choice lists that are set (all of the space's own, once resolved)."""
        return {n: getattr(self, n) for n in CHOICES if getattr(self, n) is not None}

    def resolved(self) -> SpaceSpec:
        """The base and every choice left out filled in from the space's own defaults (one source)."""
        own = {f.name: f.default for f in dataclasses.fields(SPACES[self.type]) if f.name != "base"}
        changes: dict[str, Any] = {name: default for name, default in own.items() if getattr(self, name) is None}
        if self.base is None:
            changes["base"] = DEFAULT_BASE[self.type]
        return dataclasses.replace(self, **changes)


SAMPLERS = ("tpe", "nsga2", "random", "evolution", "local")
"""Optuna's TPE, NSGA-II and random sampling; regularized evolution and local search (``nas.search.samplers``)."""
DEFAULT_SAMPLERS = {"mnas": "evolution", "training_aware": "tpe", "pareto": "nsga2"}
"""Each objective's sampler when ``search.sampler`` is left out. ``mnas``: regularized evolution,
whose picks trained in full beat random search's at equal search time (+0.64 points, 95% CI
[+0.07, +1.21], 3 search seeds; ``experiments/data/search_vs_random_full/``), where TPE's tied.
The others are not measured that way."""
DEFAULT_BASE = {"mbconv": "efficientnet-b0", "training_aware": "efficientnetv2-s"}
CHOICES = ("block", "kernel", "expand", "se", "layers", "width", "stem", "head")
"""The choice lists a space may take (each space class has its own subset)."""
BUDGETS = ("flops", "params", "latency_ms", "step_time")
STORAGE_SCHEMES = ("sqlite", "postgresql", "mysql", "mariadb", "oracle", "mssql")
MAX_SEED = 2**32 - 1
"""Seeds are in [0, 2**32 - 1]: what numpy, torch and Optuna's samplers all accept."""
MAX_INT = 2**63 - 1
"""Every other integer of a spec fits a signed 64-bit integer (torch and numpy convert to one)."""
MAX_YAML_DEPTH = 50
"""The deepest nesting of lists and mappings a spec file may have (a real spec has 4)."""
"""The databases Optuna's RDBStorage (SQLAlchemy) reaches; ``scheme+driver://`` picks a driver."""


@dataclass(frozen=True)
class TargetSpec:
    """Where the model will run, which is where cost is counted, and the budget.

    At most one budget: ``flops`` (multiply-adds), ``params``, ``latency_ms`` (measured on
    this machine at batch 1) or ``step_time`` (one training step in ms, measured as
    ``step`` says, ``nas.measure.costs.StepSettings``). The cost metric is the budget's; without
    one, FLOPs (step time for the ``training_aware`` objective).

    ``table``: a cost table written by ``nas profile`` (``nas.measure.cost_table``) predicts
    ``latency_ms`` or ``step_time`` instead of measuring each candidate on this machine.
    The run plan reads and checks it (``RunPlan.from_spec``); workers and Ray nodes get its
    entries with the plan and never read the file.

    ``lower``: with a FLOPs or params budget T and the ``mnas`` or ``training_aware``
    objective, every candidate is fitted by one width multiplier into [lower * T, T]
    (``scaling.fit_to_budget``; one too deep for T at any width is made shallower by the
    compound rule), and one that cannot land there is not trained. ``none`` (or
    null) scores ``mnas`` candidates at their sampled cost instead. With ``training_aware``
    the band is the budget (its reward ``A * S**w * P**v`` has no cost term), so it needs
    ``lower``: a search for the fastest-training network of a FLOPs class.
    """

    resolution: int = 224
    num_classes: int = 1000
    flops: float | None = None
    params: float | None = None
    latency_ms: float | None = None
    step_time: float | None = None
    step: StepSettings = field(default_factory=StepSettings)
    lower: float | None = 0.9
    table: str | None = None

    def __post_init__(self) -> None:
        if self.lower is not None and not 0 < self.lower <= 1:
            raise _fail("lower", "must be in (0, 1], or none to score candidates unfitted", self.lower)
        for name, high in (("resolution", MAX_RESOLUTION), ("num_classes", MAX_CLASSES)):
            if getattr(self, name) < 1:
                raise _fail(name, "must be >= 1", getattr(self, name))
            if getattr(self, name) > high:
                raise _fail(name, f"must be <= {high:,}", getattr(self, name))
        given = [n for n in BUDGETS if getattr(self, n) is not None]
        if len(given) > 1:
            raise SpecError(f"target: give at most one budget (flops, params, latency_ms or step_time), got {given}")
        for n in given:
            if not getattr(self, n) > 0:
                raise _fail(n, "must be > 0", getattr(self, n))

    @property
    def cost(self) -> str:
        for name in BUDGETS:
            if getattr(self, name) is not None:
                return name
        return "flops"

    @property
    def budget(self) -> float | None:
        value: float | None = getattr(self, self.cost)
        return value


@dataclass(frozen=True)
class ObjectiveSpec:
    """``mnas`` (``mode`` soft, hard, custom with ``alpha``/``beta``, or abs with ``beta``,
    TuNAS's absolute reward), ``pareto``, or ``training_aware`` (``A * S**w * P**v``, w =
    -0.07 and v = -0.05 by default; P2 §3.3)."""

    type: str = "mnas"
    mode: str = "soft"
    alpha: float | None = None
    beta: float | None = None
    w: float | None = None
    v: float | None = None

    def __post_init__(self) -> None:
        if self.type not in KINDS:
            raise _fail("type", f"must be {', '.join(KINDS[:-1])} or {KINDS[-1]}", self.type)
        if self.mode not in ("soft", "hard", "custom", "abs"):
            raise _fail("mode", "must be soft, hard, custom or abs", self.mode)
        if self.type == "training_aware":
            if self.mode != "soft" or self.alpha is not None or self.beta is not None:
                raise _fail("mode", "training_aware takes w and v, not mode, alpha or beta", self.mode)
        elif self.w is not None or self.v is not None:
            raise _fail(
                "w", "w and v are only read with type: training_aware", self.w if self.w is not None else self.v
            )
        if self.mode == "custom" and (self.alpha is None or self.beta is None):
            raise _fail("alpha", "mode custom needs both alpha and beta", self.alpha)
        if self.mode == "abs" and (self.alpha is not None or (self.beta is not None and not self.beta < 0)):
            raise _fail("beta", "mode abs reads beta only, and it must be < 0", self.beta)
        if self.mode not in ("custom", "abs") and (self.alpha is not None or self.beta is not None):
            raise _fail("mode", "alpha and beta are only read with mode: custom (beta also with abs)", self.mode)

    def objective(self, budget: float | None) -> Objective:
        """The ``Objective`` this section describes, owning ``budget``."""
        if self.type == "pareto":
            return Objective("pareto", budget)
        if self.type == "training_aware":
            w, v = TRAINING_AWARE
            return Objective("training_aware", budget, w=w if self.w is None else self.w,
                             v=v if self.v is None else self.v)  # fmt: skip
        if self.mode == "hard":
            return Objective("mnas", budget, *MNAS_HARD, hard=True)
        if self.mode == "custom":
            assert self.alpha is not None and self.beta is not None  # checked above
            return Objective("mnas", budget, self.alpha, self.beta)
        if self.mode == "abs":
            return Objective("mnas", budget, beta=ABS_BETA if self.beta is None else self.beta, absolute=True)
        return Objective("mnas", budget, *MNAS_SOFT)


@dataclass(frozen=True)
class ScreenSpec:
    """``proxy.screen``: score each fitted candidate with a cheap estimator (``nas.measure.estimators``)
    and train only those whose score ranks in the top ``keep`` share of the candidates scored
    so far. The first ``warmup`` candidates are all trained; from then on, if Kendall's tau
    between the score and the proxy accuracy of the trained candidates falls below
    ``min_tau``, the run warns and stops screening (``nas.search.screen``).
    """

    estimator: str = "synflow"
    keep: float = 0.5
    warmup: int = 10
    min_tau: float = 0.2
    batch_size: int = 64

    def __post_init__(self) -> None:
        if self.estimator not in ESTIMATORS:
            raise _fail("estimator", f"must be one of {', '.join(ESTIMATORS)}", self.estimator)
        if not 0 < self.keep <= 1:
            raise _fail("keep", "must be in (0, 1]", self.keep)
        if self.warmup < 2:
            raise _fail("warmup", "must be >= 2 (a rank correlation needs two trained candidates)", self.warmup)
        if not -1 <= self.min_tau <= 1:
            raise _fail("min_tau", "must be in [-1, 1]", self.min_tau)
        if self.batch_size < 2:
            raise _fail("batch_size", "must be >= 2", self.batch_size)


@dataclass(frozen=True)
class ProxySpec:
    """How accuracy is estimated: the cheap training run of every candidate.

    Written flat in YAML: ``dataset``, ``path``, ``train_size`` and ``val_size`` are the
    data (``nas.training.data.DataSpec``); every other key is a field of the trainer's recipe
    (``nas.training.train.TrainConfig``, whose defaults are the proxy's), but ``seed``: the
    experiment's ``seed`` seeds the proxy, and ``screen`` (``ScreenSpec``; off by default).
    On ``fashion-mnist``, ``mnist`` and ``cifar10``, ``train_size`` and ``epochs`` left out
    are the measured recipe's (``PROXY_TRAIN_SIZE``, ``PROXY_EPOCHS``); ``train_size: null``
    written out means every training image.
    """

    data: DataSpec = field(default_factory=lambda: DataSpec("digits"))
    train: TrainConfig = field(default_factory=TrainConfig)
    screen: ScreenSpec | None = None

    def __post_init__(self) -> None:
        d = self.data
        if d.dataset not in ("digits", "synthetic"):
            path = d.default_path
            if path is None:
                raise _fail("path", f"dataset {d.dataset} needs a path", None)
            if not Path(path).exists():
                raise _fail("path", "does not exist", path)


PROXY_DATA_KEYS = ("dataset", "path", "train_size", "val_size")
PROXY_TRAIN_KEYS = tuple(f.name for f in dataclasses.fields(TrainConfig) if f.name != "seed")

# The default proxy recipe where the source has tens of thousands of training images: the
# recipe (class-balanced subset x epochs, 32 px, the architecture's dropout and drop-path)
# that ranked the ground truth's equal-budget networks best per CPU-minute, chosen on the
# plain-recipe table's validation accuracy: Kendall tau 0.47 at 1.8% of a full run (0.67
# against either table's test accuracy; experiments/data/proxy_fidelity_fashion_mnist.json,
# experiments/README.md "The ground truth and the cheap estimators"). Smaller sources train
# on every image for the trainer's default epochs.
PROXY_RECIPE_DATASETS = ("fashion-mnist", "mnist", "cifar10")
PROXY_TRAIN_SIZE = 5000
PROXY_EPOCHS = 1


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

    def __post_init__(self) -> None:
        for name, low in (("num_cpus", 1), ("max_failures", 0), ("max_concurrent_trials", 1)):
            count = getattr(self, name)
            if count is not None and count < low:
                raise _fail(name, f"must be >= {low}", count)
        if not self.cpus_per_trial > 0:
            raise _fail("cpus_per_trial", "must be > 0", self.cpus_per_trial)
        if self.gpus_per_trial < 0:
            raise _fail("gpus_per_trial", "must be >= 0", self.gpus_per_trial)


@dataclass(frozen=True)
class SearchSpec:
    """How to search: sampler (default ``DEFAULT_SAMPLERS``: evolution for mnas, tpe for training_aware,
    nsga2 for pareto), trials, pruner, executor.

    ``pruner`` stops hopeless trials of single-objective searches from their per-epoch proxy
    reward (or, with ``prune_on: tse``, the negated sum of their training losses so far):
    median, halving or hyperband with the local executor (default median), ASHA with Ray
    (default asha); multi-objective searches do not prune. ``executor: local`` runs
    ``workers`` processes on a shared storage; ``executor: ray`` runs trials on Ray Tune.
    ``timeout_minutes`` is a wall-clock budget: no trial starts after it (running ones finish).
    ``warm_start`` lists presets or architecture files to run first, after the naive network
    (each must be a point of the space up to one uniform width; ``RunPlan.warm_starts``).
    """

    sampler: str | None = None
    trials: int = 20
    pruner: str | None = None
    executor: str = "local"
    workers: int = 1
    storage: str | None = None
    timeout_minutes: float | None = None
    warm_start: tuple[str, ...] | None = None
    prune_on: str = "reward"
    ray: RaySpec = field(default_factory=RaySpec)

    def __post_init__(self) -> None:
        if self.sampler is not None and self.sampler not in SAMPLERS:
            raise _fail("sampler", f"must be {', '.join(SAMPLERS[:-1])} or {SAMPLERS[-1]}", self.sampler)
        if self.trials < 1:
            raise _fail("trials", "must be >= 1", self.trials)
        if self.executor not in ("local", "ray"):
            raise _fail("executor", "must be local or ray", self.executor)
        pruners = ("median", "halving", "hyperband", "none") if self.executor == "local" else ("asha", "none")
        if self.pruner is not None and self.pruner not in pruners:
            raise _fail("pruner", f"with executor {self.executor} must be {', '.join(pruners)}", self.pruner)
        if self.workers < 1:
            raise _fail("workers", "must be >= 1", self.workers)
        if self.prune_on not in ("reward", "tse"):
            raise _fail("prune_on", "must be reward or tse", self.prune_on)
        if self.prune_on == "tse" and self.executor == "ray":
            raise _fail("prune_on", "tse is for executor local (ASHA stops trials on the reward)", self.prune_on)
        if self.executor == "ray" and self.workers != 1:
            raise _fail("workers", "is for executor local; Ray sizes itself (search.ray.num_cpus)", self.workers)
        if self.timeout_minutes is not None and not self.timeout_minutes > 0:
            raise _fail("timeout_minutes", "must be > 0", self.timeout_minutes)
        for i, ref in enumerate(self.warm_start or ()):
            try:
                load_architecture(ref)
            except ArchitectureError as exc:
                raise ValueError(f"warm_start[{i}]: {exc}") from None
        if self.storage is not None:
            scheme = self.storage.partition("://")[0].split("+")[0]
            if "://" not in self.storage or scheme not in STORAGE_SCHEMES:
                raise _fail("storage", f"must be a database URL ({', '.join(STORAGE_SCHEMES)}), such as "
                            "sqlite:///path/study.db", printable(self.storage, limit=120))  # fmt: skip


@dataclass(frozen=True)
class ScaleSpec:
    """The alpha, beta, gamma grid of ``nas scale SPEC.yaml`` and the family it emits (P1 §3.3).

    ``train_members: k`` also trains members phi = 0..k-1 on the proxy, for accuracy against FLOPs.
    ``ratio_tolerance``: each candidate's measured FLOPs ratio (after channel, depth and
    resolution rounding) must lie within it of ``target``, its resolution moved to the nearest
    size where it does, or the candidate is skipped (``scaling.grid.land_candidate``);
    ``none`` keeps every candidate at its nominal size.
    """

    step: float = 0.05
    alpha: tuple[float, float] = (1.0, 2.0)
    beta: tuple[float, float] = (1.0, 1.5)
    gamma: tuple[float, float] = (1.0, 1.5)
    target: float = 2.0
    tolerance: float = 0.05
    ratio_tolerance: float | None = 0.1
    phi: int = 7
    train_members: int = 0

    def __post_init__(self) -> None:
        if not self.step > 0:
            raise _fail("step", "must be > 0", self.step)
        for name in ("alpha", "beta", "gamma"):
            bounds = getattr(self, name)
            if not 1.0 <= bounds[0] <= bounds[1]:
                raise _fail(name, "must be [low, high] with 1 <= low <= high", list(bounds))
        if not self.target > 0:
            raise _fail("target", "must be > 0", self.target)
        if self.tolerance < 0:
            raise _fail("tolerance", "must be >= 0", self.tolerance)
        if self.ratio_tolerance is not None and not self.ratio_tolerance >= 0:
            raise _fail("ratio_tolerance", "must be >= 0 or none", self.ratio_tolerance)
        if self.phi < 0:
            raise _fail("phi", "must be >= 0", self.phi)
        if not 0 <= self.train_members <= self.phi + 1:
            raise _fail("train_members", f"must be in [0, phi + 1 = {self.phi + 1}]", self.train_members)


@dataclass(frozen=True)
class RungSpec:
    """One rung of verification: ``epochs`` epochs on ``train_size`` training images (None: all)."""

    epochs: int
    train_size: int | None = None

    def __post_init__(self) -> None:
        for name in ("epochs", "train_size"):
            count = getattr(self, name)
            if count is not None and count < 1:
                raise _fail(name, "must be >= 1", count)


@dataclass(frozen=True)
class VerifySpec:
    """Top-k re-evaluation after the search (``nas.search.verify``; MnasNet retrained its top 15).

    Left out, ``enabled`` is on for real datasets (all but ``digits`` and ``synthetic``),
    ``epochs`` is twice the proxy's and ``train_size`` twice the proxy's subset (all the
    training images when the proxy uses all); ``train_size: null`` written out means all.

    ``rungs`` (successive halving, as in ASHA and BOHB): the top k climb rungs of growing
    training, and after each rung only the best ``promote`` share of them (at least one)
    goes on; the last rung decides, and the naive networks run on it alone. ``epochs`` and
    ``train_size`` are then the last rung's. Left out: one rung, ``epochs`` on ``train_size``
    (``RunPlan.verify_ladder``).
    """

    enabled: bool | None = None
    top_k: int = 5
    seeds: int = 3
    epochs: int | None = None
    train_size: int | None = None
    rungs: tuple[RungSpec, ...] | None = None
    promote: float = 1 / 3

    def __post_init__(self) -> None:
        for name in ("top_k", "seeds", "epochs", "train_size"):
            count = getattr(self, name)
            if count is not None and count < 1:
                raise _fail(name, "must be >= 1", count)
        if not 0 < self.promote <= 1:
            raise _fail("promote", "must be in (0, 1]", self.promote)
        if self.rungs is not None:
            last = self.rungs[-1]
            for name in ("epochs", "train_size"):
                given = getattr(self, name)
                if given is not None and given != getattr(last, name):
                    raise _fail(name, f"must be the last rung's ({getattr(last, name)}) when rungs are given", given)


@dataclass(frozen=True)
class FamilySpec:
    """``nas run``'s family: the choice compound-scaled to members phi = 0..``phi`` (P1 §3.3, Eq. 3).

    ``coefficients`` are alpha, beta, gamma (depth, width, resolution); EfficientNet's own
    1.2, 1.1, 1.15 by default. ``phi: 0`` (the default) trains the choice alone.
    """

    phi: int = 0
    coefficients: tuple[float, float, float] = (1.2, 1.1, 1.15)

    def __post_init__(self) -> None:
        if not 0 <= self.phi <= 7:
            raise _fail("phi", "must be in [0, 7]", self.phi)
        if not all(math.isfinite(c) and c >= 1.0 for c in self.coefficients):
            raise _fail("coefficients", "must be three numbers >= 1 (alpha, beta, gamma)", list(self.coefficients))


FINAL_RECIPES = ("own", "plain")


@dataclass(frozen=True)
class FinalSpec:
    """``nas run``'s final training of the choice, its family and the naive networks at the same costs.

    Every training image (the dataset's validation split held out), ``epochs`` epochs at
    ``resolution`` (the proxy's when left out), ``seeds`` seeds; test is scored once per run.
    ``recipe: own`` keeps each architecture's dropout and drop-path, ``plain`` trains with
    neither (AdamW one-cycle both). ``progressive`` trains with EfficientNetV2's progressive
    learning (its default schedule); ``compare_progressive`` trains the found networks both
    ways, at equal epochs, and reports time and accuracy side by side. ``workers`` runs train
    side by side (``train_many``).
    """

    epochs: int = 10
    seeds: int = 3
    resolution: int | None = None
    recipe: str = "own"
    progressive: bool = False
    compare_progressive: bool = False
    workers: int = 1

    def __post_init__(self) -> None:
        for name, high in (("epochs", 10_000), ("seeds", 100), ("workers", 256)):
            value = getattr(self, name)
            if not 1 <= value <= high:
                raise _fail(name, f"must be in [1, {high:,}]", value)
        if self.resolution is not None and not 1 <= self.resolution <= MAX_RESOLUTION:
            raise _fail("resolution", f"must be in [1, {MAX_RESOLUTION}]", self.resolution)
        if self.recipe not in FINAL_RECIPES:
            raise _fail("recipe", f"must be one of {', '.join(FINAL_RECIPES)}", self.recipe)
        if self.progressive and self.compare_progressive:
            raise _fail("compare_progressive", "compares progressive with fixed-size training; set progressive: "
                        "false", self.compare_progressive)  # fmt: skip


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
    family: FamilySpec = field(default_factory=FamilySpec)
    final: FinalSpec = field(default_factory=FinalSpec)
    output: OutputSpec = field(default_factory=OutputSpec)

    def __post_init__(self) -> None:
        problem = name_problem(self.name)
        if problem is not None:
            raise ValueError(f"name: {problem}, got {printable(repr(self.name), limit=80)}")
        if not 0 <= self.seed <= MAX_SEED:
            raise SpecError(f"seed: must be in [0, 2**32 - 1], got {printable(str(self.seed), limit=40)}")
        t = self.target
        if t.table is not None and self.cost_metric not in ("latency_ms", "step_time"):
            raise SpecError(f"target.table: predicts latency_ms or step_time (or the training_aware objective's step "
                            f"time); this search's cost is {self.cost_metric}, counted exactly")  # fmt: skip
        if self.objective.type == "training_aware" and t.budget is not None:
            if t.cost not in BUDGET_METRICS:
                raise SpecError(f"target.{t.cost}: objective training_aware measures step time itself; its budget "
                                f"is a FLOPs or params band candidates are fitted into, got {t.budget!r}")  # fmt: skip
            if t.lower is None:
                raise SpecError(f"target.lower: objective training_aware takes a {t.cost} budget only as a band, "
                                "[lower x budget, budget], its candidates are fitted into; got none")  # fmt: skip

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
    """Check ``value`` against the annotation ``tp`` (int, float, str, bool, X | None,
    tuple[X, ...], a fixed tuple[X, X], or a dataclass)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None or (value == "none" and options[0] in (int, float)):  # YAML's none: no value
            return None
        return _decode(options[0], value, path)
    if origin is tuple:
        items = typing.get_args(tp)
        if not isinstance(value, list):
            raise SpecError(f"{path}: must be a list, got {value!r}")
        if Ellipsis not in items and len(value) != len(items):
            shape = "[first, last]" if len(items) == 2 else f"a list of {len(items)} numbers"
            raise SpecError(f"{path}: must be {shape}, got {value!r}")
        if not value:
            raise SpecError(f"{path}: must list at least one choice, got []")
        return tuple(_decode(items[0], v, f"{path}[{i}]") for i, v in enumerate(value))
    if tp is ProxySpec:
        return _decode_proxy(value, path)
    if dataclasses.is_dataclass(tp):
        return _decode_dataclass(tp, value, path)
    ok = {
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, (int, float)) and not isinstance(value, bool),
        str: isinstance(value, str),
        bool: isinstance(value, bool),
    }[tp]
    if not ok:
        raise SpecError(f"{path}: must be {_type_name(tp)}, got {printable(repr(value), limit=80)}")
    if tp is int and abs(value) > MAX_INT:
        raise SpecError(f"{path}: must be at most 2**63 - 1 in size, got {printable(str(value), limit=40)}")
    if tp is float:
        if not math.isfinite(value):
            raise SpecError(f"{path}: must be a finite number, got {value!r}")
        return float(value)
    return value


def _mapping(value: Any, path: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    """``value`` as a mapping whose keys are all ``allowed`` (None is an empty section)."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise SpecError(f"{path or 'spec'}: must be a mapping, got {value!r}")
    for key in value:
        if key not in allowed:
            where = f"{path}.{key}" if path else str(key)
            raise SpecError(f"{where}: unknown key (allowed: {', '.join(allowed)})")
    return value


def _construct(cls: Any, value: dict[str, Any], path: str) -> Any:
    """Decode each field of ``cls`` given in ``value``; the class validates itself, and a
    ``ValueError`` it raises (``field: rule, got value``) is reported under ``path``."""
    hints = typing.get_type_hints(cls)
    kwargs = {k: _decode(hints[k], v, f"{path}.{k}" if path else k) for k, v in value.items()}
    try:
        return cls(**kwargs)
    except SpecError:
        raise
    except ValueError as exc:
        raise SpecError(f"{path}.{exc}" if path else str(exc)) from None


def _decode_dataclass(cls: Any, value: Any, path: str) -> Any:
    return _construct(cls, _mapping(value, path, tuple(f.name for f in dataclasses.fields(cls))), path)


def _decode_proxy(value: Any, path: str) -> ProxySpec:
    """The flat ``proxy`` section: data keys to a ``DataSpec``, the rest to a ``TrainConfig``."""
    value = _mapping(value, path, (*PROXY_DATA_KEYS, *PROXY_TRAIN_KEYS, "screen"))
    data_keys = {"dataset": "digits", **{k: v for k, v in value.items() if k in PROXY_DATA_KEYS}}
    train_keys = {k: v for k, v in value.items() if k in PROXY_TRAIN_KEYS}
    if data_keys["dataset"] in PROXY_RECIPE_DATASETS:  # the measured recipe, for what the user left out
        data_keys = {"train_size": PROXY_TRAIN_SIZE, **data_keys}
        train_keys = {"epochs": PROXY_EPOCHS, **train_keys}
    data = _construct(DataSpec, data_keys, path)
    train = _construct(TrainConfig, train_keys, path)
    screen = _decode(ScreenSpec | None, value.get("screen"), f"{path}.screen")
    try:
        return ProxySpec(data=data, train=train, screen=screen)
    except ValueError as exc:
        raise SpecError(f"{path}.{exc}") from None


# --------------------------------------------------------------------------- resolution

PURPOSES = ("search", "scale")


def _resolve_verify(spec: ExperimentSpec, given: dict[str, Any]) -> VerifySpec:
    """Defaults of the fields the user left out (a written-out ``train_size: null`` means all)."""
    v, data, train = spec.verify, spec.proxy.data, spec.proxy.train
    changes: dict[str, Any] = {}
    if v.enabled is None:
        changes["enabled"] = data.dataset not in ("digits", "synthetic")
    if v.rungs is not None:  # the last rung's recipe, written out
        return dataclasses.replace(v, **changes, epochs=v.rungs[-1].epochs, train_size=v.rungs[-1].train_size)
    if v.epochs is None:
        changes["epochs"] = 2 * train.epochs
    if "train_size" not in given and data.train_size is not None:
        changes["train_size"] = 2 * data.train_size
    return dataclasses.replace(v, **changes)


def _budget_layers(spec: ExperimentSpec, given_space: dict[str, Any]) -> tuple[int, ...] | None:
    """A budgeted search's layer choices, centred on the budget rather than on the base's depth.

    Where candidates are fitted to a FLOPs or params budget and ``space.layers`` is left
    out, the per-stage deltas reach one block in every stage, span every naive rule's network
    at the budget (``scaling.NAIVE_RULES``: EfficientNet's compound rule scaled down has one
    block in most stages, width-only scaling keeps the base's depth) and go one block above,
    so that each naive network is a point of the space and the warm start enqueues it.
    Otherwise None.
    """
    from scaling import NAIVE_RULES, scale_to_budget

    t, o = spec.target, spec.objective
    metric = "flops" if t.flops is not None else "params" if t.params is not None else None
    if "layers" in given_space or metric is None or t.lower is None or o.type not in FITTED_OBJECTIVES:
        return None
    base = load_architecture(spec.space.base_ref)
    budget = t.flops if metric == "flops" else t.params
    deltas = [0]
    for rule in NAIVE_RULES:
        try:
            naive = scale_to_budget(base, float(budget), rule=rule, metric=metric, resolution=t.resolution,  # type: ignore[arg-type]
                                    num_classes=t.num_classes).arch  # fmt: skip
        except ValueError:  # the base cannot get that small by this rule
            continue
        deltas += [n.repeats - b.repeats for n, b in zip(naive.stages, base.stages, strict=True)]
    one_block = 1 - max(stage.repeats for stage in base.stages)  # every stage reaches a single block
    return tuple(range(min(*deltas, one_block), max(deltas) + 2))


def spec_from_dict(data: Any, *, purpose: str = "search") -> ExperimentSpec:
    """Validate a decoded YAML mapping into an ``ExperimentSpec`` with every default resolved.

    ``purpose`` is ``search`` or ``scale``: a search with the ``mnas`` objective needs a
    budget; the grid search of a scaling spec runs on the local executor.
    """
    if purpose not in PURPOSES:
        raise ValueError(f"purpose: must be search or scale, got {purpose!r}")
    spec: ExperimentSpec = _decode_dataclass(ExperimentSpec, data, "")
    if purpose == "search" and spec.objective.type == "mnas" and spec.target.budget is None:
        raise SpecError(
            "target: objective mnas needs a budget; set target.flops, target.params, target.latency_ms "
            "or target.step_time"
        )
    if purpose == "scale" and spec.search.executor != "local":
        raise SpecError(f"search.executor: the grid search runs on executor local (with search.workers), "
                        f"got {spec.search.executor!r}")  # fmt: skip
    given = data.get("verify") if isinstance(data, dict) else None
    spec = dataclasses.replace(spec, verify=_resolve_verify(spec, given if isinstance(given, dict) else {}))
    given_space = data.get("space") if isinstance(data, dict) else None
    layers = _budget_layers(spec, given_space if isinstance(given_space, dict) else {})
    spec = dataclasses.replace(spec, space=dataclasses.replace(spec.space, layers=layers or spec.space.layers))
    spec = dataclasses.replace(spec, space=spec.space.resolved())
    o = spec.objective
    if o.type == "training_aware":  # the paper's exponents, written out in the resolved spec
        w, v = TRAINING_AWARE
        spec = dataclasses.replace(spec, objective=dataclasses.replace(o, w=w if o.w is None else o.w,
                                                                          v=v if o.v is None else o.v))  # fmt: skip
    search = spec.search
    if spec.objective.type == "pareto" and search.sampler in ("evolution", "local"):
        raise SpecError(f"search.sampler: {search.sampler} is for one-objective searches; a pareto search "
                        "takes nsga2, tpe or random")  # fmt: skip
    if search.sampler is None:  # pinned explicitly, never left to Optuna's defaults
        search = dataclasses.replace(search, sampler=DEFAULT_SAMPLERS[spec.objective.type])
    if search.pruner is None:
        search = dataclasses.replace(search, pruner="median" if search.executor == "local" else "asha")
    return dataclasses.replace(spec, search=search)


def load_spec(path: str | Path, *, purpose: str = "search") -> ExperimentSpec:
    """Read and validate a YAML spec (``yaml.safe_load`` only)."""
    return spec_from_dict(read_spec_data(path), purpose=purpose)


class _TooDeep(Exception):
    def __init__(self, line: int) -> None:
        self.line = line


class _SpecLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` (what ``yaml.safe_load`` uses) that refuses nesting deeper than
    ``MAX_YAML_DEPTH`` while composing, before Python's recursion limit is reached."""

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise _TooDeep(self.peek_event().start_mark.line + 1)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def read_spec_data(path: str | Path) -> Any:
    """A spec file's YAML data, not yet validated (``yaml.safe_load`` only)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
    try:
        data = yaml.load(text, Loader=_SpecLoader)  # yaml.safe_load's loader, with a depth limit
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise SpecError(f"{path}: invalid YAML{where}") from None
    except _TooDeep as exc:
        raise SpecError(f"{path}: nested deeper than {MAX_YAML_DEPTH} levels at line {exc.line}") from None
    except (ValueError, RecursionError) as exc:  # an integer of more than 4,300 digits, ...
        raise SpecError(f"{path}: unreadable YAML ({printable(str(exc).splitlines()[0], limit=120)})") from None
    if data is None:
        raise SpecError(f"{path}: the spec is empty")
    return data


def spec_to_dict(spec: ExperimentSpec) -> dict[str, Any]:
    """Plain data (lists, not tuples) with every default written out; ``proxy`` flat, as in YAML."""

    def plain(value: Any) -> Any:
        if isinstance(value, tuple):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    out: dict[str, Any] = plain(dataclasses.asdict(spec))
    proxy = out.pop("proxy")
    out["proxy"] = {**{k: proxy["data"][k] for k in PROXY_DATA_KEYS},
                    **{k: proxy["train"][k] for k in PROXY_TRAIN_KEYS}, "screen": proxy["screen"]}  # fmt: skip
    return out


def dump_spec(spec: ExperimentSpec) -> str:
    """The resolved spec as YAML, keys sorted."""
    return yaml.safe_dump(spec_to_dict(spec), sort_keys=True)
