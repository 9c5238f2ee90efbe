"""timm's ``arch_def`` block-string notation: one encoder and one decoder.

timm's own decoder is ``_efficientnet_builder._decode_block_str``.

A stage becomes one block string: ``ds`` (MBConv with expand 1), ``ir`` (MBConv), ``er``
(Fused-MBConv, timm ``EdgeResidual``) or ``cn_..._skip`` (Fused-MBConv with expand 1,
timm ``ConvBnAct``). Fields: ``r`` repeats, ``k`` kernel, ``s`` stride (one digit),
``e`` expand, ``c`` *output* channels, ``se`` ratio. timm tracks input channels itself.

timm rounds an expanded width to a multiple of 8 and the SE width with ``round``; effnas
uses ``in * expand`` and ``int(in * se)``. They agree when the channels are multiples of 8
(every preset and every searched architecture), which is what the timm strings assume.
Batch-norm settings are not part of ``arch_def``: ``to_timm`` gives them as ``bn_eps`` and
``bn_momentum`` beside it (timm's PyTorch-trained weights use eps 1e-5, its ``tf_`` ports and
effnas 1e-3), and ``from_timm`` reads them back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .architecture import Architecture, Head, Stage, Stem
from .registry import block_kind, timm_block_kind

__all__ = ["decode_block_string", "encode_stage", "from_timm", "to_timm"]

_ACT_TO_TIMM = {"silu": "swish", "relu": "relu"}
_ACT_FROM_TIMM = {"swish": "silu", "silu": "silu", "relu": "relu"}


def encode_stage(stage: Stage) -> str:
    """The timm block string of one stage, by its kind's entry in the block registry."""
    return block_kind(stage.block).encode_timm(stage)


def decode_block_string(text: str) -> Stage:
    """Parse one timm block string into a stage; raises ``ValueError`` naming the bad token."""
    if not isinstance(text, str) or not text:
        raise ValueError(f"block string: must be a non-empty string, got {text!r}")
    kind, *tokens = text.split("_")
    try:
        block = timm_block_kind(kind).name
    except ValueError as exc:
        raise ValueError(f"{text!r}: {exc}") from None
    values: dict[str, str] = {}
    skip = False
    for token in tokens:
        if token == "skip":
            skip = True
            continue
        key = "se" if token.startswith("se") else token[:1]
        raw = token[len(key) :]
        if key not in ("r", "k", "s", "e", "c", "se") or not raw or key in values:
            raise ValueError(f"{text!r}: unsupported or repeated token {token!r}")
        values[key] = raw
    try:
        r, k, s, c = (int(values[key]) for key in ("r", "k", "s", "c"))
        e = int(values.get("e", "1"))
        se = float(values.get("se", "0"))
    except KeyError as exc:
        raise ValueError(f"{text!r}: missing token {exc.args[0]!r}") from None
    except ValueError:
        raise ValueError(f"{text!r}: a token's value is not a number") from None
    if kind == "cn":
        if not skip or e != 1 or se:
            raise ValueError(f"{text!r}: 'cn' blocks are read as Fused-MBConv e1 and need '_skip', no 'e' or 'se'")
        return Stage(block, r, k, s, 1, c, 0.0)
    if skip:
        raise ValueError(f"{text!r}: unsupported token 'skip' for {kind!r}")
    if kind == "ds" and e != 1:
        raise ValueError(f"{text!r}: 'ds' blocks have expand 1, got e{e}")
    return Stage(block, r, k, s, e, c, se)


def to_timm(arch: Architecture) -> dict[str, Any]:
    """timm ``EfficientNet`` keyword arguments: ``arch_def`` (one list per stage) and the rest."""
    return {
        "name": arch.name,
        "resolution": arch.resolution,
        "arch_def": [[encode_stage(stage)] for stage in arch.stages],
        "stem_size": arch.stem.channels,
        "num_features": arch.head.channels,
        "act_layer": _ACT_TO_TIMM[arch.activation],
        "drop_rate": arch.dropout,
        "drop_path_rate": arch.drop_path,
        "bn_eps": arch.bn_eps,
        "bn_momentum": arch.bn_momentum,
    }


def from_timm(data: Mapping[str, Any]) -> Architecture:
    """Decode ``to_timm``'s output (or hand-written timm kwargs) into an ``Architecture``."""
    arch_def = data.get("arch_def")
    if not isinstance(arch_def, list) or not arch_def:
        raise ValueError(f"arch_def: must be a non-empty list of lists of strings, got {arch_def!r}")
    stages: list[Stage] = []
    for i, group in enumerate(arch_def):
        if not isinstance(group, list) or not group:
            raise ValueError(f"arch_def[{i}]: must be a non-empty list of block strings, got {group!r}")
        stages.extend(decode_block_string(text) for text in group)
    act = data.get("act_layer", "swish")
    if act not in _ACT_FROM_TIMM:
        raise ValueError(f"act_layer: must be one of {', '.join(_ACT_FROM_TIMM)}, got {act!r}")
    return Architecture(
        name=data.get("name", "timm"),
        resolution=data.get("resolution", 224),
        stem=Stem(data.get("stem_size", 32)),
        stages=tuple(stages),
        head=Head(data.get("num_features", 1280)),
        dropout=data.get("drop_rate", 0.2),
        drop_path=data.get("drop_path_rate", 0.2),
        activation=_ACT_FROM_TIMM[act],
        bn_momentum=data.get("bn_momentum", 0.1),
        bn_eps=data.get("bn_eps", 1e-3),
    )
