"""Where a candidate's accuracy comes from: the ``AccuracySource`` seam.

A trial fits and costs its candidate, then asks a source for its accuracy. A source either
gives one (``Estimate.accuracy``), or declines with its reason (``Estimate.declined``:
the candidate stays untrained, with ``Objective.untrained_values``). What it learns along
the way (a screen score, the earlier trial it recalled) it records at once through
``Progress.record``, so that a trial reported mid-way (every epoch, on Ray) carries it.

The sources here:

- ``ProxyTraining``: train on the proxy task (``nas.training.train``) and take the
  validation accuracy; every epoch goes to the caller's ``Progress``, so a pruner can stop it.
- ``Screened``: score with a cheap estimator first (``nas.measure.estimators``) and hand the
  candidate on only if ``nas.search.screen.decide`` keeps it.
- ``Recalled``: an earlier trial of the run trained the same network: its accuracy stands.

``source_for`` picks the chain from the plan's spec. A new source (inherited supernet
weights, a table of known accuracies, a cache shared between runs) is one more class with
``estimate`` and one more line there; the executors do not change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from nas.measure.estimators import estimate
from nas.plan import RunPlan
from nas.search.screen import ScreenHistory, decide
from nas.training.data import Dataset
from nas.training.train import EpochRecord, TrainConfig, train
from search_spaces import Architecture, architecture_hash

__all__ = [
    "AccuracySource",
    "Estimate",
    "Lookup",
    "Progress",
    "ProxyTraining",
    "Recalled",
    "Screened",
    "SourceFailed",
    "source_for",
]

Lookup = Callable[[str], "tuple[int, float] | None"]
"""``lookup(arch_hash)``: an earlier trial that trained the same network (its number and accuracy), or None."""


class SourceFailed(Exception):
    """The source could not score the candidate (training diverged, ran out of memory, ...)."""


@dataclass(frozen=True)
class Estimate:
    """A source's answer: ``accuracy`` (validation, in [0, 1]) or None with ``declined`` saying why."""

    accuracy: float | None
    declined: str | None = None


class Progress(Protocol):
    """What a source tells its caller while it runs."""

    def record(self, **attrs: Any) -> None:
        """Trial attributes the source has learned (``nas.search.trial.RUN_ATTRS``)."""

    def training_started(self) -> None: ...

    def epoch(self, record: EpochRecord) -> None:
        """After each epoch; it may raise to stop the run (a pruner does)."""


class AccuracySource(Protocol):
    """Anything that can tell a candidate's accuracy on the run's task."""

    def estimate(self, arch: Architecture, progress: Progress) -> Estimate: ...


@dataclass(frozen=True)
class ProxyTraining:
    """Train ``arch`` with ``config`` on ``data()`` (loaded once by the caller) and take its validation accuracy."""

    config: TrainConfig
    data: Callable[[], Dataset]

    def estimate(self, arch: Architecture, progress: Progress) -> Estimate:
        data = self.data()
        progress.training_started()
        result = train(arch, data, self.config, callback=progress.epoch)
        if result.status != "ok":
            raise SourceFailed(result.reason)
        return Estimate(result.val_accuracy)


@dataclass(frozen=True)
class Screened:
    """Score with ``plan.spec.proxy.screen``'s estimator; hand on to ``inner`` only what the screen keeps."""

    inner: AccuracySource
    plan: RunPlan
    data: Callable[[], Dataset]
    history: Callable[[], ScreenHistory]

    def estimate(self, arch: Architecture, progress: Progress) -> Estimate:
        plan, screen = self.plan, self.plan.spec.proxy.screen
        assert screen is not None
        score = estimate(screen.estimator, arch, self.data(), resolution=plan.train.resolution,
                         target_resolution=plan.spec.target.resolution, num_classes=plan.num_classes,
                         batch_size=screen.batch_size, seed=plan.spec.seed)  # fmt: skip
        decision = decide(screen, score.value, self.history())
        progress.record(screen_score=score.value, screen_seconds=score.seconds, screen=decision.note)
        if not decision.train:
            return Estimate(None, declined=decision.note)
        return self.inner.estimate(arch, progress)


@dataclass(frozen=True)
class Recalled:
    """The accuracy of an earlier trial of the same network (``same_as``); else ``inner``'s."""

    inner: AccuracySource
    lookup: Lookup

    def estimate(self, arch: Architecture, progress: Progress) -> Estimate:
        earlier = self.lookup(architecture_hash(arch))
        if earlier is None:
            return self.inner.estimate(arch, progress)
        number, accuracy = earlier
        progress.record(same_as=number)
        return Estimate(accuracy)


def source_for(
    plan: RunPlan,
    data: Callable[[], Dataset],
    *,
    lookup: Lookup | None = None,
    history: Callable[[], ScreenHistory] | None = None,
) -> AccuracySource:
    """The plan's source: proxy training, behind the screen when ``proxy.screen`` is set (and
    the run's ``history`` is known), behind the run's own record of trained networks (``lookup``)."""
    source: AccuracySource = ProxyTraining(plan.train, data)
    if plan.spec.proxy.screen is not None and history is not None:
        source = Screened(source, plan, data, history)
    if lookup is not None:
        source = Recalled(source, lookup)
    return source
