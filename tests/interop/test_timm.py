"""timm -> effnas -> timm: the same logits, for every preset and for searched architectures.

These tests need timm, which needs a torchvision that imports beside the installed torch
(``.ci/run`` builds such an environment); elsewhere they are skipped with the reason.
"""

from __future__ import annotations

import random

import pytest
import torch

try:
    import timm
except Exception as exc:  # not installed, or torchvision does not import beside this torch
    pytest.skip(f"timm does not import here ({type(exc).__name__}: {exc})", allow_module_level=True)

from search_spaces import Architecture, MBConvSpace, TrainingAwareSpace, load_architecture, preset_names
from search_spaces.timm_weights import build_timm_model, load_timm, to_timm_state_dict
from search_spaces.weights import WeightsError


def _timm_with_stats(arch: Architecture, seed: int) -> torch.nn.Module:
    """timm's network, initialised by timm, with batch-norm statistics and affines made non-trivial."""
    torch.manual_seed(seed)
    model = build_timm_model(arch, num_classes=10)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)
    return model.eval()


def _round_trip(arch: Architecture, seed: int = 0) -> None:
    source = _timm_with_stats(arch, seed)
    ours = load_timm(arch, source).eval()
    back = build_timm_model(arch, num_classes=10).eval()
    back.load_state_dict(to_timm_state_dict(arch, ours.state_dict()), strict=True)
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        want, got, again = source(x), ours(x), back(x)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
    torch.testing.assert_close(again, want, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_round_trips_with_the_same_logits(name: str) -> None:
    _round_trip(load_architecture(name))


def _searched(n: int, seed: int) -> list[Architecture]:
    """Architectures sampled from both default search spaces (B0's MBConv space, V2's training-aware one)."""
    rng = random.Random(seed)
    spaces = [MBConvSpace(base=load_architecture("efficientnet-b0")),
              TrainingAwareSpace(base=load_architecture("efficientnetv2-b0"))]  # fmt: skip
    out = []
    while len(out) < n:
        space = spaces[len(out) % 2]
        params = {name: rng.choice(values) for name, values in space.choices().items()}
        out.append(space.decode(params))
    return out


@pytest.mark.parametrize("arch", _searched(20, seed=7), ids=lambda a: a.name)
def test_searched_architectures_round_trip_with_the_same_logits(arch: Architecture) -> None:
    _round_trip(arch, seed=1)


def test_a_timm_network_of_another_architecture_is_refused_naming_the_tensor() -> None:
    b0 = load_architecture("efficientnet-b0")
    b1 = _timm_with_stats(load_architecture("efficientnet-b1"), 0)
    with pytest.raises(WeightsError, match=r"blocks\.\d\.\d\.\w+.*(missing|shape|not part)"):
        load_timm(b0, b1)


def test_timm_tf_padding_is_refused() -> None:
    model = timm.create_model("tf_efficientnet_b0", pretrained=False)
    with pytest.raises(WeightsError, match="same"):
        load_timm(load_architecture("efficientnet-b0"), model)


def test_timm_own_efficientnet_b0_loads_with_its_bn_eps() -> None:
    """timm's registered ``efficientnet_b0`` (PyTorch BN eps 1e-5) is B0 with ``bn_eps: 1e-5``."""
    import dataclasses

    model = timm.create_model("efficientnet_b0", pretrained=False, num_classes=10).eval()
    arch = dataclasses.replace(load_architecture("efficientnet-b0"), bn_eps=1e-5)
    ours = load_timm(arch, model.state_dict()).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), model(x), atol=1e-5, rtol=0)


def test_nas_export_timm_loads_into_timm_by_timms_own_api(tmp_path):
    """``nas export --format timm --weights`` gives what timm alone needs: its ``EfficientNet`` class,
    ``decode_arch_def`` and the written arguments build the network, which loads the checkpoint
    strictly and gives effnas's logits."""
    import json
    from functools import partial

    from safetensors.torch import load_file
    from timm.layers import get_act_layer
    from timm.models._efficientnet_builder import decode_arch_def
    from timm.models.efficientnet import EfficientNet

    from nas.cli import main
    from search_spaces import build_model, save_architecture
    from search_spaces.weights import save_weights

    arch = _searched(1, seed=11)[0]
    ours = build_model(arch, num_classes=7, in_channels=1).eval()
    save_architecture(arch, tmp_path / "arch.json")
    save_weights(ours.state_dict(), tmp_path / "model.safetensors")
    assert main(["export", str(tmp_path / "arch.json"), "--format", "timm", "--weights",
                 str(tmp_path / "model.safetensors"), "--out", str(tmp_path / "t")]) == 0  # fmt: skip
    cfg = json.loads((tmp_path / "t" / "timm.json").read_text())
    model = EfficientNet(
        block_args=decode_arch_def(cfg["arch_def"]),
        num_classes=cfg["num_classes"],
        in_chans=cfg["in_chans"],
        stem_size=cfg["stem_size"],
        fix_stem=True,
        num_features=cfg["num_features"],
        round_chs_fn=lambda c: c,
        act_layer=get_act_layer(cfg["act_layer"]),
        norm_layer=partial(torch.nn.BatchNorm2d, eps=cfg["bn_eps"], momentum=cfg["bn_momentum"]),
    ).eval()
    model.load_state_dict(load_file(tmp_path / "t" / "model.safetensors"), strict=True)
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x), ours(x), atol=1e-5, rtol=0)
