"""The block registry: for each block kind, its module, its analytic cost and its timm codec.

One table is the only place a block kind is dispatched on: the builder, the analytic
counters and the timm notation all look a stage's ``block`` up here, and an unknown kind is
an error everywhere (``block_kind``), never a fallback to another block.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from .architecture import BLOCKS, Stage
from .block_costs import Cost, fused_mbconv_cost, mbconv_cost
from .blocks import FusedMBConv, MBConv
from .timm_blocks import encode_fused_mbconv, encode_mbconv, fused_mbconv_timm_names, mbconv_timm_names

__all__ = ["BLOCKS", "BLOCK_KINDS", "BlockKind", "block_kind", "timm_block_kind"]


@dataclass(frozen=True)
class BlockKind:
    """One block kind: the ``torch`` module, its exact cost per block, its timm strings and abilities.

        ``timm_types`` are the timm block-string types that decode to this kind (timm
        ``_efficientnet_builder._decode_block_str``); ``timm_names`` renames a block's submodules
    to timm's (``timm_weights.py``). ``takes_se``: whether the search spaces
        offer squeeze-excite on this kind (MnasNet's and EfficientNet's MBConv do; EfficientNetV2
        puts none on Fused-MBConv, P2 Table 4), so a space asks its SE ratio only of such stages.
    """

    name: str
    module: type[nn.Module]
    cost: Callable[..., Cost]
    encode_timm: Callable[[Stage], str]
    timm_types: tuple[str, ...]
    takes_se: bool
    timm_names: Callable[[Stage], dict[str, str]]


BLOCK_KINDS: dict[str, BlockKind] = {
    # MnasNet / EfficientNet MBConv (PM §4.1; timm InvertedResidual "ir", DepthwiseSeparable "ds")
    "mbconv": BlockKind(
        "mbconv", MBConv, mbconv_cost, encode_mbconv, ("ds", "ir"), takes_se=True, timm_names=mbconv_timm_names
    ),
    # EfficientNetV2 Fused-MBConv (P2 Fig. 2; timm EdgeResidual "er", ConvBnAct "cn")
    "fused_mbconv": BlockKind(
        "fused_mbconv",
        FusedMBConv,
        fused_mbconv_cost,
        encode_fused_mbconv,
        ("er", "cn"),
        takes_se=False,
        timm_names=fused_mbconv_timm_names,
    ),
}

if tuple(BLOCK_KINDS) != BLOCKS:  # the format's names (architecture.BLOCKS) and the registry's agree
    raise ImportError(f"block registry {tuple(BLOCK_KINDS)} does not match the architecture format's {BLOCKS}")


def block_kind(name: str) -> BlockKind:
    """The registry entry of ``name``; raises ``ValueError`` naming an unknown kind."""
    try:
        return BLOCK_KINDS[name]
    except KeyError:
        raise ValueError(f"block: unknown kind {name!r} (known: {', '.join(BLOCK_KINDS)})") from None


def timm_block_kind(timm_type: str) -> BlockKind:
    """The block kind a timm block-string type decodes to; raises ``ValueError`` if none does."""
    for kind in BLOCK_KINDS.values():
        if timm_type in kind.timm_types:
            return kind
    known = ", ".join(t for kind in BLOCK_KINDS.values() for t in kind.timm_types)
    raise ValueError(f"unsupported block type {timm_type!r} (expected {known})")
