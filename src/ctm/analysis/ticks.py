"""How behaviour changes with the thinking budget: metrics at a range of tick counts."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
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


def sweep_ticks(evaluate: Callable[[nn.Module, Iterator[Any]], dict[str, Any]],
                model: nn.Module, batches: Callable[[], Iterator[Any]],
                ticks: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Run `evaluate(model_with_k_ticks, batches())` for every k in `ticks`."""
    return {k: evaluate(FixedTicks(model, k), batches()) for k in ticks}
