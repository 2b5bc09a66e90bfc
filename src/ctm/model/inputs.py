"""How a task's input reaches the neurons: attention over backbone tokens.

Keys and values come from the input alone, so they are projected once per forward pass; each tick
only projects its one query (from the action synchronisation) and attends.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .backbones import build_backbone, build_positional_embedding
from .config import CTMConfig


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

    def forward(self, query: torch.Tensor, encoded: EncodedInput
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """query (B, d) -> output (B, d) and attention weights (B, heads, N_tok)."""
        b = query.shape[0]
        head_dim = self.width // self.heads
        q = F.linear(query, self.in_proj_weight[: self.width], self.in_proj_bias[: self.width])
        q = q.view(b, self.heads, head_dim, 1) / math.sqrt(head_dim)
        # one query per head: multiply-and-sum instead of (1 x hd) @ (hd x N) matrix products,
        # whose backward runs as batched outer products that CPUs do slowly (attention forward
        # + backward 2.5x faster at the three benchmark sizes)
        weights = torch.softmax((q * encoded.keys).sum(2), dim=-1)  # (B, h, N)
        dropped = F.dropout(weights, self.dropout, self.training) if self.dropout else weights
        out = (dropped.unsqueeze(2) * encoded.values).sum(-1).reshape(b, self.width)
        return self.out_proj(out), weights


class AttentionInput(nn.Module):
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

    def encode(self, x: torch.Tensor) -> EncodedInput:
        tokens = self.backbone(x)  # (B, N, C)
        if self.positional is not None:
            tokens = tokens + self.positional(tokens.shape[1], tokens.device)
        return self.attention.project_kv(self.kv_proj(tokens))

    def forward(self, query_source: torch.Tensor, encoded: EncodedInput
                ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.attention(self.q_proj(query_source), encoded)
