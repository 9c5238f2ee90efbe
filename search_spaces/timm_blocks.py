"""Each block kind's timm block string and timm module names.

Block strings follow timm ``_efficientnet_builder`` (the notation is in ``timm_notation.py``);
module names follow timm ``_efficientnet_blocks`` (``InvertedResidual``,
``DepthwiseSeparableConv``, ``EdgeResidual``, ``ConvBnAct``), so that weights can be renamed
between the two (``timm_weights.py``).
"""

from __future__ import annotations

from .architecture import Stage

__all__ = ["encode_fused_mbconv", "encode_mbconv", "fused_mbconv_timm_names", "mbconv_timm_names"]


def encode_mbconv(stage: Stage) -> str:
    """An MBConv stage: ``ds`` at expand 1, else ``ir``."""
    r, k, s, e, c = stage.repeats, stage.kernel, stage.stride, stage.expand, stage.channels
    return f"{'ds' if e == 1 else 'ir'}_r{r}_k{k}_s{s}_e{e}_c{c}{_se(stage)}"


def encode_fused_mbconv(stage: Stage) -> str:
    """A Fused-MBConv stage: ``er``, or ``cn_..._skip`` at expand 1 (which has no SE in timm)."""
    r, k, s, e, c = stage.repeats, stage.kernel, stage.stride, stage.expand, stage.channels
    if e != 1:
        return f"er_r{r}_k{k}_s{s}_e{e}_c{c}{_se(stage)}"
    if stage.se > 0:
        raise ValueError("a fused_mbconv stage with expand 1 and SE has no timm notation (timm 'cn' has no SE)")
    return f"cn_r{r}_k{k}_s{s}_c{c}_skip"


def _se(stage: Stage) -> str:
    return f"_se{stage.se!r}" if stage.se > 0 else ""  # repr: the shortest exact float text


def mbconv_timm_names(stage: Stage) -> dict[str, str]:
    """effnas ``MBConv`` submodule -> timm name: ``InvertedResidual``, or ``DepthwiseSeparableConv`` at expand 1."""
    if stage.expand == 1:  # timm "ds": conv_dw + bn1, se, conv_pw + bn2
        return {"depthwise.0": "conv_dw", "depthwise.1": "bn1", "project.0": "conv_pw", "project.1": "bn2", **_SE}
    return {"expand_conv.0": "conv_pw", "expand_conv.1": "bn1", "depthwise.0": "conv_dw", "depthwise.1": "bn2",
            "project.0": "conv_pwl", "project.1": "bn3", **_SE}  # fmt: skip


def fused_mbconv_timm_names(stage: Stage) -> dict[str, str]:
    """effnas ``FusedMBConv`` submodule -> timm name: ``EdgeResidual``, or ``ConvBnAct`` at expand 1."""
    if stage.expand == 1:  # timm "cn": conv + bn1
        return {"fused.0": "conv", "fused.1": "bn1"}
    return {"fused.0": "conv_exp", "fused.1": "bn1", "project.0": "conv_pwl", "project.1": "bn2", **_SE}


_SE = {"se.reduce": "se.conv_reduce", "se.expand": "se.conv_expand"}
