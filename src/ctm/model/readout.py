"""How a model turns its representation (the CTM's output synchronisation, an LSTM's hidden
state) into the logits of a tick.

`linear` is one linear layer to every output, as the paper's CTM has it. `cells` is made for
many outputs, such as Sudoku's 81 cells of 9 digits: the same linear layer, plus one small
network shared by every output group that reads the representation together with the group's
own learned embedding. The linear layer holds a separate direction for every cell and digit;
the shared network can learn once what "the digit of a cell" means, with each cell's
embedding saying which cell it is asking about. (Alone, without the linear layer, the shared
network answered far fewer 6×6 Sudoku cells: docs/results.md.)
"""

from __future__ import annotations

import torch
from torch import nn

from .config import READOUTS, CTMConfig

__all__ = ["READOUTS", "CellReadout", "build_readout"]


class CellReadout(nn.Module):
    """(B, features) -> (B, groups * classes): for each group g, logits = L_g x + W2 ·
    GELU(LN(W1 x + e_g)) + b2, with L the plain linear read-out, W1, W2 shared by every group
    and e_g the group's embedding."""

    def __init__(self, in_features: int, groups: int, classes: int, hidden: int) -> None:
        super().__init__()
        self.project = nn.Linear(in_features, hidden)
        self.cells = nn.Parameter(torch.randn(groups, hidden) * hidden ** -0.5)
        self.norm = nn.LayerNorm(hidden)
        self.classify = nn.Linear(hidden, classes)
        self.linear = nn.Linear(in_features, groups * classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        hidden = self.project(features).unsqueeze(1) + self.cells  # (B, groups, hidden)
        shared = self.classify(nn.functional.gelu(self.norm(hidden))).flatten(1)
        return self.linear(features) + shared


def build_readout(config: CTMConfig, in_features: int) -> nn.Module:
    """The read-out `config.readout` names, from `in_features` values to `config.out_dims`."""
    if config.readout == "linear":
        return nn.Linear(in_features, config.out_dims)
    groups = config.out_groups_shape
    # as wide as the representation: every cell reads the whole of it (a narrower hidden
    # layer is a bottleneck all cells share, and answered far fewer 6x6 cells)
    return CellReadout(in_features, groups=groups[0], classes=groups[-1], hidden=in_features)
