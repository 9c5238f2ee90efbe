"""timm ``arch_def`` strings: the reference strings, round trips, and decoder errors."""

from __future__ import annotations

import pytest

from search_spaces import from_timm, load_architecture, preset_names, to_timm
from search_spaces.timm_notation import decode_block_string, encode_stage
from tests.archgen import random_architectures


def test_b0_matches_timm_arch_def():
    # timm ``_gen_efficientnet`` (P1 Table 1).
    timm = to_timm(load_architecture("efficientnet-b0"))
    assert timm["arch_def"] == [
        ["ds_r1_k3_s1_e1_c16_se0.25"],
        ["ir_r2_k3_s2_e6_c24_se0.25"],
        ["ir_r2_k5_s2_e6_c40_se0.25"],
        ["ir_r3_k3_s2_e6_c80_se0.25"],
        ["ir_r3_k5_s1_e6_c112_se0.25"],
        ["ir_r4_k5_s2_e6_c192_se0.25"],
        ["ir_r1_k3_s1_e6_c320_se0.25"],
    ]
    assert (timm["stem_size"], timm["num_features"], timm["act_layer"]) == (32, 1280, "swish")


def test_v2_s_uses_cn_and_er():
    timm = to_timm(load_architecture("efficientnetv2-s"))
    assert timm["arch_def"][:2] == [["cn_r2_k3_s1_c24_skip"], ["er_r4_k3_s2_e4_c48"]]
    assert timm["arch_def"][3] == ["ir_r6_k3_s2_e4_c128_se0.25"]


@pytest.mark.parametrize("name", preset_names())
def test_presets_round_trip(name):
    arch = load_architecture(name)
    assert from_timm(to_timm(arch)) == arch


def test_random_round_trip():
    checked = 0
    for arch in random_architectures(60, seed=99):
        if any(s.block == "fused_mbconv" and s.expand == 1 and s.se for s in arch.stages):
            with pytest.raises(ValueError, match="no timm notation"):
                to_timm(arch)
            continue
        arch = arch.__class__(**{**arch.__dict__, "bn_momentum": 0.1, "bn_eps": 1e-3})
        assert from_timm(to_timm(arch)) == arch
        checked += 1
    assert checked >= 30


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("xx_r1_k3_s1_c16", "unsupported block type 'xx'"),
        ("ir_r1_k3_s1_e6", "missing token 'c'"),
        ("ir_r1_k3_s1_e6_c16_n", "unsupported or repeated token 'n'"),
        ("ir_r1_k3_s1_e6_c16_noskip", "'noskip'"),
        ("ir_r1_k3_s1_e6_c16_r2", "repeated token 'r2'"),
        ("ir_rx_k3_s1_e6_c16", "not a number"),
        ("ds_r1_k3_s1_e6_c16", "'ds' blocks have expand 1"),
        ("cn_r1_k3_s1_c16", "need '_skip'"),
        ("er_r1_k3_s1_e4_c16_skip", "unsupported token 'skip'"),
        ("", "non-empty string"),
    ],
)
def test_decoder_names_the_bad_token(text, message):
    with pytest.raises(ValueError, match=message):
        decode_block_string(text)


def test_encode_decode_stage_identity():
    for arch in random_architectures(20, seed=5):
        for stage in arch.stages:
            if stage.block == "fused_mbconv" and stage.expand == 1 and stage.se:
                continue
            assert decode_block_string(encode_stage(stage)) == stage


def test_from_timm_rejects_bad_structure():
    with pytest.raises(ValueError, match="arch_def"):
        from_timm({"arch_def": []})
    with pytest.raises(ValueError, match=r"arch_def\[0\]"):
        from_timm({"arch_def": ["ir_r1_k3_s1_e6_c16"]})
    with pytest.raises(ValueError, match="act_layer"):
        from_timm({"arch_def": [["ir_r1_k3_s1_e6_c16"]], "act_layer": "gelu"})
