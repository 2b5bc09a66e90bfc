"""Neuron-level models: every neuron maps its own pre-activation history to its post-activation.

Weights are laid out (D, out, in) and applied with one batched matrix product over neurons to a
history kept as (D, M, B), giving (D, out, B): no per-call transposes, `bmm` instead of the slow
einsum path that the original (in, out, D) layout takes on CPU, and each GLU half is one
contiguous (H, B) block per neuron, which elementwise kernels run much faster than strided
halves of a last dimension.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import CTMConfig


class PrivateLinear(nn.Module):
    """D independent Linear(in -> out) maps, divided by one learned temperature (init 1)."""

    def __init__(self, neurons: int, n_in: int, n_out: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(n_in + n_out)
        self.weight = nn.Parameter(torch.empty(neurons, n_out, n_in).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.zeros(neurons, n_out, 1))
        self.temperature = nn.Parameter(torch.ones(1))

    def scaled(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(W / T, b / T): the temperature folded into the small weight and bias instead of
        dividing the large output (and its gradient) by T."""
        inverse = 1.0 / self.temperature
        return self.weight * inverse, self.bias * inverse


class NeuronLevelModels(nn.Module):
    """Deep: PrivateLinear(M -> 2H), GLU, PrivateLinear(H -> 2), GLU. Shallow: (M -> 2), GLU."""

    def __init__(self, config: CTMConfig) -> None:
        super().__init__()
        d, m, h = config.d_model, config.memory_length, config.nlm_hidden
        widths = [(m, 2 * h), (h, 2)] if config.deep_nlm else [(m, 2)]
        self.layers = nn.ModuleList(PrivateLinear(d, n_in, n_out) for n_in, n_out in widths)
        self.dropout = nn.Dropout(config.dropout_nlm)

    def scaled_weights(self) -> tuple[torch.Tensor, ...]:
        """Every layer's (W / T, b / T), flattened. The tick loop computes them once per
        forward pass and hands them to every tick: scaling the weights at every tick, and
        its backward, took a fifth of a maze training step."""
        # a list, not a generator: torch.compile traces it without breaking the graph
        return tuple([t for layer in self.layers for t in layer.scaled()])

    def forward(self, history: torch.Tensor, weights: tuple[torch.Tensor, ...] | None = None
                ) -> torch.Tensor:
        # history: (D, M, B) -> post-activations (B, D)
        weights = weights if weights is not None else self.scaled_weights()
        out = history
        for i in range(len(self.layers)):
            weight, bias = weights[2 * i], weights[2 * i + 1]
            out = F.glu(torch.baddbmm(bias, weight, self.dropout(out)), dim=1)
        return out.squeeze(1).t()
