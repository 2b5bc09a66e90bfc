"""How a task's input reaches the neurons: the input modes, registered in `INPUT_MODES`.

Every mode splits its work in two so the tick loop stays cheap and compilable: `encode` runs once
per forward pass (the backbone, projections that depend on the input alone) and returns tensors;
`forward` runs every tick on `at_tick`'s slice of them, with the query source (the action
synchronisation in a CTM, the hidden state in the LSTM baseline) when the mode uses one, and
returns what is concatenated into the synapse input, plus attention weights if it attends.

- `attention`: keys and values from backbone tokens, projected once; each tick projects one
  query and attends.
- `direct`: no attention and no action synchronisation; the flattened backbone output is
  projected once and the same vector joins the synapse input every tick (the paper's sorting).
- `schedule`: a different token set at each tick, (B, T_in, N, C); a token of all zeros is
  absent, a tick with no token (and every tick after T_in) reads nothing, so a task can show
  inputs one after another and then leave the model to think (the paper's Q&A).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from .backbones import PassThrough, build_backbone, build_positional_embedding
from .config import CTMConfig
from .registry import INPUT_MODES


class InputMode(nn.Module):
    """Base of the input modes; subclasses register with `@INPUT_MODES.register(...)`."""

    uses_query: ClassVar[bool] = True  # reads a query each tick (a CTM's action sync)
    out_features: int  # width of what joins the synapse input each tick

    @classmethod
    def check(cls, config: CTMConfig, need: Callable[[bool, str], None]) -> None:
        """Validate the config fields this mode reads (`need(ok, message)`)."""

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Per-forward work on the whole input."""
        raise NotImplementedError

    def at_tick(self, encoded: tuple[torch.Tensor, ...], tick: int
                ) -> tuple[torch.Tensor, ...]:
        """The encoded tensors one tick reads (all of them, unless input changes over ticks)."""
        return encoded

    def forward(self, query_source: torch.Tensor | None, *tick_inputs: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """-> (B, out_features), and attention weights (B, heads, N_tok) or None."""
        raise NotImplementedError


@dataclass
class EncodedInput:
    # laid out (B, heads, head_dim, N_tok): token-last, so that the per-tick multiply-and-sum
    # runs over long contiguous rows even where head_dim is tiny (4 in the CIFAR recipe)
    keys: torch.Tensor
    values: torch.Tensor


class TokenAttention(nn.Module):
    """Multi-head attention of one query over N tokens.

    Same parameters (names, shapes, initialisation) as `torch.nn.MultiheadAttention`, but the
    key/value projection is split from the per-query work so it runs once, not once per tick.
    """

    def __init__(self, width: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.width, self.heads, self.dropout = width, heads, dropout
        self.in_proj_weight = nn.Parameter(torch.empty(3 * width, width))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * width))
        self.out_proj = nn.Linear(width, width)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def project_kv(self, tokens: torch.Tensor) -> EncodedInput:
        b, n, _ = tokens.shape
        w, bias = self.in_proj_weight, self.in_proj_bias
        d = self.width
        kv = F.linear(tokens, w[d:], bias[d:])  # (B, N, 2d)
        kv = kv.view(b, n, 2, self.heads, d // self.heads).permute(2, 0, 3, 4, 1).contiguous()
        return EncodedInput(keys=kv[0], values=kv[1])  # each (B, heads, head_dim, N)

    def forward(self, query: torch.Tensor, encoded: EncodedInput,
                present: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """query (B, d) -> output (B, d) and attention weights (B, heads, N_tok). `present`
        (B, N_tok) marks the tokens that exist; a sample with none attends to nothing (zero
        weights)."""
        b = query.shape[0]
        head_dim = self.width // self.heads
        q = F.linear(query, self.in_proj_weight[: self.width], self.in_proj_bias[: self.width])
        q = q.view(b, self.heads, head_dim, 1) / math.sqrt(head_dim)
        # one query per head: multiply-and-sum instead of (1 x hd) @ (hd x N) matrix products,
        # whose backward runs as batched outer products that CPUs do slowly (attention forward
        # + backward 2.5x faster at the three benchmark sizes)
        scores = (q * encoded.keys).sum(2)  # (B, h, N)
        if present is None:
            weights = torch.softmax(scores, dim=-1)
        else:
            scores = scores.masked_fill(~present.unsqueeze(1), float("-inf"))
            # a row with no token is all -inf: its softmax is NaN, and it attends to nothing
            weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)
        dropped = F.dropout(weights, self.dropout, self.training) if self.dropout else weights
        out = (dropped.unsqueeze(2) * encoded.values).sum(-1).reshape(b, self.width)
        return self.out_proj(out), weights


@INPUT_MODES.register("attention", summary="attend over backbone tokens each tick, with a "
                                            "query from the action synchronisation")
class AttentionInput(InputMode):
    """Backbone -> tokens -> LayerNorm(Linear) keys/values; query = Linear(query source): the
    action synchronisation in a CTM, the hidden state in the LSTM baseline."""

    def __init__(self, config: CTMConfig, query_size: int) -> None:
        super().__init__()
        self.backbone = build_backbone(config)
        self.positional = build_positional_embedding(config)
        self.kv_proj = nn.Sequential(nn.Linear(config.backbone_channels, config.d_input),
                                     nn.LayerNorm(config.d_input))
        self.q_proj = nn.Linear(query_size, config.d_input)
        self.attention = TokenAttention(config.d_input, config.heads, config.dropout)
        self.out_features = config.d_input

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        tokens = self.backbone(x)  # (B, N, C)
        if tokens.dim() != 3 or tokens.shape[-1] != self.kv_proj[0].in_features:
            raise ValueError(f"attention needs tokens (B, N, {self.kv_proj[0].in_features}) "
                             f"from the backbone, got {tuple(tokens.shape)}")
        if self.positional is not None:
            tokens = tokens + self.positional(tokens.shape[1], tokens.device)
        encoded = self.attention.project_kv(self.kv_proj(tokens))
        return encoded.keys, encoded.values  # each (B, heads, head_dim, N)

    def forward(self, query_source: torch.Tensor | None, *tick_inputs: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        keys, values = tick_inputs
        return self.attention(self.q_proj(query_source), EncodedInput(keys, values))


@INPUT_MODES.register("direct", summary="no attention: the flattened input, projected, joins "
                                         "the synapse input every tick (needs input_size)")
class DirectInput(InputMode):
    """(B, ...) -> backbone -> flatten -> LayerNorm(Linear(input_size -> d_input)), once per
    forward pass; every tick reads the same vector."""

    uses_query = False

    def __init__(self, config: CTMConfig, query_size: int) -> None:
        super().__init__()
        self.backbone = build_backbone(config)
        self.proj = nn.Sequential(nn.Linear(config.input_size, config.d_input),
                                  nn.LayerNorm(config.d_input))
        self.out_features = config.d_input

    @classmethod
    def check(cls, config: CTMConfig, need: Callable[[bool, str], None]) -> None:
        need(config.input_size >= 1, "input_mode 'direct' needs input_size >= 1 (the number of "
                                     "features per example after the backbone)")
        need(config.positional_embedding == "none",
             "input_mode 'direct' flattens the input: positional_embedding must be 'none'")

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        flat = self.backbone(x).flatten(1)  # (B, input_size)
        if flat.shape[1] != self.proj[0].in_features:
            raise ValueError(f"direct input of {flat.shape[1]} features per example (shape "
                             f"{tuple(x.shape)}); the model has input_size "
                             f"{self.proj[0].in_features}")
        return (self.proj(flat),)  # (B, d_input)

    def forward(self, query_source: torch.Tensor | None, *tick_inputs: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        return tick_inputs[0], None


@INPUT_MODES.register("schedule", summary="a token set per tick, (B, T_in, N, C); all-zero "
                                           "tokens are absent, ticks without tokens read nothing")
class ScheduledInput(AttentionInput):
    """Attention over the tokens of the current tick only. The backbone runs on every tick's
    input at once, keys and values are projected once per forward pass; ticks past the
    schedule's end, and ticks whose tokens are all absent, add zeros to the synapse input."""

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if x.dim() < 3:
            raise ValueError(f"a scheduled input is (B, T_in, ...) with one input per tick, "
                             f"got {tuple(x.shape)}")
        b, t_in = x.shape[:2]
        per_tick = x.reshape(b * t_in, *x.shape[2:])
        keys, values = super().encode(per_tick)  # each (B·T, heads, head_dim, N)
        n = keys.shape[-1]
        if isinstance(self.backbone, PassThrough):  # the input is the tokens: absent one by one
            present = per_tick.flatten(2).ne(0).any(-1)  # (B·T, N)
        else:  # a backbone's tokens: all absent when the tick's whole input is zeros
            present = per_tick.flatten(1).ne(0).any(-1, keepdim=True).expand(-1, n)
        return (keys.view(b, t_in, *keys.shape[1:]), values.view(b, t_in, *values.shape[1:]),
                present.view(b, t_in, n))

    def at_tick(self, encoded: tuple[torch.Tensor, ...], tick: int
                ) -> tuple[torch.Tensor, ...]:
        keys, values, present = encoded
        if tick < keys.shape[1]:
            return keys[:, tick], values[:, tick], present[:, tick]
        return keys[:, -1], values[:, -1], torch.zeros_like(present[:, -1])

    def forward(self, query_source: torch.Tensor | None, *tick_inputs: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        keys, values, present = tick_inputs
        out, weights = self.attention(self.q_proj(query_source), EncodedInput(keys, values),
                                      present)
        # a tick without input adds nothing (not the output projection's bias)
        return out * present.any(-1, keepdim=True).to(out.dtype), weights


def build_input(config: CTMConfig, query_size: int) -> InputMode:
    """The input mode `config.input_mode` names; `query_size` is the width of its query."""
    return INPUT_MODES.get(config.input_mode)(config, query_size)
