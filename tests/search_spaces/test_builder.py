"""The builder: every preset runs; block structure follows the reference (§1.2, §1.3, §4.1)."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch import nn

from search_spaces import Stage, build_model, drop_path_rates, load_architecture, preset_names
from search_spaces.blocks import DropPath, FusedMBConv, MBConv, SqueezeExcite
from tests.archgen import random_architectures


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_builds_and_runs_without_nan(name):
    torch.manual_seed(0)
    model = build_model(load_architecture(name), num_classes=10).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, 10)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("arch", random_architectures(10, seed=7), ids=lambda a: a.name)
def test_random_architectures_train_step(arch):
    torch.manual_seed(0)
    model = build_model(arch, num_classes=5, in_channels=1).train()
    x = torch.randn(4, 1, arch.resolution, arch.resolution)
    loss = nn.functional.cross_entropy(model(x), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    assert torch.isfinite(loss)


def _blocks(model):
    return [m for m in model.modules() if isinstance(m, (MBConv, FusedMBConv))]


def test_b0_structure():
    model = build_model(load_architecture("efficientnet-b0"))
    blocks = _blocks(model)
    assert len(blocks) == 16
    assert all(isinstance(m, nn.SiLU) for m in model.modules() if isinstance(m, (nn.SiLU, nn.ReLU)))
    # Stride only on a stage's first block: stage 2 is blocks 1-2.
    assert blocks[1].depthwise[0].stride == (2, 2) and blocks[2].depthwise[0].stride == (1, 1)
    # Residual only when stride 1 and widths match.
    assert [b.has_residual for b in blocks[:4]] == [False, False, True, False]
    # Expand 1 skips the expand conv.
    assert blocks[0].expand_conv is None and blocks[1].expand_conv is not None
    # SE width from the block *input* channels: stage 2 first block 16 in -> 4; then 24 in -> 6.
    assert blocks[1].se.reduce.out_channels == 4 and blocks[2].se.reduce.out_channels == 6
    assert blocks[1].se.reduce.in_channels == 96
    # The projection is linear (conv + BN, no activation).
    assert len(blocks[1].project) == 2
    # BN settings from the spec; conv without bias.
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert {(m.momentum, m.eps) for m in bns} == {(0.1, 1e-3)}
    se_convs = {id(c) for m in model.modules() if isinstance(m, SqueezeExcite) for c in (m.reduce, m.expand)}
    assert all((m.bias is not None) == (id(m) in se_convs) for m in model.modules() if isinstance(m, nn.Conv2d))
    assert model.classifier.out_features == 1000 and model.dropout.p == 0.2


def test_mnasnet_uses_relu_everywhere():
    model = build_model(load_architecture("mnasnet-a1"))
    acts = {type(m) for m in model.modules() if isinstance(m, (nn.SiLU, nn.ReLU))}
    assert acts == {nn.ReLU}


def test_fused_blocks():
    model = build_model(load_architecture("efficientnetv2-s"))
    blocks = _blocks(model)
    first, second, expanded = blocks[0], blocks[1], blocks[2]
    assert isinstance(first, FusedMBConv) and first.project is None  # e = 1: one conv + BN + act
    assert len(first.fused) == 3 and first.fused[0].kernel_size == (3, 3)
    assert second.has_residual
    assert expanded.project is not None and expanded.fused[0].stride == (2, 2)
    assert expanded.fused[0].out_channels == 24 * 4
    assert expanded.se is None


def test_drop_path_schedule_is_linear_per_block():
    arch = load_architecture("efficientnet-b0")
    rates = drop_path_rates(arch)
    assert rates[0] == 0.0 and rates[-1] == pytest.approx(0.2 * 15 / 16)
    assert rates == pytest.approx([0.2 * i / 16 for i in range(16)])
    model = build_model(arch)
    got = {id(b): b.drop_path.p for b in _blocks(model) if b.drop_path is not None}
    expected = [r for b, r in zip(_blocks(model), rates, strict=True) if b.drop_path is not None]
    assert list(got.values()) == pytest.approx(expected)


def test_drop_path_behaviour():
    torch.manual_seed(0)
    layer = DropPath(0.5).train()
    x = torch.ones(2000, 1, 1, 1)
    y = layer(x)
    assert set(y.unique().tolist()) <= {0.0, 2.0}
    assert y.mean().item() == pytest.approx(1.0, abs=0.1)
    assert torch.equal(layer.eval()(x), x)


def test_squeeze_excite_gates_channels():
    se = SqueezeExcite(8, 2, activation="silu")
    x = torch.randn(3, 8, 5, 5)
    y = se(x)
    gate = y / x
    assert torch.allclose(gate, gate[:, :, :1, :1].expand_as(gate), atol=1e-5)
    assert ((gate > 0) & (gate < 1)).all()


def test_init():
    torch.manual_seed(0)
    model = build_model(load_architecture("efficientnet-b0"))
    head = model.head[0]
    fan_out = head.out_channels  # 1x1 kernel
    assert head.weight.std().item() == pytest.approx(math.sqrt(2.0 / fan_out), rel=0.05)
    bound = 1 / math.sqrt(1000)
    assert model.classifier.weight.abs().max().item() <= bound
    assert model.classifier.bias.abs().sum().item() == 0.0


def test_same_seed_same_weights():
    arch = load_architecture("mnasnet-a1")
    torch.manual_seed(3)
    a = build_model(arch).state_dict()
    torch.manual_seed(3)
    b = build_model(arch).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_build_rejects_bad_arguments():
    arch = load_architecture("efficientnet-b0")
    with pytest.raises(ValueError, match="num_classes: must be >= 1, got 0"):
        build_model(arch, num_classes=0)
    with pytest.raises(ValueError, match="in_channels"):
        build_model(arch, in_channels=0)


def test_output_size_follows_strides():
    arch = load_architecture("efficientnet-b0")
    arch = dataclasses.replace(arch, stages=(*arch.stages, Stage("mbconv", 1, 3, 2, 6, 320, 0.0)))
    model = build_model(arch).eval()
    with torch.no_grad():
        feats = model.forward_features(torch.zeros(1, 3, 65, 65))
    assert feats.shape[-1] == 2  # 65 -> 33 -> 33 -> 17 -> 9 -> 5 -> 5 -> 3 -> 3 -> 2
