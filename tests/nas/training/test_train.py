"""The trainer: learning, determinism, failures, BN statistics, progressive schedule."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from nas.training.data import load_dataset
from nas.training.train import ProgressiveConfig, TrainConfig, progressive_schedule, train
from search_spaces import load_architecture
from search_spaces.blocks import DropPath

ROOT = Path(__file__).resolve().parents[3]
SMALL = load_architecture(ROOT / "experiments/archs/small-mbconv.json")
FAST = TrainConfig(epochs=2, batch_size=32, resolution=16, threads=1, seed=0)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def test_small_net_learns_digits(digits):
    result = train(SMALL, digits, FAST, evaluate_test=True)
    assert result.status == "ok", result.reason
    assert len(result.history) == 2
    assert result.val_accuracy > 0.85 and result.test_accuracy is not None and result.test_accuracy > 0.85
    assert result.history[-1].train_loss < result.history[0].train_loss
    assert result.seconds > 0 and result.history[0].images_per_second > 0


def test_same_seed_same_result(digits):
    a = train(SMALL, digits, FAST)
    b = train(SMALL, digits, FAST)
    assert [r.val_accuracy for r in a.history] == [r.val_accuracy for r in b.history]
    assert [r.train_loss for r in a.history] == [r.train_loss for r in b.history]
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    c = train(SMALL, digits, dataclasses.replace(FAST, seed=1))
    assert [r.train_loss for r in c.history] != [r.train_loss for r in a.history]


def test_non_finite_loss_is_a_failure_not_an_exception(digits):
    config = dataclasses.replace(FAST, optimizer="sgd", lr=1e12, schedule="constant", weight_decay=0.0)
    result = train(SMALL, digits, config)
    assert result.status == "failed"
    assert result.reason.startswith("non-finite training loss") and "epoch 1" in result.reason


def test_slow_bn_momentum_needs_recalibration(digits):
    # TensorFlow's BN decay 0.99 (PyTorch momentum 0.01): after a short proxy run the running
    # statistics are far from converged and evaluation collapses to chance.
    slow = dataclasses.replace(SMALL, bn_momentum=0.01)
    stale = train(slow, digits, dataclasses.replace(FAST, bn_recalibrate="never"))
    fixed = train(slow, digits, FAST)  # "auto" recalibrates because momentum < 0.1
    assert stale.history[-1].train_accuracy > 0.8
    assert stale.val_accuracy < 0.3
    assert fixed.val_accuracy > 0.85


def test_callback_sees_every_epoch_and_can_stop(digits):
    seen = []
    train(SMALL, digits, FAST, callback=seen.append)
    assert [r.epoch for r in seen] == [1, 2]

    class Stop(Exception):
        pass

    def stop(record):
        raise Stop

    with pytest.raises(Stop):
        train(SMALL, digits, FAST, callback=stop)


@pytest.mark.parametrize(
    ("config", "epochs", "expected"),
    [
        # V2-S bounds (Table 6): size 128 -> 300, RA 5 -> 15, dropout 0.1 -> 0.3, 4 stages.
        (ProgressiveConfig(4, 128, 300, (0.1, 0.3), (5, 15), (0, 0)), 8,
         [(0, 2, 128, 0.1, 5.0, 0.0), (2, 4, 185, 0.1 + 0.2 / 3, 5 + 10 / 3, 0.0),
          (4, 6, 243, 0.1 + 0.4 / 3, 5 + 20 / 3, 0.0), (6, 8, 300, 0.3, 15.0, 0.0)]),
        # V2-L mixup 0 -> 0.4 over 3 stages; 7 epochs: the remainder goes to the last stage.
        (ProgressiveConfig(3, 16, 32, (0.1, 0.5), (5, 25), (0, 0.4)), 7,
         [(0, 2, 16, 0.1, 5.0, 0.0), (2, 4, 24, 0.3, 15.0, 0.2), (4, 7, 32, 0.5, 25.0, 0.4)]),
        (ProgressiveConfig(1, 16, 32), 3, [(0, 3, 16, 0.1, 5.0, 0.0)]),
    ],
)  # fmt: skip
def test_progressive_schedule(config, epochs, expected):
    got = [
        (s.first_epoch, s.end_epoch, s.size, s.dropout, s.randaug, s.mixup)
        for s in progressive_schedule(config, epochs)
    ]
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert g[:3] == e[:3]
        assert g[3:] == pytest.approx(e[3:])


def test_progressive_training_runs_each_stage(digits):
    config = dataclasses.replace(
        FAST, epochs=3, progressive=ProgressiveConfig(3, 8, 16, (0.1, 0.3), (3, 9), (0.0, 0.2))
    )
    seen = []
    result = train(SMALL, digits, config, callback=seen.append)
    assert result.status == "ok"
    assert [r.resolution for r in seen] == [8, 12, 16] and [r.stage for r in seen] == [0, 1, 2]
    assert [r.eval_resolution for r in seen] == [8, 12, 16]
    assert result.model.dropout.p == pytest.approx(0.3)
    assert result.val_accuracy > 0.3


def test_drop_path_override_trains_as_the_architecture_without_it(digits):
    """``drop_path: 0`` trains exactly as the same architecture built with no stochastic depth."""
    assert SMALL.drop_path > 0
    override = train(SMALL, digits, dataclasses.replace(FAST, drop_path=0.0))
    rebuilt = train(dataclasses.replace(SMALL, drop_path=0.0), digits, FAST)
    with_it = train(SMALL, digits, FAST)
    assert override.val_accuracy == rebuilt.val_accuracy
    first = next(iter(override.model.state_dict().values()))
    assert torch.equal(first, next(iter(rebuilt.model.state_dict().values())))
    assert all(not isinstance(m, DropPath) or m.p == 0 for m in override.model.modules())
    assert any(isinstance(m, DropPath) and m.p > 0 for m in with_it.model.modules())


def test_last_stage_validates_at_the_evaluation_size(digits):
    # V2 trains its last stage below the inference size; validation uses the inference size.
    config = dataclasses.replace(FAST, resolution=16, progressive=ProgressiveConfig(2, 8, 12))
    seen = []
    train(SMALL, digits, config, callback=seen.append)
    assert [(r.resolution, r.eval_resolution) for r in seen] == [(8, 8), (12, 16)]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"epochs": 0}, "epochs"),
        ({"optimizer": "lion"}, "optimizer"),
        ({"lr": float("inf")}, "lr"),
        ({"randaug": 31}, "randaug"),
        ({"drop_path": 1.0}, r"drop_path: must be in \[0, 1\)"),
        ({"progressive": ProgressiveConfig(stages=3)}, r"progressive.stages: must be in \[1, epochs=2\]"),
        ({"progressive": ProgressiveConfig(stages=2, min_size=40, max_size=32)}, "progressive.min_size"),
    ],
)
def test_config_validation(change, message):
    """A config checks itself when it is made: no trainer ever sees a bad one."""
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(FAST, **change)


def test_progressive_bounds_validate_and_resolve():
    with pytest.raises(ValueError, match=r"dropout: must be \[first, last\] in \[0, 1\), got \[0.1, 1.5\]"):
        ProgressiveConfig(stages=2, dropout=(0.1, 1.5))
    with pytest.raises(ValueError, match="min_size: must be >= 1, got 0"):
        ProgressiveConfig(min_size=0)
    # left out: 4 stages (V2-S Table 6) or one per epoch, max = the resolution, min = half of it
    assert ProgressiveConfig().resolved(epochs=10, resolution=32) == ProgressiveConfig(4, 16, 32)
    assert ProgressiveConfig().resolved(epochs=2, resolution=33) == ProgressiveConfig(2, 16, 33)
    with pytest.raises(ValueError, match="needs resolved bounds"):
        progressive_schedule(ProgressiveConfig(), 4)
