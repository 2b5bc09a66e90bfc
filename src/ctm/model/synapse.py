"""Synapses: the model that mixes information across neurons, [attention output, z] -> a."""

from __future__ import annotations

import torch
from torch import nn

from .config import CTMConfig

UNET_MIN_WIDTH = 16


class SynapseGLU(nn.Module):
    """Depth 1: Dropout, Linear(-> 2D), GLU, LayerNorm(D)."""

    def __init__(self, n_in: int, d_model: int, dropout: float) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(n_in, 2 * d_model)
        self.glu = nn.GLU()
        self.norm = nn.LayerNorm(d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.glu(self.linear(self.dropout(x))))


def unet_widths(d_model: int, depth: int) -> list[int]:
    """`depth` widths from d_model down to 16, evenly spaced and truncated to int (as the
    original's numpy linspace does; the same float operations give the same integers)."""
    step = (UNET_MIN_WIDTH - d_model) / (depth - 1)
    widths = [d_model + i * step for i in range(depth)]
    widths[-1] = UNET_MIN_WIDTH
    return [int(w) for w in widths]


def _block(n_in: int, n_out: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(nn.Dropout(dropout), nn.Linear(n_in, n_out), nn.LayerNorm(n_out),
                         nn.SiLU())


class SynapseUNet(nn.Module):
    """Depth k > 1: a U-Net MLP over widths linspace(D, 16, k) with LayerNorm(up + skip)."""

    def __init__(self, n_in: int, d_model: int, depth: int, dropout: float) -> None:
        super().__init__()
        widths = unet_widths(d_model, depth)
        self.first_projection = nn.Sequential(nn.Linear(n_in, widths[0]),
                                              nn.LayerNorm(widths[0]), nn.SiLU())
        self.down_projections = nn.ModuleList(
            _block(widths[i], widths[i + 1], dropout) for i in range(depth - 1))
        self.up_projections = nn.ModuleList(
            _block(widths[i + 1], widths[i], dropout) for i in range(depth - 1))
        self.skip_lns = nn.ModuleList(nn.LayerNorm(widths[i]) for i in range(depth - 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        downs = [self.first_projection(x)]
        for block in self.down_projections:
            downs.append(block(downs[-1]))
        out = downs[-1]
        for level in reversed(range(len(self.up_projections))):
            out = self.skip_lns[level](self.up_projections[level](out) + downs[level])
        return out


def build_synapse(config: CTMConfig, n_in: int) -> nn.Module:
    if config.synapse_depth == 1:
        return SynapseGLU(n_in, config.d_model, config.dropout)
    return SynapseUNet(n_in, config.d_model, config.synapse_depth, config.dropout)
