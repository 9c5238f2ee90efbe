"""The mbconv search space: size, stable names, valid samples, and choice validation."""

from __future__ import annotations

import math
import random

import optuna
import pytest

from search_spaces import MBConvSpace, build_model, count_flops, load_architecture


class RandomSuggester:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.asked: list[str] = []

    def suggest_categorical(self, name, choices):
        self.asked.append(name)
        return self.rng.choice(list(choices))


B0 = load_architecture("efficientnet-b0")
HALF = {16: 8, 24: 16, 40: 24, 80: 40, 112: 56, 192: 96, 320: 160}


def test_size_and_names():
    space = MBConvSpace(base=B0)
    choices = space.choices()
    assert list(choices)[:5] == ["s1.kernel", "s1.expand", "s1.se", "s1.layers", "s1.width"]
    assert len(choices) == 5 * 7
    # stage 1 has one layer: {max(1, 0), 1, 2} = {1, 2}; the others three counts each
    assert choices["s1.layers"] == [1, 2] and choices["s6.layers"] == [3, 4, 5]
    per_stage = 2 * 3 * 2 * 3
    assert space.size() == math.prod([per_stage * len(choices[f"s{i}.layers"]) for i in range(1, 8)])


def test_samples_are_valid_and_follow_the_choices():
    space = MBConvSpace(base=B0, width=(0.5, 1.0))
    for seed in range(40):
        suggester = RandomSuggester(seed)
        arch = space.sample(suggester)
        assert suggester.asked == list(space.choices())
        for base, stage in zip(B0.stages, arch.stages, strict=True):
            assert stage.stride == base.stride and stage.block == "mbconv"
            assert stage.kernel in (3, 5) and stage.expand in (1, 3, 6) and stage.se in (0.0, 0.25)
            # width 0.5 of B0's 16, 24, 40, 80, 112, 192, 320, to the nearest multiple of 8 (ties up)
            assert stage.channels in (base.channels, HALF[base.channels])
            assert abs(stage.repeats - base.repeats) <= 1 and stage.repeats >= 1
        assert arch.stem == B0.stem and arch.head == B0.head
        assert count_flops(arch) > 0


def test_decode_reproduces_the_sample():
    space = MBConvSpace(base=B0)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    arch = space.sample(trial)
    assert space.decode(trial.params) == arch
    build_model(arch, num_classes=10)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kernel": ()}, "space.kernel: must list at least one choice"),
        ({"kernel": (3, 4)}, "odd"),
        ({"expand": (0,)}, "space.expand"),
        ({"se": (1.0,)}, "space.se"),
        ({"width": (0.0,)}, "space.width"),
        ({"layers": (0, 0)}, "distinct"),
    ],
)
def test_bad_choices(change, message):
    with pytest.raises(ValueError, match=message):
        MBConvSpace(base=B0, **change)
