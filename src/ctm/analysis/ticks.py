"""How behaviour changes with the thinking budget: metrics at a range of tick counts."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class FixedTicks(nn.Module):
    """A model that always thinks for `ticks` ticks (for code that calls `model(x)`)."""

    def __init__(self, model: nn.Module, ticks: int) -> None:
        super().__init__()
        self.model, self.ticks, self.config = model, ticks, model.config

    def forward(self, x: torch.Tensor) -> Any:
        return self.model(x, ticks=self.ticks)

