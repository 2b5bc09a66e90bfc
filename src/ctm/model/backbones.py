"""Backbones: turn a task's raw input into feature tokens (B, N_tok, C).

Each is registered in `BACKBONES` with its token width; a new one is one decorated builder.
Parameter names follow the original research code's (`conv1`, `bn1`, `layer1`, ...) where the
structure is the same, so checkpoints convert by renaming only.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from .config import CTMConfig
from .registry import BACKBONES


@dataclass(frozen=True)
class Backbone:
    build: Callable[[CTMConfig], nn.Module]  # config -> module, input -> (B, N_tok, C)
    channels: Callable[[CTMConfig], int]  # C, the width of its tokens
    sequence: bool  # tokens are positions of a sequence (a 1-D positional embedding applies)
    # image backbones: an H×W image -> the (rows, columns) of the tokens it makes, for
    # pictures of attention; None where tokens are no grid
    grid: Callable[[int, int], tuple[int, int]] | None = None


def register_backbone(name: str, *, summary: str, channels: Callable[[CTMConfig], int],
                      sequence: bool = False
                      ) -> Callable[[Callable[[CTMConfig], nn.Module]],
                                    Callable[[CTMConfig], nn.Module]]:
    """`@register_backbone("name", summary=..., channels=...)` over a builder
    `config -> nn.Module` makes `CTMConfig(backbone="name")` valid everywhere."""
    def decorate(build: Callable[[CTMConfig], nn.Module]) -> Callable[[CTMConfig], nn.Module]:
        BACKBONES.add(name, Backbone(build, channels, sequence), summary)
        return build

    return decorate


class RotationalEmbedding1D(nn.Module):
    """Position i of L: the vector (0, 1) rotated by angle 180°·i/(L-1), then Linear(2 -> C)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.projection = nn.Linear(2, channels)

    def forward(self, length: int, device: torch.device) -> torch.Tensor:
        theta = torch.deg2rad(torch.linspace(0, 180, length, device=device))
        # rotating (0, 1) by theta gives (-sin theta, cos theta)
        rotated = torch.stack([-torch.sin(theta), torch.cos(theta)], dim=-1)  # (L, 2)
        return self.projection(rotated)  # (L, C)


class ParityBackbone(nn.Module):
    """Embeds a ±1 sequence (B, L) as tokens (B, L, C): +1 -> row 1, anything else -> row 0."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(2, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2:
            raise ValueError(f"parity backbone expects (B, L) sequences, got {tuple(x.shape)}")
        return self.embedding((x == 1).long())


def _conv3x3(c_in: int, c_out: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, c_in: int, width: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = _conv3x3(c_in, width, stride)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = _conv3x3(width, width)
        self.bn2 = nn.BatchNorm2d(width)
        self.downsample = _shortcut(c_in, width * self.expansion, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        skip = x if self.downsample is None else self.downsample(x)
        return torch.relu(out + skip)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, c_in: int, width: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = _conv3x3(width, width, stride)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, width * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(width * self.expansion)
        self.downsample = _shortcut(c_in, width * self.expansion, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = torch.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        skip = x if self.downsample is None else self.downsample(x)
        return torch.relu(out + skip)


def _shortcut(c_in: int, c_out: int, stride: int) -> nn.Sequential | None:
    if stride == 1 and c_in == c_out:
        return None
    return nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False),
                         nn.BatchNorm2d(c_out))


_RESNET_BLOCKS = {
    "resnet18": (BasicBlock, (2, 2, 2, 2)),
    "resnet34": (BasicBlock, (3, 4, 6, 3)),
    "resnet50": (Bottleneck, (3, 4, 6, 3)),
    "resnet101": (Bottleneck, (3, 4, 23, 3)),
    "resnet152": (Bottleneck, (3, 8, 36, 3)),
}


class ResNetStages(nn.Module):
    """The first k stages of a ResNet, (B, 3, H, W) -> feature map (B, C, H', W').

    The stem is a 3×3 stride-1 convolution (not ImageNet's 7×7 stride-2) so that tokens stay
    small enough for attention to "look around"; then BatchNorm, ReLU and a 3×3 stride-2
    max-pool. Stages after the first halve the resolution.
    """

    def __init__(self, name: str) -> None:
        super().__init__()
        family, stages = name.split("-")
        block, depths = _RESNET_BLOCKS[family]
        self.conv1 = _conv3x3(3, 64)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        c_in = 64
        for stage in range(int(stages)):
            width = 64 * 2**stage
            blocks = []
            for i in range(depths[stage]):
                stride = 2 if stage > 0 and i == 0 else 1
                blocks.append(block(c_in, width, stride))
                c_in = width * block.expansion
            self.add_module(f"layer{stage + 1}", nn.Sequential(*blocks))
        self.n_stages = int(stages)
        self.out_channels = c_in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.maxpool(torch.relu(self.bn1(self.conv1(x))))
        for stage in range(1, self.n_stages + 1):
            out = getattr(self, f"layer{stage}")(out)
        return out


class ImageBackbone(nn.Module):
    """Images (B, C_in, H, W) -> tokens (B, H'·W', C): a 1×1 convolution to 3 channels
    (`initial_rgb`, so any channel count works), then ResNet stages, one token per position."""

    def __init__(self, name: str, in_channels: int) -> None:
        super().__init__()
        self.initial_rgb = nn.Conv2d(in_channels, 3, 1)
        self.resnet = ResNetStages(name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f"image backbone expects (B, C, H, W) images, got {tuple(x.shape)}")
        return self.resnet(self.initial_rgb(x)).flatten(2).transpose(1, 2)


class PassThrough(nn.Module):
    """The input as it is: already tokens (B, N, C) for attention, or any (B, ...) for direct
    input, which flattens it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


@register_backbone("parity", sequence=True, channels=lambda c: c.d_input,
                   summary="±1 sequence (B, L) -> one learned embedding per position")
def _parity(config: CTMConfig) -> nn.Module:
    return ParityBackbone(config.d_input)


@register_backbone("none", sequence=True, channels=lambda c: c.in_channels,
                   summary="the input as it is: tokens (B, N, in_channels), or (B, ...) for "
                           "input_mode direct")
def _none(config: CTMConfig) -> nn.Module:
    return PassThrough()


def _resnet_grid(stages: int, height: int, width: int) -> tuple[int, int]:
    """The stride-2 max-pool, then one halving per stage after the first."""
    h, w = (height - 1) // 2 + 1, (width - 1) // 2 + 1
    for _ in range(stages - 1):
        h, w = (h - 1) // 2 + 1, (w - 1) // 2 + 1
    return h, w


for _family in _RESNET_BLOCKS:
    _base = 64 if _family in ("resnet18", "resnet34") else 256
    for _stages in range(1, 5):
        BACKBONES.add(f"{_family}-{_stages}",
                      Backbone(lambda c: ImageBackbone(c.backbone, c.in_channels),
                               lambda c, k=_stages, base=_base: base * 2 ** (k - 1),
                               sequence=False, grid=functools.partial(_resnet_grid, _stages)),
                      summary="images (B, C, H, W) -> the first 1-4 stages of a ResNet, one "
                              "token per position", family=_family)


def build_backbone(config: CTMConfig) -> nn.Module:
    """The backbone named by `config.backbone`, producing (B, N_tok, backbone_channels)."""
    return BACKBONES.get(config.backbone).build(config)


def build_positional_embedding(config: CTMConfig) -> RotationalEmbedding1D | None:
    if config.positional_embedding == "none":
        return None
    return RotationalEmbedding1D(config.backbone_channels)

