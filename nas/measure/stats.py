"""Paired comparisons with confidence intervals: what a claim that one network beats another needs.

Two networks trained with the same seeds are compared seed by seed; the gap is the mean of
the per-seed differences, and its 95% interval is Student's t interval of that mean
(``scipy.stats.t``). A network "beats" another only where the interval excludes 0.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass

from scipy import stats

__all__ = ["PairedGap", "gap_from_summary", "paired_gap"]


@dataclass(frozen=True)
class PairedGap:
    """The mean per-seed difference ``a - b``, its sample std, and its t interval (NaN below 2 seeds)."""

    mean: float
    std: float
    low: float
    high: float
    seeds: int
    confidence: float = 0.95

    @property
    def beats(self) -> bool:
        """``a`` beats ``b``: the whole interval lies above 0."""
        return self.low > 0

    @property
    def loses(self) -> bool:
        """``a`` loses to ``b``: the whole interval lies below 0."""
        return self.high < 0

    def as_record(self) -> dict[str, float | int | None]:
        """The fields for a JSON file: an interval that one seed cannot give is null, not NaN."""
        return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in dataclasses.asdict(self).items()}

    def text(self, scale: float = 100.0, unit: str = "points") -> str:
        """``+0.71 points, 95% CI [+0.22, +1.20] (3 seeds)``; ``scale`` turns fractions into points."""
        if self.seeds < 2:
            return f"{scale * self.mean:+.2f} {unit} ({self.seeds} seed, no interval)"
        ci = f"{100 * self.confidence:g}% CI [{scale * self.low:+.2f}, {scale * self.high:+.2f}]"
        return f"{scale * self.mean:+.2f} {unit}, {ci} ({self.seeds} seeds)"


def paired_gap(a: Mapping[int, float], b: Mapping[int, float], *, confidence: float = 0.95) -> PairedGap | None:
    """``a`` minus ``b`` over the seeds both have (``{seed: score}``); None when they share none."""
    diffs = [a[s] - b[s] for s in sorted(a) if s in b]
    if not diffs:
        return None
    mean = statistics.fmean(diffs)
    if len(diffs) < 2:
        return PairedGap(mean, math.nan, math.nan, math.nan, 1, confidence)
    return gap_from_summary(mean, statistics.stdev(diffs), len(diffs), confidence=confidence)


def gap_from_summary(mean: float, std: float, seeds: int, *, confidence: float = 0.95) -> PairedGap:
    """The gap and its t interval from the mean and sample std of ``seeds`` (>= 2) per-seed differences."""
    half = float(stats.t.ppf((1 + confidence) / 2, seeds - 1)) * std / math.sqrt(seeds)
    return PairedGap(mean, std, mean - half, mean + half, seeds, confidence)
