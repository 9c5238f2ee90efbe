"""``Architecture`` -> ``torch.nn.Module``."""

from __future__ import annotations

import math

import torch
from torch import nn

from .architecture import Architecture
from .blocks import BNSettings, ConvBNAct
from .registry import block_kind

__all__ = ["EfficientNet", "build_model", "drop_path_rates"]


def drop_path_rates(arch: Architecture) -> list[float]:
    """Per-block stochastic-depth rate ``drop_path * idx / num_blocks`` (0-based idx).

    The linear schedule of TPU ``efficientnet_model``, torchvision and timm:
    the first block never drops, the last drops just under ``drop_path``.
    """
    total = arch.num_blocks
    return [arch.drop_path * idx / total for idx in range(total)]


class EfficientNet(nn.Module):
    """Stem, stages of blocks, head conv, global pool, dropout, linear classifier."""

    def __init__(self, arch: Architecture, *, num_classes: int, in_channels: int = 3) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes: must be >= 1, got {num_classes}")
        if in_channels < 1:
            raise ValueError(f"in_channels: must be >= 1, got {in_channels}")
        bn: BNSettings = (arch.bn_momentum, arch.bn_eps)
        act = arch.activation
        self.stem = ConvBNAct(in_channels, arch.stem.channels, kernel=3, stride=2, bn=bn, activation=act)
        rates = iter(drop_path_rates(arch))
        stages: list[nn.Module] = []
        channels = arch.stem.channels
        for stage in arch.stages:
            block_cls = block_kind(stage.block).module
            blocks = []
            for i in range(stage.repeats):
                blocks.append(
                    block_cls(
                        channels,
                        stage.channels,
                        kernel=stage.kernel,
                        stride=stage.stride if i == 0 else 1,
                        expand=stage.expand,
                        se=stage.se,
                        activation=act,
                        bn=bn,
                        drop_path=next(rates),
                    )
                )
                channels = stage.channels
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.head = ConvBNAct(channels, arch.head.channels, kernel=1, bn=bn, activation=act)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(arch.dropout)
        self.classifier = nn.Linear(arch.head.channels, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        """Conv: He normal with fan-out; linear: uniform +-1/sqrt(out) (TPU, torchvision; §1.3)."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                bound = 1.0 / math.sqrt(m.out_features)
                nn.init.uniform_(m.weight, -bound, bound)
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.forward_features(x)).flatten(1)
        return self.classifier(self.dropout(x))


def build_model(arch: Architecture, *, num_classes: int = 1000, in_channels: int = 3) -> EfficientNet:
    """Build the network described by ``arch`` for ``num_classes`` outputs."""
    return EfficientNet(arch, num_classes=num_classes, in_channels=in_channels)
