"""Measured training step time: a positive median and spread, the cache, and the settings key."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from nas.measure.costs import StepSettings, StepTimeCache, measure_step_time
from search_spaces import load_architecture

ROOT = Path(__file__).resolve().parents[3]
TINY = load_architecture(ROOT / "tests/fixtures/tiny-base.json")
FAST = StepSettings(batch_size=4, resolution=16, warmup=1, steps=5)
KW = {"num_classes": 10, "optimizer": "adamw"}


def test_step_time_of_a_tiny_net_has_a_positive_median_and_spread():
    measured = measure_step_time(TINY, FAST, num_classes=10)
    assert len(measured.times_ms) == 5 and all(t > 0 for t in measured.times_ms)
    assert min(measured.times_ms) <= measured.median_ms <= max(measured.times_ms)
    assert 0 <= measured.iqr_ms <= max(measured.times_ms) - min(measured.times_ms)
    assert measured.relative_iqr == measured.iqr_ms / measured.median_ms


def test_bigger_work_takes_longer():
    small = measure_step_time(TINY, FAST, num_classes=10).median_ms
    large = measure_step_time(TINY, dataclasses.replace(FAST, batch_size=32, resolution=64), num_classes=10).median_ms
    assert large > 2 * small  # 64x the pixels: clearly slower, well beyond timing noise


def test_cache_hits_by_architecture_and_settings(tmp_path):
    path = tmp_path / "step_times.jsonl"
    cache = StepTimeCache(path)
    first = cache.measure(TINY, FAST, **KW)
    renamed = dataclasses.replace(TINY, name="same-network")
    assert cache.measure(renamed, FAST, **KW) == first and cache.hits == 1  # the name is not part of the key
    # a new process (a resumed search) reads the file: no measurement again
    reopened = StepTimeCache(path)
    assert reopened.measure(TINY, FAST, **KW) == first and reopened.hits == 1
    # other settings, or another network, are measured anew
    other = reopened.measure(TINY, dataclasses.replace(FAST, batch_size=8), **KW)
    assert reopened.hits == 1 and other != first
    assert len(path.read_text().splitlines()) == 2
    # another class count is another measurement too
    reopened.measure(TINY, FAST, num_classes=5, optimizer="adamw")
    assert reopened.hits == 1 and len(path.read_text().splitlines()) == 3
    # a torn last line (a kill mid-write) is skipped
    path.write_text(path.read_text() + '{"key": "x", "median')
    assert len(StepTimeCache(path).entries) == 3


def test_unavailable_device_is_an_error():
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(ValueError, match="device: cuda is not available"):
        measure_step_time(TINY, dataclasses.replace(FAST, device="cuda"), num_classes=10)


def test_step_settings_validate_themselves():
    with pytest.raises(ValueError, match="threads: must be >= 1, got 0"):
        StepSettings(threads=0)
    with pytest.raises(ValueError, match="device: must be auto, cpu, cuda or cuda:N"):
        StepSettings(device="tpu")
    with pytest.raises(ValueError, match="need a resolution"):
        measure_step_time(TINY, StepSettings(), num_classes=10)
