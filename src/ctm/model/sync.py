"""Synchronisation: the CTM's representation, a decayed inner product of neuron pairs over ticks.

For a pair (i, j) with retention r = exp(-clamp(p, 0, 15)) and products p_t = z_i^t z_j^t:

    alpha_1 = p_1, beta_1 = 1;  alpha_t = r alpha_{t-1} + p_t;  beta_t = r beta_{t-1} + 1
    S_t = alpha_t / sqrt(beta_t)

Every pairing mode is stored as an explicit list of pairs, so the update gathers 2·P neuron
values per tick and never forms an n×n outer product.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import CTMConfig

DECAY_MAX = 15.0


def draw_pairs(config: CTMConfig, kind: str, generator: torch.Generator
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Choose neurons for the `out` or `action` synchronisation.

    Returns (left_neurons, right_neurons, pair_left, pair_right): the n chosen neurons on each
    side (the original code's buffers) and the P pairs they make.
    """
    n = config.n_sync_out if kind == "out" else config.n_sync_action
    d = config.d_model
    if config.pairing == "dense":
        start = 0 if kind == "out" else d - n
        left = right = torch.arange(start, start + n)
    elif config.pairing == "semi-dense":
        left = torch.randint(0, d, (n,), generator=generator)
        right = torch.randint(0, d, (n,), generator=generator)
    else:
        left = torch.randint(0, d, (n,), generator=generator)
        right = torch.cat([left[: config.n_self],
                           torch.randint(0, d, (n - config.n_self,), generator=generator)])
    pair_left, pair_right = expand_pairs(config.pairing, left, right)
    return left, right, pair_left, pair_right


def expand_pairs(pairing: str, left: torch.Tensor, right: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Neuron vectors -> pair lists. Dense modes take all i <= j of left × right, row-major."""
    if pairing == "random-pairing":
        return left.clone(), right.clone()
    i, j = torch.triu_indices(len(left), len(right))
    return left[i], right[j]


def clamp_decay(decay: torch.Tensor) -> torch.Tensor:
    """clamp(decay, 0, 15) in value, identity in gradient.

    A plain clamp has zero gradient outside [0, 15], so a decay that strays there (e.g. loaded
    from a checkpoint, or pushed by a large step) would never learn again. The trainer also
    projects decays back into range after each optimiser step.
    """
    return decay + (decay.clamp(0.0, DECAY_MAX) - decay).detach()


class Synchronisation(nn.Module):
    """Pairs, learnable decays, and the recurrent update for one synchronisation vector."""

    def __init__(self, config: CTMConfig, kind: str, generator: torch.Generator) -> None:
        super().__init__()
        _, _, pair_left, pair_right = draw_pairs(config, kind, generator)
        self.register_buffer("pair_left", pair_left)
        self.register_buffer("pair_right", pair_right)
        self.decay = nn.Parameter(torch.full((len(pair_left),), float(config.decay_init)))

    @property
    def size(self) -> int:
        return self.pair_left.numel()

    def retention(self) -> torch.Tensor:
        """(P,) factor r = exp(-clamp(decay)) applied to past ticks."""
        return torch.exp(-clamp_decay(self.decay))

    def products(self, z: torch.Tensor) -> torch.Tensor:
        """(B, D) post-activations -> (B, P) pair products."""
        # index_select, not z[:, idx]: its backward is an index_add instead of an index_put
        # with accumulation, 3x faster for forward + backward on a CPU
        return z.index_select(1, self.pair_left) * z.index_select(1, self.pair_right)

    def start(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """First tick's (alpha, beta); beta does not depend on the batch, so it is (P,)."""
        alpha = self.products(z)
        return alpha, torch.ones_like(alpha[0])

    def update(self, z: torch.Tensor, alpha: torch.Tensor, beta: torch.Tensor, r: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
        return r * alpha + self.products(z), r * beta + 1

    @staticmethod
    def read(alpha: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        return alpha / torch.sqrt(beta)
