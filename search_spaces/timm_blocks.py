"""Each block kind's timm block string (timm ``_efficientnet_builder``; the notation is in
``timm_notation.py``)."""

from __future__ import annotations

from .architecture import Stage

__all__ = ["encode_fused_mbconv", "encode_mbconv"]


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
