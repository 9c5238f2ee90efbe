"""Weights across effnas and timm: the same tensors under timm's names, in both directions.

An effnas network and timm's ``EfficientNet`` built from the same ``to_timm`` arguments hold
the same tensors with the same shapes; only the names differ. Each block kind names its
submodules' timm counterparts (``BlockKind.timm_names``); stem, head and classifier are
``conv_stem``/``bn1``, ``conv_head``/``bn2`` and ``classifier`` (timm ``efficientnet.py``).

Both pad a k x k convolution by k // 2 on each side; timm's ``tf_`` models pad TensorFlow's
"same" way instead, which changes the numbers, so their weights are refused. timm is only
needed to build its model (``build_timm_model``); renaming needs no timm.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import partial
from typing import Any

import torch
from torch import nn

from .architecture import Architecture
from .builder import EfficientNet, build_model
from .registry import block_kind
from .timm_notation import to_timm
from .weights import WeightsError

__all__ = ["build_timm_model", "from_timm_state_dict", "load_timm", "timm_key", "to_timm_state_dict"]

_FIXED = {"stem.0": "conv_stem", "stem.1": "bn1", "head.0": "conv_head", "head.1": "bn2", "classifier": "classifier"}
_BLOCK = re.compile(r"stages\.(\d+)\.(\d+)\.(.+)")


def timm_key(arch: Architecture, key: str) -> str:
    """The timm name of one effnas state-dict entry (``stages.3.1.depthwise.0.weight`` ->
    ``blocks.3.1.conv_dw.weight``); raises ``WeightsError`` for a name effnas does not make."""
    module, _, tensor = key.rpartition(".")
    if module in _FIXED:
        return f"{_FIXED[module]}.{tensor}"
    match = _BLOCK.fullmatch(module)
    if match is not None and int(match[1]) < len(arch.stages):
        stage = arch.stages[int(match[1])]
        names = block_kind(stage.block).timm_names(stage)
        if match[3] in names:
            return f"blocks.{match[1]}.{match[2]}.{names[match[3]]}.{tensor}"
    raise WeightsError(f"{key}: not a tensor of an effnas {arch.name} network")


def to_timm_state_dict(arch: Architecture, state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """An effnas state dict under timm's names (same tensors, not copied)."""
    return {timm_key(arch, key): value for key, value in state.items()}


def from_timm_state_dict(
    arch: Architecture, state: Mapping[str, torch.Tensor], *, source: str = "timm weights"
) -> dict[str, torch.Tensor]:
    """A timm ``EfficientNet`` state dict under effnas's names, checked against ``arch``.

    Classes and input channels are the timm network's own. Raises ``WeightsError`` naming
    the first tensor that is missing, left over, or of another shape than ``arch`` needs.
    """
    classifier, stem = state.get("classifier.weight"), state.get("conv_stem.weight")
    if classifier is None or stem is None or classifier.ndim != 2 or stem.ndim != 4:
        raise WeightsError(f"{source}: not a timm EfficientNet state dict (no classifier.weight or conv_stem.weight)")
    with torch.device("meta"):  # names and shapes only, nothing allocated
        expected = build_model(arch, num_classes=int(classifier.shape[0]), in_channels=int(stem.shape[1])).state_dict()
    out: dict[str, torch.Tensor] = {}
    for key, want in expected.items():
        name = timm_key(arch, key)
        if name not in state:
            raise WeightsError(f"{source}: {name} is missing ({arch.name} needs it for {key})")
        got = state[name]
        if tuple(got.shape) != tuple(want.shape):
            raise WeightsError(f"{source}: {name} has shape {tuple(got.shape)}; {arch.name} needs {tuple(want.shape)}")
        out[key] = got
    extra = sorted(set(state) - {timm_key(arch, key) for key in expected})
    if extra:
        raise WeightsError(f"{source}: {extra[0]} is not part of {arch.name} ({len(extra)} tensors left over)")
    return out


def load_timm(arch: Architecture, model_or_state_dict: nn.Module | Mapping[str, torch.Tensor]) -> EfficientNet:
    """An effnas network holding a timm EfficientNet / EfficientNetV2 / MnasNet's weights.

    ``arch`` says what the timm network is (``from_timm`` reads its ``arch_def``); its tensors
    are renamed (``from_timm_state_dict``) and loaded strictly. A timm model built with
    TensorFlow "same" padding (``tf_`` variants) is refused: its numbers would differ.
    """
    if isinstance(model_or_state_dict, nn.Module):
        same = [name for name, m in model_or_state_dict.named_modules() if type(m).__name__.endswith("Same")]
        if same:
            raise WeightsError(f"timm model: {same[0]} pads TensorFlow's 'same' way (tf_ variants); effnas pads k // 2")
        state = model_or_state_dict.state_dict()
    else:
        state = dict(model_or_state_dict)
    mapped = from_timm_state_dict(arch, state)
    num_classes, in_channels = mapped["classifier.weight"].shape[0], mapped["stem.0.weight"].shape[1]
    model = build_model(arch, num_classes=int(num_classes), in_channels=int(in_channels))
    model.load_state_dict(mapped, strict=True)
    return model


def build_timm_model(arch: Architecture, *, num_classes: int = 1000, in_channels: int = 3) -> nn.Module:
    """timm's ``EfficientNet`` for ``arch``, from ``to_timm``'s arguments (needs ``pip install effnas[timm]``).

    Channels are taken as written (``fix_stem``, no rounding), batch norm uses the
    architecture's ``bn_eps`` and ``bn_momentum``, and padding is timm's default (k // 2).
    """
    from timm.layers import get_act_layer
    from timm.models._efficientnet_builder import decode_arch_def
    from timm.models.efficientnet import EfficientNet as TimmEfficientNet

    cfg: dict[str, Any] = to_timm(arch)
    return TimmEfficientNet(
        block_args=decode_arch_def(cfg["arch_def"]),
        num_classes=num_classes,
        in_chans=in_channels,
        stem_size=cfg["stem_size"],
        fix_stem=True,
        num_features=cfg["num_features"],
        round_chs_fn=_as_written,
        act_layer=get_act_layer(cfg["act_layer"]),
        norm_layer=partial(nn.BatchNorm2d, eps=cfg["bn_eps"], momentum=cfg["bn_momentum"]),
        drop_rate=cfg["drop_rate"],
        drop_path_rate=cfg["drop_path_rate"],
    )


def _as_written(channels: int | float) -> int:
    """timm's channel rounding, switched off: effnas architectures carry their final widths."""
    return int(channels)
