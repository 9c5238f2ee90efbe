"""A seeded generator of random valid architectures, mixing every feature of the format."""

from __future__ import annotations

import random

from search_spaces import Architecture, Head, Stage, Stem


def random_architecture(rng: random.Random, index: int = 0) -> Architecture:
    """Both block types, kernels 1/3/5/7, strides 1/2, SE on/off, expand 1-6, odd widths too."""
    stages = []
    for _ in range(rng.randint(1, 5)):
        se = rng.choice([0.0, 0.0, 0.25, rng.uniform(0.01, 0.99)])
        stages.append(
            Stage(
                block=rng.choice(["mbconv", "fused_mbconv"]),
                repeats=rng.randint(1, 3),
                kernel=rng.choice([1, 3, 5, 7]),
                stride=rng.choice([1, 2]),
                expand=rng.randint(1, 6),
                channels=rng.choice([rng.randint(1, 48), 8 * rng.randint(1, 8)]),
                se=se,
            )
        )
    return Architecture(
        name=f"random-{index}",
        resolution=rng.randint(9, 72),
        stem=Stem(rng.randint(3, 40)),
        stages=tuple(stages),
        head=Head(rng.randint(8, 160)),
        dropout=rng.choice([0.0, 0.2, 0.5]),
        drop_path=rng.choice([0.0, 0.2]),
        activation=rng.choice(["silu", "relu"]),
        bn_momentum=rng.choice([0.1, 0.01]),
        bn_eps=rng.choice([1e-3, 1e-5]),
    )


def random_architectures(n: int = 60, seed: int = 1234) -> list[Architecture]:
    rng = random.Random(seed)
    return [random_architecture(rng, i) for i in range(n)]
