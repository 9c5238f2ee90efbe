"""Rounding rules, ``scale``, the published table, and the derived B1-B7 presets.

Sources: P1 §3.3 and TPU ``efficientnet_builder.efficientnet_params``.
"""

from __future__ import annotations

import pytest

from scaling import EFFICIENTNET_TABLE, V2_ROUND_LIMIT, efficientnet_family, round_filters, round_repeats, scale
from search_spaces import count_flops, dumps_architecture, load_architecture, preset_path


@pytest.mark.parametrize(
    ("channels", "width", "expected"),
    [
        (32, 1.0, 32), (1280, 1.1, 1408), (16, 1.1, 16), (40, 1.1, 48), (80, 1.1, 88), (112, 1.1, 120),
        (32, 1.2, 40), (16, 1.4, 24), (40, 1.4, 56), (320, 2.0, 640), (1280, 4.3, 5504),
        (16, 0.5, 8), (4, 0.5, 8),  # never below the divisor
        (24, 0.75, 24),  # 18 -> int(22)//8*8 = 16 < 0.9*18, so +8 (the 10% rule)
        (112, 0.35, 40),  # 39.2 -> 40
    ],
)  # fmt: skip
def test_round_filters_v1(channels, width, expected):
    assert round_filters(channels, width) == expected


def test_round_filters_v2_drops_the_ten_percent_rule():
    assert round_filters(24, 0.75) == 24
    assert round_filters(24, 0.75, round_limit=V2_ROUND_LIMIT) == 16


@pytest.mark.parametrize(
    ("repeats", "depth", "expected"),
    [(1, 1.0, 1), (1, 1.1, 2), (2, 1.1, 3), (4, 3.1, 13), (3, 1.8, 6), (10, 1.1, 11), (5, 0.5, 3), (1, 0.1, 1)],
)
def test_round_repeats_is_ceil(repeats, depth, expected):
    assert round_repeats(repeats, depth) == expected


@pytest.mark.parametrize("bad", [0.0, -1.0])
def test_rounding_rejects_non_positive(bad):
    with pytest.raises(ValueError, match="width"):
        round_filters(32, bad)
    with pytest.raises(ValueError, match="depth"):
        round_repeats(2, bad)


# Reference §2.4 (DERIVED): stem | stage out_ch x repeats | head.
EXPANDED = {
    "efficientnet-b1": "32 | 16x2 24x3 40x3 80x4 112x4 192x5 320x2 | 1280",
    "efficientnet-b2": "32 | 16x2 24x3 48x3 88x4 120x4 208x5 352x2 | 1408",
    "efficientnet-b3": "40 | 24x2 32x3 48x3 96x5 136x5 232x6 384x2 | 1536",
    "efficientnet-b4": "48 | 24x2 32x4 56x4 112x6 160x6 272x8 448x2 | 1792",
    "efficientnet-b5": "48 | 24x3 40x5 64x5 128x7 176x7 304x9 512x3 | 2048",
    "efficientnet-b6": "56 | 32x3 40x6 72x6 144x8 200x8 344x11 576x3 | 2304",
    "efficientnet-b7": "64 | 32x4 48x7 80x7 160x10 224x10 384x13 640x4 | 2560",
}


def _expanded(arch):
    stages = " ".join(f"{s.channels}x{s.repeats}" for s in arch.stages)
    return f"{arch.stem.channels} | {stages} | {arch.head.channels}"


def test_family_matches_reference_expansions():
    family = {a.name: a for a in efficientnet_family(load_architecture("efficientnet-b0"))}
    assert list(family) == list(EFFICIENTNET_TABLE)
    for name, text in EXPANDED.items():
        assert _expanded(family[name]) == text
        row = EFFICIENTNET_TABLE[name]
        assert (family[name].resolution, family[name].dropout) == (row.resolution, row.dropout)


@pytest.mark.parametrize("member", efficientnet_family(load_architecture("efficientnet-b0")), ids=lambda a: a.name)
def test_shipped_presets_equal_the_derivation(member):
    assert preset_path(member.name).read_text() == dumps_architecture(member)


def test_table_values():
    # TPU ``efficientnet_builder.efficientnet_params``.
    assert {k: (v.width, v.depth, v.resolution, v.dropout) for k, v in EFFICIENTNET_TABLE.items()} == {
        "efficientnet-b0": (1.0, 1.0, 224, 0.2), "efficientnet-b1": (1.0, 1.1, 240, 0.2),
        "efficientnet-b2": (1.1, 1.2, 260, 0.3), "efficientnet-b3": (1.2, 1.4, 300, 0.3),
        "efficientnet-b4": (1.4, 1.8, 380, 0.4), "efficientnet-b5": (1.6, 2.2, 456, 0.4),
        "efficientnet-b6": (1.8, 2.6, 528, 0.5), "efficientnet-b7": (2.0, 3.1, 600, 0.5),
    }  # fmt: skip


def test_scale_keeps_unscaled_fields_and_validates():
    b0 = load_architecture("efficientnet-b0")
    assert scale(b0) == b0
    scaled = scale(b0, width=1.1, depth=1.2, resolution=260)
    assert [s.kernel for s in scaled.stages] == [s.kernel for s in b0.stages]
    assert [s.stride for s in scaled.stages] == [s.stride for s in b0.stages]
    assert scaled.name == b0.name and scaled.dropout == b0.dropout
    with pytest.raises(ValueError, match="resolution"):
        scale(b0, resolution=0)


def test_rounding_moves_the_flops_ratio_away_from_nominal():
    b0 = load_architecture("efficientnet-b0")
    # alpha, beta, gamma = 1.2, 1.1, 1.15 at phi = 1: nominal 1.2 * 1.1^2 * 1.15^2 = 1.92.
    scaled = scale(b0, width=1.1, depth=1.2, resolution=round(224 * 1.15))
    # ceil(1.2 * r) doubles the one-block stages 1 and 7 and adds a block to every other one.
    assert [s.repeats for s in scaled.stages] == [2, 3, 3, 4, 4, 5, 2]
    ratio = count_flops(scaled) / count_flops(b0)
    assert ratio == pytest.approx(2.5728, abs=1e-4)


def test_flops_product_and_the_one_resolution_rounding():
    from scaling import flops_product, scaled_resolution

    assert flops_product(1.2, 1.1, 1.15) == pytest.approx(1.2 * 1.1**2 * 1.15**2)  # P1 §3.3: ~1.92
    assert scaled_resolution(224, 1.15) == 256 and scaled_resolution(224, 1.0) == 224  # nearest multiple of 8
    assert scaled_resolution(32, 1.15, divisor=1) == 37 and scaled_resolution(4, 0.1) == 8  # at least the divisor
    with pytest.raises(ValueError, match="factor: must be > 0"):
        scaled_resolution(224, 0.0)
