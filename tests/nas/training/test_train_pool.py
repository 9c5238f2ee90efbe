"""``nas.training.train_pool.train_many``: parallel runs give the serial runs' results, keyed right."""

from __future__ import annotations

from pathlib import Path

from nas.training.data import DataSpec
from nas.training.train import TrainConfig
from nas.training.train_pool import train_many
from search_spaces import load_architecture

ROOT = Path(__file__).resolve().parents[3]


def test_two_workers_give_the_serial_results_under_their_keys():
    arch = load_architecture(ROOT / "tests/fixtures/tiny-base.json")
    jobs = [(f"seed {seed}", arch, TrainConfig(epochs=1, resolution=8, batch_size=64, seed=seed)) for seed in (0, 1, 2)]
    data = DataSpec("digits", val_size=0.2)
    serial = dict(train_many(jobs, data, workers=1, threads=1, evaluate_test=True))
    parallel = dict(train_many(jobs, data, workers=2, threads=1, evaluate_test=True))
    assert list(serial) == ["seed 0", "seed 1", "seed 2"] and set(parallel) == set(serial)
    for key, result in serial.items():
        assert result.status == "ok" and result.model is None and result.test_accuracy is not None
        # one thread per run either way: the same training, bit for bit
        assert (parallel[key].val_accuracy, parallel[key].test_accuracy) == (result.val_accuracy, result.test_accuracy)
    assert len({r.val_accuracy for r in serial.values()}) > 1  # the seeds differ, so the keys are checked


def test_no_jobs_start_nothing():
    assert list(train_many([], DataSpec("digits"), workers=2)) == []
