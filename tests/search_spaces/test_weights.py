"""Weights on disk (safetensors, legacy ``weights.pt``) and renaming them to timm's names and back."""

from __future__ import annotations

import pytest
import torch

from search_spaces import build_model, load_architecture, preset_names
from search_spaces.timm_weights import from_timm_state_dict, timm_key, to_timm_state_dict
from search_spaces.weights import WEIGHTS_FORMAT, WeightsError, load_weights, save_weights

from ..archgen import random_architectures


def test_safetensors_round_trip_keeps_every_tensor_and_the_header(tmp_path):
    state = build_model(load_architecture("mnasnet-a1"), num_classes=7).state_dict()
    save_weights(state, tmp_path / "m.safetensors", {"architecture": "mnasnet-a1"})
    loaded, header = load_weights(tmp_path / "m.safetensors")
    assert header == {"format": WEIGHTS_FORMAT, "architecture": "mnasnet-a1"}
    assert loaded.keys() == state.keys() and all(torch.equal(loaded[k], state[k]) for k in state)


def test_unreadable_weights_are_refused_naming_the_file(tmp_path):
    (tmp_path / "junk.safetensors").write_bytes(b"not a tensor file")
    with pytest.raises(WeightsError, match=r"junk\.safetensors"):
        load_weights(tmp_path / "junk.safetensors")
    with pytest.raises(WeightsError, match="does not exist"):
        load_weights(tmp_path / "none.safetensors")
    torch.save({"a": 1}, tmp_path / "w.pt")
    with pytest.raises(WeightsError, match="not a state dict of tensors"):
        load_weights(tmp_path / "w.pt")


@pytest.mark.parametrize("name", preset_names())
def test_timm_names_are_one_to_one_and_round_trip(name):
    """Every tensor of every preset has its own timm name (timm ``efficientnet.py``), and back."""
    arch = load_architecture(name)
    with torch.device("meta"):
        state = build_model(arch, num_classes=10).state_dict()
    names = [timm_key(arch, key) for key in state]
    assert len(set(names)) == len(names)
    assert {n.split(".")[0] for n in names} == {"conv_stem", "bn1", "blocks", "conv_head", "bn2", "classifier"}
    back = from_timm_state_dict(arch, to_timm_state_dict(arch, state))
    assert list(back) == list(state)


def test_b0_names_are_timms():
    """Spot checks against timm ``efficientnet_b0``'s own state-dict names."""
    b0 = load_architecture("efficientnet-b0")
    assert timm_key(b0, "stem.0.weight") == "conv_stem.weight"
    assert timm_key(b0, "stages.0.0.depthwise.0.weight") == "blocks.0.0.conv_dw.weight"  # "ds": expand 1
    assert timm_key(b0, "stages.0.0.project.1.running_var") == "blocks.0.0.bn2.running_var"
    assert timm_key(b0, "stages.1.0.expand_conv.0.weight") == "blocks.1.0.conv_pw.weight"  # "ir"
    assert timm_key(b0, "stages.1.0.se.reduce.bias") == "blocks.1.0.se.conv_reduce.bias"
    assert timm_key(b0, "stages.6.0.project.1.weight") == "blocks.6.0.bn3.weight"
    assert timm_key(b0, "head.1.num_batches_tracked") == "bn2.num_batches_tracked"
    v2 = load_architecture("efficientnetv2-s")
    assert timm_key(v2, "stages.0.0.fused.0.weight") == "blocks.0.0.conv.weight"  # "cn": Fused e1
    assert timm_key(v2, "stages.1.0.fused.1.bias") == "blocks.1.0.bn1.bias"  # "er"
    assert timm_key(v2, "stages.1.0.project.0.weight") == "blocks.1.0.conv_pwl.weight"


def test_random_architectures_round_trip_through_timm_names():
    for arch in random_architectures(20, seed=5):
        state = build_model(arch, num_classes=3).state_dict()
        back = from_timm_state_dict(arch, to_timm_state_dict(arch, state))
        assert back.keys() == state.keys() and all(torch.equal(back[k], state[k]) for k in state)


def test_a_mismatch_is_refused_naming_the_tensor():
    b0 = load_architecture("efficientnet-b0")
    timm_state = to_timm_state_dict(b0, build_model(b0, num_classes=10).state_dict())
    missing = {k: v for k, v in timm_state.items() if k != "blocks.3.2.conv_dw.weight"}
    with pytest.raises(WeightsError, match=r"blocks\.3\.2\.conv_dw\.weight is missing"):
        from_timm_state_dict(b0, missing)
    extra = {**timm_state, "blocks.7.0.conv.weight": torch.zeros(1)}
    with pytest.raises(WeightsError, match=r"blocks\.7\.0\.conv\.weight is not part of efficientnet-b0"):
        from_timm_state_dict(b0, extra)
    wrong = {**timm_state, "blocks.6.0.conv_pwl.weight": torch.zeros(3, 3, 1, 1)}
    with pytest.raises(WeightsError, match=r"pwl\.weight has shape \(3, 3, 1, 1\); efficientnet-b0 needs \(320, 1152"):
        from_timm_state_dict(b0, wrong)
    with pytest.raises(WeightsError, match="not a timm EfficientNet state dict"):
        from_timm_state_dict(b0, {"stem.0.weight": torch.zeros(1)})
