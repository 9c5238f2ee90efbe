"""The block registry: every kind has its module, analytic cost and timm codec; unknown kinds are errors."""

from __future__ import annotations

import pytest

from search_spaces import BLOCK_KINDS, BLOCKS, Architecture, Head, Stage, Stem, architecture_to_dict, block_kind
from search_spaces.architecture import ArchitectureError, architecture_from_dict
from search_spaces.cost import block_cost
from search_spaces.timm_notation import decode_block_string, encode_stage


@pytest.mark.parametrize("name", BLOCKS)
def test_every_kind_builds_counts_and_round_trips_through_timm(name):
    kind = block_kind(name)
    assert kind.name == name and BLOCK_KINDS[name] is kind
    stage = Stage(name, 2, 3, 2, 4, 24, 0.25 if name == "mbconv" else 0.0)
    arch = Architecture("one", 32, Stem(16), (stage,), Head(64))
    from search_spaces import build_model

    first = build_model(arch, num_classes=10).stages[0][0]
    assert type(first) is kind.module
    assert block_cost(stage, in_channels=16, in_size=16, stride=2).params > 0
    text = encode_stage(stage)
    assert text.split("_")[0] in kind.timm_types and decode_block_string(text) == stage


def test_an_unknown_kind_is_an_error_everywhere():
    stray = Stage("conv", 1, 3, 1, 1, 8, 0.0)  # a Stage alone is not validated; every consumer is
    with pytest.raises(ValueError, match="block: unknown kind 'conv'"):
        block_kind("conv")
    with pytest.raises(ValueError, match="unknown kind 'conv'"):
        block_cost(stray, in_channels=8, in_size=8, stride=1)
    with pytest.raises(ValueError, match="unknown kind 'conv'"):
        encode_stage(stray)
    with pytest.raises(ValueError, match="unsupported block type 'xx'"):
        decode_block_string("xx_r1_k3_s1_e1_c8")
    good = architecture_to_dict(Architecture("a", 32, Stem(8), (Stage("mbconv", 1, 3, 1, 1, 8, 0.0),), Head(16)))
    good["stages"][0]["block"] = "conv"
    with pytest.raises(ArchitectureError, match=r"stages\[0\].block: must be one of mbconv, fused_mbconv"):
        architecture_from_dict(good)


def test_the_format_and_the_registry_name_the_same_kinds_and_say_which_take_se():
    from search_spaces import BLOCK_KINDS, BLOCKS

    assert tuple(BLOCK_KINDS) == BLOCKS
    # MBConv carries SE in every searched space; EfficientNetV2's space puts none on Fused-MBConv (P2 Table 4)
    assert {name: kind.takes_se for name, kind in BLOCK_KINDS.items()} == {"mbconv": True, "fused_mbconv": False}
