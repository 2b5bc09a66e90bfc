"""The original research code's reinforcement-learning agent (its `models/ctm_rl.py` and the
`Agent` of `tasks/rl/train.py`), for users who compare with the paper's RL results.

It thinks differently from our CTM carrying its state (architecture "ctm"):
- synchronisation is recomputed at every tick from a sliding window: the last `memory_length`
  post-activations of the last `n_sync_out` neurons, every pair i <= j, the tick k steps old
  weighted by exp(-p k) with each pair's p clamped to [0, 4], the sum divided by the square
  root of the weights' sum. Our CTM accumulates synchronisation over the whole episode
  (p clamped to [0, 15]), so what it read many steps ago still counts;
- the synapses read the observation's features directly, beside the last post-activations:
  no attention and so no action synchronisation (`heads`, `n_sync_action` go unused);
- what is carried from step to step is both windows, pre- and post-activations, each started
  from a learned (D, M) trace;
- the policy and the value are two separate MLPs over the synchronisation (-> 64 -> 64 ->,
  ReLU, orthogonal initialisation), where our CTM reads both from it with one linear map each;
- the observation goes through two GLU layers of width `d_input` (Linear, GLU, LayerNorm,
  twice), and a depth-1 synapse is two such blocks where ours is one.

The original reads its actor once, after the last tick; this one reads it at every tick, so
that certainty over ticks can be shown. The last tick's logits are the original's, number for
number (tests/test_original_rl.py, on fixtures the original code produced).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from .config import CTMConfig, CTMOutput
from .ctm import certainty
from .neurons import NeuronLevelModels
from .pretrained import Pretrained
from .registry import ARCHITECTURES
from .state import CarriedBatch
from .synapse import SynapseUNet

DECAY_MAX = 4.0  # the original's clamp for the windowed synchronisation
HEAD_WIDTH = 64


@dataclass
class WindowState(CarriedBatch):
    """What the original's agent carries from one environment step to the next."""

    pre: torch.Tensor  # (B, D, M): the last M pre-activations, oldest first
    post: torch.Tensor  # (B, D, M): the last M post-activations, oldest first


def _glu_block(n_in: int, width: int) -> list[nn.Module]:
    return [nn.Linear(n_in, 2 * width), nn.GLU(), nn.LayerNorm(width)]


def _head(n_in: int, n_out: int) -> nn.Sequential:
    layers = [nn.Linear(n_in, HEAD_WIDTH), nn.ReLU(), nn.Linear(HEAD_WIDTH, HEAD_WIDTH),
              nn.ReLU(), nn.Linear(HEAD_WIDTH, n_out)]
    for layer in layers[::2]:
        assert isinstance(layer, nn.Linear)
        nn.init.orthogonal_(layer.weight, 1.0)
        nn.init.zeros_(layer.bias)
    return nn.Sequential(*layers)


@ARCHITECTURES.register("original-rl", summary="the original code's RL agent: synchronisation "
                                               "over the last memory_length ticks, separate "
                                               "actor and critic")
