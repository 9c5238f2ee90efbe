"""Paired gaps and their t intervals, against hand-computed references."""

from __future__ import annotations

import json
import math

import pytest

from nas.measure.stats import paired_gap


def test_three_seeds_against_the_t_table():
    # diffs 0.89, 0.50, 0.75 (the 100M headline's per-seed gaps, in points): mean 0.7133, sd 0.1976;
    # t(0.975, 2) = 4.3027, so the half-width is 4.3027 * 0.1976 / sqrt(3) = 0.4908
    gap = paired_gap({0: 0.89, 1: 0.50, 2: 0.75}, {0: 0.0, 1: 0.0, 2: 0.0})
    assert gap is not None and gap.seeds == 3
    assert gap.mean == pytest.approx(0.71333, abs=1e-4) and gap.std == pytest.approx(0.19757, abs=1e-4)
    assert gap.low == pytest.approx(0.71333 - 0.49080, abs=1e-3) and gap.high == pytest.approx(1.2041, abs=1e-3)
    assert gap.beats and not gap.loses
    assert gap.text(scale=1.0) == "+0.71 points, 95% CI [+0.22, +1.20] (3 seeds)"


def test_an_interval_across_zero_claims_nothing():
    gap = paired_gap({0: 0.5, 1: -0.1, 2: 0.2}, {0: 0.0, 1: 0.0, 2: 0.0})
    assert gap is not None and gap.low < 0 < gap.high and not gap.beats and not gap.loses


def test_only_shared_seeds_pair_and_one_seed_has_no_interval():
    gap = paired_gap({0: 0.9, 1: 0.8}, {1: 0.7, 5: 0.1})
    assert gap is not None and gap.seeds == 1 and gap.mean == pytest.approx(0.1) and math.isnan(gap.low)
    assert not gap.beats and "no interval" in gap.text()
    assert paired_gap({0: 0.9}, {1: 0.7}) is None
    record = gap.as_record()  # JSON has no NaN: the interval one seed cannot give is null
    assert record == {"mean": pytest.approx(0.1), "std": None, "low": None, "high": None, "seeds": 1,
                      "confidence": 0.95}  # fmt: skip
    json.dumps(record, allow_nan=False)
