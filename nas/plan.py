"""The run plan: an experiment spec resolved once into what every part of a run reads.

``RunPlan.from_spec`` builds, from a validated spec, the search space around its base (at
the target resolution), the ``Objective`` with its budget, the proxy's trainer recipe
(seeded with the experiment's seed), the step-time settings (at the target resolution
unless given) and the proxy's data. Executors, verification, reports and the scaling run
take the plan. Other processes (local workers, Ray trials, the grid's pool) receive it
through one path: ``to_wire`` (plain data) and ``from_wire``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nas.measure.cost_table import CostTable, TableError, space_layers
from nas.measure.costs import StepSettings, StepTime, StepTimeCache
from nas.objectives import FITTED_OBJECTIVES, Objective
from nas.spec import ExperimentSpec, RungSpec, SpecError, load_spec, spec_from_dict, spec_to_dict
from nas.training.data import DataError, Dataset, DataSpec, load_dataset
from nas.training.threads import worker_threads
from nas.training.train import TrainConfig
from scaling.budget import BUDGET_METRICS, Fit, fit_to_budget, scale_to_budget
from search_spaces import SPACES, Architecture, ArchitectureError, Space, load_architecture
from search_spaces.files import printable

__all__ = ["RunPlan"]


@dataclass(frozen=True)
class RunPlan:
    """One experiment, resolved: the spec and the objects built from it, once.

    ``purpose`` is ``search`` or ``scale`` (what the spec was validated for).
    """

    spec: ExperimentSpec
    purpose: str
    space: Space
    objective: Objective
    train: TrainConfig
    step: StepSettings
    data: DataSpec
    table: CostTable | None = None

    @classmethod
    def from_spec(
        cls, spec: ExperimentSpec, *, purpose: str = "search", table: dict[str, Any] | None = None
    ) -> RunPlan:
        """Resolve ``spec``; ``table`` is the cost table's content where it travels with the plan
        (``to_wire``), else ``target.table`` is read from its file."""
        s, t = spec.space, spec.target
        base = dataclasses.replace(load_architecture(s.base_ref), resolution=t.resolution)
        plan = cls(
            spec=spec,
            purpose=purpose,
            space=SPACES[s.type](base=base, **s.given_choices()),
            objective=spec.objective.objective(t.budget),
            train=dataclasses.replace(spec.proxy.train, seed=spec.seed),
            step=t.step if t.step.resolution is not None else dataclasses.replace(t.step, resolution=t.resolution),
            data=spec.proxy.data,
        )
        if t.table is None:
            return plan
        try:
            if table is not None:  # from the plan that read and checked the file: not checked again
                return dataclasses.replace(plan, table=CostTable.from_dict(table, source=t.table))
            cost_table = CostTable.load(t.table)
            cost_table.check(base, set(space_layers(plan.space, resolution=t.resolution, multipliers=None)),
                             plan.table_settings())  # fmt: skip
        except TableError as exc:
            raise SpecError(f"target.table: {exc}") from None
        return dataclasses.replace(plan, table=cost_table)

    def table_settings(self) -> dict[str, Any]:
        """What a cost table must have been measured with to predict this search's cost: a
        training step as ``target.step`` times it (batch, threads, the proxy's optimizer),
        or a batch-1, one-thread forward pass (MnasNet's latency, PM §5)."""
        t = self.spec.target
        common = {"resolution": t.resolution, "num_classes": t.num_classes, "in_channels": 3}
        if self.cost_metric == "step_time":
            step = {"batch_size": self.step.batch_size, "threads": self.step.threads, "optimizer": self.train.optimizer}
            return {"mode": "step", **common, **step}
        return {"mode": "latency", **common, "batch_size": 1, "threads": 1}

    @classmethod
    def load(cls, path: str | Path, *, purpose: str = "search") -> RunPlan:
        """Read, validate and resolve a YAML spec (warm starts included: ``warm_starts``)."""
        plan = cls.from_spec(load_spec(path, purpose=purpose), purpose=purpose)
        plan.warm_starts()
        return plan

    def to_wire(self) -> dict[str, Any]:
        """The plan as plain data for another process (``from_wire`` rebuilds it)."""
        wire: dict[str, Any] = {"purpose": self.purpose, "spec": spec_to_dict(self.spec)}
        if self.table is not None:  # every worker and Ray node predicts from the same entries
            wire["table"] = self.table.to_dict()
        return wire

    @classmethod
    def from_wire(cls, wire: dict[str, Any]) -> RunPlan:
        purpose = str(wire["purpose"])
        return cls.from_spec(spec_from_dict(wire["spec"], purpose=purpose), purpose=purpose, table=wire.get("table"))

    # ------------------------------------------------------------------ what a run reads

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def num_classes(self) -> int:
        """The target's class count: where costs are counted."""
        return self.spec.target.num_classes

    @property
    def cost_metric(self) -> str:
        return self.spec.cost_metric

    @property
    def base(self) -> Architecture:
        """The space's base network, at the target resolution."""
        return self.space.base

    @property
    def fits(self) -> bool:
        """Whether candidates are fitted to the budget: a FLOPs or params budget, ``target.lower``
        set, and a one-reward objective (``mnas`` or ``training_aware``; a Pareto search wants
        costs to vary)."""
        return (self.objective.kind in FITTED_OBJECTIVES and self.objective.budget is not None
                and self.cost_metric in BUDGET_METRICS and self.spec.target.lower is not None)  # fmt: skip

    def fit(self, arch: Architecture, *, lower: float | None = None) -> Fit:
        """``arch`` fitted by one width multiplier into [lower * T, T] at the target (``scaling.fit_to_budget``).

        ``lower`` defaults to ``target.lower``. Where channel rounding leaves the fit below the
        band, it is widened 8 channels at a time in single stages until it lands
        (``scaling.adjust_into_band``). A network too deep for the budget even at its narrowest
        widths is made shallower and narrower together by EfficientNet's compound rule (P1 Eq. 3)
        instead of being lost. ``FitError`` for a network that still cannot land.
        """
        t = self.spec.target
        assert self.objective.budget is not None
        band = t.lower if lower is None else lower
        return fit_to_budget(arch, self.objective.budget, lower=band or 0.0, metric=self.cost_metric,
                             resolution=t.resolution, num_classes=t.num_classes, name=arch.name,
                             adjust=True, shallower=True)  # fmt: skip

    def naive(self, rule: str = "width") -> Fit:
        """A naive network: the base scaled to the budget by ``rule`` (``scaling.scale_to_budget``;
        ``width``, the default, is the base uniformly width-scaled, trial 0 of a fitted search)."""
        t = self.spec.target
        assert self.objective.budget is not None and self.cost_metric in BUDGET_METRICS
        return scale_to_budget(self.base, self.objective.budget, rule=rule, metric=self.cost_metric,
                               resolution=t.resolution, num_classes=t.num_classes)  # fmt: skip

    def warm_starts(self) -> list[tuple[str, dict[str, Any]]]:
        """``search.warm_start``'s presets and files, each as its point of the space: widths up to
        one uniform multiplier where candidates are fitted (the fit removes it), exact otherwise.

        Raises ``SpecError`` naming the entry and what is not a choice of the space.
        """
        points = []
        for i, ref in enumerate(self.spec.search.warm_start or ()):
            try:
                points.append((ref, self.space.params_of(load_architecture(ref), uniform=self.fits)))
            except (ValueError, ArchitectureError) as exc:
                raise SpecError(f"search.warm_start[{i}]: {printable(ref, limit=80)} is not a point of the "
                                f"{self.spec.space.type} space: {exc}") from None  # fmt: skip
        return points

    def worker_threads(self, workers: int = 1, *, cpus: float | None = None) -> int:
        """Torch threads for each of ``workers`` training processes, or for a Ray trial given
        ``cpus``: ``proxy.threads`` where set, else the machine's share (``nas.training.threads``)."""
        return worker_threads(workers, cpus=cpus, given=self.train.threads)

    @property
    def measures_steps(self) -> bool:
        """Whether trials measure the training step time (a step-time budget, or S of the reward)."""
        return self.cost_metric == "step_time" or self.objective.uses_ratios

    def step_time(self, cache: StepTimeCache, arch: Architecture) -> StepTime:
        """The step time of ``arch`` under the plan's settings, through ``cache``."""
        return cache.measure(arch, self.step, num_classes=self.num_classes, optimizer=self.train.optimizer)

    def load_data(self) -> Dataset:
        """The proxy's dataset (the training subset drawn with the experiment's seed)."""
        return load_dataset(self.data, seed=self.spec.seed)

    @property
    def verify_ladder(self) -> tuple[RungSpec, ...]:
        """The rungs verification climbs: ``verify.rungs``, or the one rung ``verify.epochs``
        (the proxy's epochs when unset) on ``verify.train_size`` images."""
        v = self.spec.verify
        return v.rungs or (RungSpec(epochs=v.epochs or self.train.epochs, train_size=v.train_size),)

    @property
    def final_rung(self) -> int:
        """The verification rung that decides (the last of ``verify_ladder``)."""
        return len(self.verify_ladder) - 1

    def verify_train(self, seed: int, rung: int = 0) -> TrainConfig:
        """Verification's recipe on rung ``rung``: the proxy's, for the rung's epochs, with ``seed``."""
        epochs = self.verify_ladder[rung].epochs
        progressive = self.train.progressive
        if progressive is not None and progressive.stages is not None:
            progressive = dataclasses.replace(progressive, stages=min(progressive.stages, epochs))
        return dataclasses.replace(self.train, epochs=epochs, seed=seed, progressive=progressive)

    def load_verify_data(self, log: Callable[[str], None] = print, rung: int = 0) -> Dataset:
        """Verification's dataset on rung ``rung``: the rung's ``train_size`` images, or all
        when the source has fewer."""
        data = dataclasses.replace(self.data, train_size=self.verify_ladder[rung].train_size)
        try:
            return load_dataset(data, seed=self.spec.seed)
        except DataError as exc:
            if "exceeds" not in str(exc):
                raise
            log(f"verification: {exc}; using every training image")
            return load_dataset(dataclasses.replace(data, train_size=None), seed=self.spec.seed)