class OriginalRLAgent(Pretrained, nn.Module):
    """The original's RL agent over flat observations (`input_mode` "direct")."""

    input_modes = ("direct",)
    answers_over_ticks: ClassVar[bool] = True
    carries_state: ClassVar[bool] = True
    traces: ClassVar[bool] = True
    # model fields this architecture implies when a run does not give them: it synchronises
    # the last n_sync_out neurons densely, as the original's "first-last" selection does
    implied_fields: ClassVar[dict[str, object]] = {"pairing": "dense", "n_self": 0}

    @staticmethod
    def check_config(config: CTMConfig, need: Callable[[bool, str], None]) -> None:
        need(config.pairing == "dense", "the original-rl agent pairs the last n_sync_out "
             f"neurons densely (pairing 'dense'), not {config.pairing!r}")
        need(config.backbone == "none", "the original-rl agent brings its own observation "
             f"layers (backbone 'none'), not {config.backbone!r}")
        need(config.n_sync_out <= config.d_model,
             f"n_sync_out ({config.n_sync_out}) must be <= d_model ({config.d_model})")

    def __init__(self, config: CTMConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        d, m, width, n = config.d_model, config.memory_length, config.d_input, config.n_sync_out
        self.backbone = nn.Sequential(*_glu_block(config.input_size, width),
                                      *_glu_block(width, width))
        if config.synapse_depth == 1:
            self.synapse: nn.Module = nn.Sequential(nn.Dropout(config.dropout),
                                                    *_glu_block(width + d, d),
                                                    *_glu_block(d, d))
        else:
            self.synapse = SynapseUNet(width + d, d, config.synapse_depth, config.dropout)
        self.nlm = NeuronLevelModels(config)
        bound = math.sqrt(1 / (d + m))
        self.start_pre = nn.Parameter(torch.empty(d, m).uniform_(-bound, bound))
        self.start_post = nn.Parameter(torch.empty(d, m).uniform_(-bound, bound))
        left, right = torch.triu_indices(n, n)
        self.register_buffer("pair_left", d - n + left, persistent=False)
        self.register_buffer("pair_right", d - n + right, persistent=False)
        self.decay = nn.Parameter(torch.full((len(left),), float(config.decay_init)))
        self.actor = _head(len(left), config.out_dims)
        self.critic = _head(len(left), 1) if config.value_head else None

    def initial_state(self, batch_size: int) -> WindowState:
        return WindowState(self.start_pre.expand(batch_size, -1, -1),
                           self.start_post.expand(batch_size, -1, -1))

    def synchronisation(self, post: torch.Tensor) -> torch.Tensor:
        """(B, D, M) post-activation window -> (B, P) synchronisation of the pairs."""
        m = post.shape[-1]
        age = torch.arange(m - 1, -1, -1, device=post.device, dtype=post.dtype)  # newest: 0
        weights = torch.exp(-age[:, None] * self.decay.clamp(0.0, DECAY_MAX)[None])  # (M, P)
        products = post[:, self.pair_left] * post[:, self.pair_right]  # (B, P, M)
        return (products * weights.t()).sum(-1) / weights.sum(0).sqrt()

    def forward(self, x: torch.Tensor, ticks: int | None = None, trace: bool = False,
                state: WindowState | None = None) -> CTMOutput:
        n_ticks = self.config.ticks if ticks is None else int(ticks)
        if n_ticks < 1:
            raise ValueError(f"ticks must be >= 1, got {n_ticks}")
        features = self.backbone(x.reshape(x.shape[0], -1))
        start = state if state is not None else self.initial_state(x.shape[0])
        pre, post = start.pre, start.post
        weights = self.nlm.scaled_weights()
        logits, pres, posts, syncs = [], [], [], []
        for _ in range(n_ticks):
            a = self.synapse(torch.cat([features, post[:, :, -1]], -1))  # (B, D)
            pre = torch.cat([pre[:, :, 1:], a.unsqueeze(-1)], -1)
            z = self.nlm(pre.permute(1, 2, 0), weights)  # (D, M, B) -> (B, D)
            post = torch.cat([post[:, :, 1:], z.unsqueeze(-1)], -1)
            s = self.synchronisation(post)
            logits.append(self.actor(s))
            if trace:
                pres.append(a.detach())
                posts.append(z.detach())
                syncs.append(s.detach())
        stacked = torch.stack(logits, 1)  # (B, T, out_dims)
        out = CTMOutput(logits=stacked, certainty=certainty(stacked, self.config.out_groups_shape),
                        sync_out=s, state=WindowState(pre, post))
        if self.critic is not None:
            out.value = self.critic(s).squeeze(-1)  # (B,)
        if trace:
            out.pre_activations = torch.stack(pres, 1)
            out.post_activations = torch.stack(posts, 1)
            out.sync_out_trace = torch.stack(syncs, 1)
        return out
