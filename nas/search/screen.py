"""Screening (``proxy.screen``): train only the candidates a cheap estimator ranks high.

Each fitted candidate is scored by the spec's estimator (``nas.measure.estimators``, seconds on
CPU) before it is trained. The first ``warmup`` candidates are all trained, so that the
score's rank correlation with the proxy accuracy can be measured on the run's own data.
From then on a candidate is trained only if its score lies in the top ``keep`` share of
every score seen so far (itself included); the rest are recorded with their score and
reason, reward 0, untrained. If Kendall's tau between score and proxy accuracy over the
trained candidates falls below ``min_tau``, screening stops: the run warns, and every
later candidate is trained. The screen is only as good as that correlation, which
``experiments/benchmarks/proxy_fidelity.py`` measures against a ground-truth table.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from optuna.trial import FrozenTrial, TrialState

from nas.measure.ranking import kendall_tau
from nas.spec import ScreenSpec

__all__ = ["Decision", "ScreenHistory", "decide", "screen_history"]


@dataclass(frozen=True)
class ScreenHistory:
    """What earlier candidates of the run tell the screen.

    ``scores``: every candidate's score so far; ``trained``: (score, proxy accuracy) of the
    candidates trained after being scored (not those that took an earlier trial's result).
    """

    scores: tuple[float, ...] = ()
    trained: tuple[tuple[float, float], ...] = ()

    def to_wire(self) -> list[list[float]]:
        return [list(self.scores), [x for pair in self.trained for x in pair]]

    @classmethod
    def from_wire(cls, wire: list[list[float]]) -> ScreenHistory:
        scores, flat = wire
        return cls(tuple(scores), tuple(zip(flat[::2], flat[1::2], strict=True)))

    def tau(self) -> float:
        """Kendall's tau between score and proxy accuracy over the trained candidates."""
        return kendall_tau([s for s, _ in self.trained], [a for _, a in self.trained])


def screen_history(trials: Iterable[FrozenTrial]) -> ScreenHistory:
    """The history of finished trials, from their ``screen_score``, ``accuracy`` and ``same_as``
    (a pruned trial's score counts; its partial accuracy does not)."""
    scores, trained = [], []
    for t in sorted(trials, key=lambda t: t.number):
        score = t.user_attrs.get("screen_score")
        if score is None or not math.isfinite(float(score)):
            continue
        scores.append(float(score))
        accuracy = t.user_attrs.get("accuracy")
        complete = t.state == TrialState.COMPLETE and t.user_attrs.get("same_as") is None
        if complete and accuracy is not None and math.isfinite(float(accuracy)):
            trained.append((float(score), float(accuracy)))
    return ScreenHistory(tuple(scores), tuple(trained))


@dataclass(frozen=True)
class Decision:
    """Whether to train a scored candidate, and why (for ``trials.csv`` and the log)."""

    train: bool
    note: str
    tau: float | None = None


def decide(spec: ScreenSpec, score: float, history: ScreenHistory) -> Decision:
    """Train the candidate scored ``score``, or screen it out (see the module's rule)."""
    if len(history.trained) < spec.warmup:
        return Decision(True, f"warm-up: {len(history.trained)} of {spec.warmup} candidates trained")
    tau = history.tau()
    if tau < spec.min_tau:
        return Decision(True, f"screening stopped: Kendall tau {tau:.2f} between {spec.estimator} and proxy "
                              f"accuracy over {len(history.trained)} trained candidates is below "
                              f"min_tau {spec.min_tau:g}", tau)  # fmt: skip
    scores = sorted([*history.scores, score], reverse=True)
    threshold = scores[max(0, math.ceil(spec.keep * len(scores)) - 1)]
    if score >= threshold:
        return Decision(True, f"kept: {spec.estimator} {score:.4g} in the top {spec.keep:.0%}", tau)
    return Decision(False, f"screened out: {spec.estimator} {score:.4g} below the top {spec.keep:.0%} of "
                           f"{len(scores)} scored (>= {threshold:.4g}); tau so far {tau:.2f}", tau)  # fmt: skip
