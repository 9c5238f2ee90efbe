"""The mbconv search space: size, stable names, valid samples, and choice validation."""

from __future__ import annotations

import math
import random

import optuna
import pytest
import torch

from search_spaces import (
    SPACES,
    MBConvSpace,
    TrainingAwareSpace,
    architecture_from_dict,
    architecture_to_dict,
    build_model,
    count_flops,
    count_params,
    load_architecture,
)


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
    assert len(choices) == 5 * 7 + 2 and list(choices)[-2:] == ["stem.width", "head.width"]
    # stage 1 has one layer: {max(1, 0), 1, 2} = {1, 2}; the others three counts each
    assert choices["s1.layers"] == [1, 2] and choices["s6.layers"] == [3, 4, 5]
    per_stage = 2 * 3 * 2 * 3
    stem_head = 3 * 4
    assert space.size() == stem_head * math.prod([per_stage * len(choices[f"s{i}.layers"]) for i in range(1, 8)])
    # the base is a point of the space, and decodes to itself
    params = space.base_params()
    assert params is not None and space.decode(params).stages == B0.stages
    assert (space.decode(params).stem, space.decode(params).head) == (B0.stem, B0.head)
    assert MBConvSpace(base=B0, width=(0.5,)).base_params() is None  # width 1 not offered


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
        assert arch.stem.channels in (16, 24, 32) and arch.head.channels in (320, 640, 960, 1280)
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


V2S = load_architecture("efficientnetv2-s")


def test_training_aware_space_samples_only_valid_architectures():
    """Property test over many seeded samples (P2 §3.3: op, kernel, expansion, layers; channels reused)."""
    space = TrainingAwareSpace(base=V2S)
    seen_blocks = set()
    for seed in range(200):
        suggester = RandomSuggester(seed)
        arch = space.sample(suggester)
        # the JSON validator accepts it, and it round-trips
        assert architecture_from_dict(architecture_to_dict(arch)) == arch
        for i, (base, stage) in enumerate(zip(V2S.stages, arch.stages, strict=True)):
            seen_blocks.add(stage.block)
            assert stage.channels == base.channels and stage.stride == base.stride
            assert stage.kernel in (3, 5) and stage.expand in (1, 4, 6)
            assert stage.repeats in space.stage_layers(i) and stage.repeats >= 1
            # SE only on MBConv stages, and asked only there
            assert stage.se == (0.25 if stage.block == "mbconv" else 0.0)
            assert (f"s{i + 1}.se" in suggester.asked) == (stage.block == "mbconv")
        assert arch.stem == V2S.stem and arch.head == V2S.head
        assert count_params(arch, num_classes=10) > 0
    assert seen_blocks == {"mbconv", "fused_mbconv"}
    model = build_model(space.sample(RandomSuggester(0)), num_classes=10).eval()
    assert model(torch.zeros(1, 3, 32, 32)).shape == (1, 10)


def test_training_aware_size_counts_the_conditional_se():
    base = V2S
    space = TrainingAwareSpace(base=base, se=(0.0, 0.25))
    # per stage: (mbconv x 2 SE + fused) x 2 kernels x 3 expansions x layer counts
    expected = math.prod(3 * 2 * 3 * len(space.stage_layers(i)) for i in range(len(base.stages)))
    assert space.size() == expected
    assert TrainingAwareSpace(base=base, block=("fused_mbconv",)).size() == math.prod(
        2 * 3 * len(space.stage_layers(i)) for i in range(len(base.stages))
    )


def test_training_aware_decode_reproduces_an_optuna_sample():
    space = TrainingAwareSpace(base=V2S)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    for _ in range(5):
        trial = study.ask()
        arch = space.sample(trial)
        assert space.decode(trial.params) == arch


def test_training_aware_bad_choices():
    with pytest.raises(ValueError, match=r"space\.block: unknown kind 'conv'"):
        TrainingAwareSpace(base=V2S, block=("mbconv", "conv"))
    with pytest.raises(ValueError, match=r"space\.expand"):
        TrainingAwareSpace(base=V2S, expand=(0, 4))


@pytest.mark.parametrize("space_type", ["mbconv", "training_aware"])
def test_params_of_finds_the_point_of_a_network_up_to_a_uniform_width(space_type):
    from scaling import scale

    base = load_architecture("efficientnet-b0" if space_type == "mbconv" else "efficientnetv2-s")
    space = SPACES[space_type](base=base)
    assert space.params_of(base) == space.base_params()
    rng = random.Random(0)
    for _ in range(20):
        params = {name: rng.choice(values) for name, values in space.choices().items()}
        if space_type == "training_aware":  # SE is asked only of MBConv stages
            params = {k: v for k, v in params.items() if not k.endswith(".se") or
                      params[k.replace(".se", ".block")] == "mbconv"}  # fmt: skip
        arch = space.decode(params)
        assert space.decode(space.params_of(arch, uniform=False)) == arch  # two widths may round to one network
        found = space.decode(space.params_of(scale(arch, width=rng.choice([0.8, 1.3, 2.0]))))  # up to one factor
        assert [(s.block, s.kernel, s.expand, s.se, s.repeats) for s in found.stages] == [
            (s.block, s.kernel, s.expand, s.se, s.repeats) for s in arch.stages]  # fmt: skip
        pairs = [(a.channels, b.channels) for a, b in zip(found.stages, arch.stages, strict=True)]
        pairs += [(found.stem.channels, arch.stem.channels), (found.head.channels, arch.head.channels)]
        # a narrow layer's ratio is blurred by rounding to multiples of 8; a wide one's is recovered
        assert all(a == b for a, b in pairs if b >= 64)


def test_params_of_names_what_is_not_a_choice():
    space = SPACES["mbconv"](base=load_architecture("efficientnet-b0"), kernel=(3,))
    with pytest.raises(ValueError, match=r"s3.kernel 5 is not among the space's choices \[3\]"):
        space.params_of(load_architecture("efficientnet-b0"))
    with pytest.raises(ValueError, match="has 6 stages; the space around efficientnet-b0 has 7"):
        space.params_of(load_architecture("efficientnetv2-s"))
