"""Baselines that share the CTM's tasks, backbones, losses and metrics.

- `LSTMBaseline` ticks like a CTM: each tick it attends to the input with a query from its hidden
  state and steps an LSTM cell; its logits per tick go through the same two-tick loss.
- `FeedForwardBaseline` thinks once: backbone tokens, mean-pooled, through an MLP.
- `RecursiveBaseline` keeps a state per token and applies one small transformer to it again and
  again, in the manner of the Tiny Recursive Model (Jolicoeur-Martineau, 2025): the recursive
  reasoners that lead on Sudoku.

`match_parameters` sizes a baseline to a CTM's parameter count for a fair comparison.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from .backbones import build_backbone, build_positional_embedding
from .config import CTMConfig, CTMOutput
from .ctm import certainty
from .inputs import build_input
from .memory import MemoryFields, Recall
from .pretrained import Pretrained
from .readout import build_readout
from .registry import ARCHITECTURES, BACKBONES
from .state import CarriedBatch, Supervised


@dataclass
class LSTMState(CarriedBatch):
    """What the LSTM baseline carries from one call to the next (as `CarriedState` for a CTM)."""

    hidden: torch.Tensor  # (B, d_model)
    cell: torch.Tensor  # (B, d_model)


@dataclass
class LSTMMemoryState(LSTMState, MemoryFields):
    """The LSTM baseline's carried state with its explicit memory (`memory_slots` > 0)."""


@ARCHITECTURES.register("lstm", summary="baseline: an LSTM cell stepped once per tick, reading "
                                        "the input the same way")
class LSTMBaseline(Pretrained, nn.Module):
    """An LSTM of `d_model` units over `ticks` ticks, reading the input through the config's
    input mode (attention with a query from its hidden state, or direct), and its explicit
    memory, if any, with the same query (written from the last tick's hidden state)."""

    answers_over_ticks: ClassVar[bool] = True
    carries_state: ClassVar[bool] = True
    traces: ClassVar[bool] = False
    recalls: ClassVar[bool] = True
    cell_readout: ClassVar[bool] = True

    def __init__(self, config: CTMConfig) -> None:
        super().__init__()
        self.config = config
        d = config.d_model
        self.inputs = build_input(config, query_size=d)
        self.recall = Recall(config, d, d) if config.memory_slots else None
        recalled = self.recall.out_features if self.recall is not None else 0
        self.cell = nn.LSTMCell(self.inputs.out_features + recalled, d)
        self.start_hidden = nn.Parameter(torch.zeros(d))
        self.start_cell = nn.Parameter(torch.zeros(d))
        self.output = build_readout(config, d)
        self.value = nn.Linear(d, 1) if config.value_head else None

    def initial_state(self, batch_size: int) -> LSTMState:
        hidden = self.start_hidden.expand(batch_size, -1)
        cell = self.start_cell.expand(batch_size, -1)
        if self.recall is None:
            return LSTMState(hidden, cell)
        entries, present, written = self.recall.empty(batch_size, hidden)
        return LSTMMemoryState(hidden=hidden, cell=cell, entries=entries, present=present,
                               written=written)

    def forward(self, x: torch.Tensor, ticks: int | None = None, trace: bool = False,
                state: LSTMState | None = None) -> CTMOutput:
        n_ticks = self.config.ticks if ticks is None else int(ticks)
        if n_ticks < 1:
            raise ValueError(f"ticks must be >= 1, got {n_ticks}")
        encoded = self.inputs.encode(x)
        start = state if state is not None else self.initial_state(x.shape[0])
        hidden, cell = start.hidden, start.cell
        if self.recall is not None:
            memory = ((start.entries, start.present, start.written)
                      if isinstance(start, MemoryFields) else self.recall.empty(x.shape[0], hidden))
            remembered = self.recall.encode(*memory[:2])
        logits, attention, states, reads = [], [], [], []
        for t in range(n_ticks):
            # (B, d_input), (B, heads, N) or None
            attended, attn = self.inputs(hidden, *self.inputs.at_tick(encoded, t))
            if self.recall is not None:
                recalled, read = self.recall(hidden, *remembered)
                attended = torch.cat([attended, recalled], -1)
                if trace:
                    reads.append(read.detach())
            hidden, cell = self.cell(attended, (hidden, cell))
            logits.append(self.output(hidden))
            if trace:
                if attn is not None:
                    attention.append(attn.detach())
                states.append(hidden.detach())
        stacked = torch.stack(logits, 1)  # (B, T, out_dims)
        carried = LSTMState(hidden, cell)
        if self.recall is not None:
            entries, present, written = self.recall.store(*memory, hidden)
            carried = LSTMMemoryState(hidden=hidden, cell=cell, entries=entries,
                                      present=present, written=written)
        out = CTMOutput(logits=stacked, certainty=certainty(stacked, self.config.out_groups_shape),
                        sync_out=hidden, state=carried)
        if self.value is not None:
            out.value = self.value(hidden).squeeze(-1)  # (B,)
        if trace:
            out.attention = torch.stack(attention, 1) if attention else None
            out.post_activations = torch.stack(states, 1)
            out.memory_attention = torch.stack(reads, 1) if reads else None
        return out


@ARCHITECTURES.register("feedforward", summary="baseline: thinks once; backbone tokens, "
                                               "pooled, through an MLP")
class FeedForwardBaseline(Pretrained, nn.Module):
    """Backbone tokens -> LayerNorm(Linear) -> mean over tokens -> MLP of width d_model. With
    input_mode "direct" the flattened input is projected instead of pooled tokens."""

    input_modes = ("attention", "direct")  # it has no ticks to spread a schedule over
    answers_over_ticks: ClassVar[bool] = False  # thinks once: every tick's logits are one
    carries_state: ClassVar[bool] = False
    traces: ClassVar[bool] = False

    def __init__(self, config: CTMConfig) -> None:
        super().__init__()
        if config.value_head:
            raise ValueError("the feedforward baseline has no value head (actor-critic RL): "
                             "use --architecture lstm for a baseline")
        self.config = config
        self.backbone = build_backbone(config)
        self.positional = build_positional_embedding(config)
        self.flatten = config.input_mode == "direct"
        width = config.input_size if self.flatten else config.backbone_channels
        self.kv_proj = nn.Sequential(nn.Linear(width, config.d_input),
                                     nn.LayerNorm(config.d_input))
        self.head = nn.Sequential(nn.Linear(config.d_input, config.d_model), nn.GELU(),
                                  nn.Dropout(config.dropout), nn.LayerNorm(config.d_model),
                                  nn.Linear(config.d_model, config.out_dims))

    def forward(self, x: torch.Tensor, ticks: int | None = None, trace: bool = False
                ) -> CTMOutput:
        tokens = self.backbone(x)
        if self.positional is not None:
            tokens = tokens + self.positional(tokens.shape[1], tokens.device)
        # (B, d_input): the flattened input, or the mean of its projected tokens
        features = (self.kv_proj(tokens.flatten(1)) if self.flatten
                    else self.kv_proj(tokens).mean(1))
        logits = self.head(features).unsqueeze(1)  # (B, 1, out_dims)
        return CTMOutput(logits=logits, certainty=certainty(logits, self.config.out_groups_shape),
                         sync_out=logits[:, 0])


@dataclass
class RecursiveCarry(CarriedBatch):
    """What the recursive baseline carries from one deep-supervised step to the next."""

    answer: torch.Tensor  # (B, N, d)
    latent: torch.Tensor  # (B, N, d)


@ARCHITECTURES.register("recursive", summary="baseline: one small transformer applied again and "
                                             "again to an answer and a latent per token "
                                             "(TRM-style)")
class RecursiveBaseline(Pretrained, nn.Module):
    """Tokens x (the backbone's, projected to d_model, plus the positional embedding if any)
    and, per token, an answer y and a latent z that start from learned vectors. Each tick
    refines the latent LATENT_STEPS times, z <- f(x + y + z), then the answer once,
    y <- f(y + z), where f is one stack of LAYERS post-norm transformer layers shared by every
    step; the tick's logits read y. With out_shape (G, classes) there are G answers: after a
    sequence backbone (one token per input position) each of the G tokens answers for itself
    (Sudoku's cells, parity's bits); after an image backbone G learned queries each attend
    over y (a maze's route steps over its patches). With one group, y is mean-pooled.

    By default gradients flow through every tick and the loss is the two-tick rule like every
    other model here, so the comparison with a CTM changes the model and nothing else. With
    `cycles` C each tick applies that refinement C times; with `deep_supervision` it is trained
    as TRM is (train/deep_supervision.py drives `supervise`): a tick per optimiser step, the
    first C - 1 refinements without gradients, the answer and latent carried detached to the
    next step, and a halting head (`halt`) reading whether the answer is exact."""

    answers_over_ticks: ClassVar[bool] = True
    carries_state: ClassVar[bool] = False
    traces: ClassVar[bool] = False

    input_modes = ("attention",)  # it reads the tokens themselves, every step
    width_multiple_of_heads = True  # for match_parameters: attention splits d_model by heads
    LAYERS = 2
    LATENT_STEPS = 3

    def __init__(self, config: CTMConfig) -> None:
        super().__init__()
        if config.value_head:
            raise ValueError("the recursive baseline has no value head (actor-critic RL): "
                             "use --architecture lstm for a baseline")
        self.config = config
        d = config.d_model
        self.backbone = build_backbone(config)
        self.positional = build_positional_embedding(config)
        self.embed = nn.Sequential(nn.Linear(config.backbone_channels, d), nn.LayerNorm(d))
        self.start_answer = nn.Parameter(torch.randn(d) * 0.02)
        self.start_latent = nn.Parameter(torch.randn(d) * 0.02)
        # a width that the configured heads do not divide gets the largest count that does
        layer = nn.TransformerEncoderLayer(d, math.gcd(config.heads, d), dim_feedforward=4 * d,
                                           dropout=config.dropout, activation="gelu",
                                           batch_first=True)
        self.block = nn.TransformerEncoder(layer, self.LAYERS, enable_nested_tensor=False)
        groups = config.out_groups_shape
        self.grouped = len(groups) == 2
        self.per_token = self.grouped and BACKBONES.get(config.backbone).sequence
        self.group_queries = (nn.Parameter(torch.randn(groups[0], d) * d ** -0.5)
                              if self.grouped and not self.per_token else None)
        self.head = nn.Linear(d, groups[-1] if self.grouped else config.out_dims)
        self.halt = nn.Linear(d, 1) if config.deep_supervision else None

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        """Raw input -> (B, N, d) tokens the recursion reads every step."""
        tokens = self.backbone(x)
        if self.positional is not None:
            tokens = tokens + self.positional(tokens.shape[1], tokens.device)
        inputs = self.embed(tokens)
        groups = self.config.out_groups_shape
        if self.per_token and inputs.shape[1] != groups[0]:
            raise ValueError(f"the recursive baseline answers per token: out_shape "
                             f"{self.config.out_shape} wants {groups[0]} tokens, the input "
                             f"gives {inputs.shape[1]}")
        return inputs

    def _refine(self, inputs: torch.Tensor, answer: torch.Tensor, latent: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """One full recursion: the latent LATENT_STEPS times, then the answer once."""
        for _ in range(self.LATENT_STEPS):
            latent = self.block(inputs + answer + latent)
        return self.block(answer + latent), latent

    def start(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The learned starting answer and latent for every token of `inputs`."""
        return self.start_answer.expand_as(inputs), self.start_latent.expand_as(inputs)

    carry_type = RecursiveCarry  # what `supervise` carries (a checkpoint rebuilds it)

    def supervise(self, x: torch.Tensor, carry: RecursiveCarry | None = None,
                  restart: torch.Tensor | None = None) -> Supervised:
        """One tick as deep supervision trains it: from the carried answer and latent (None,
        or the rows where `restart` (B,) is true: from the start), C - 1 refinements without
        gradients and one with; the tick's logits (B, 1, out_dims), its halting logit (B,)
        and the new carry, detached."""
        if self.halt is None:
            raise ValueError("this recursive model has no halting head: build it with "
                             "deep_supervision")
        inputs = self._encode(x)
        first = RecursiveCarry(*self.start(inputs))
        if carry is None:
            carry = first
        elif restart is not None:
            carry = carry.where(restart, first)
        answer, latent = carry.answer, carry.latent
        with torch.no_grad():
            for _ in range(self.config.cycles - 1):
                answer, latent = self._refine(inputs, answer, latent)
        answer, latent = self._refine(inputs, answer, latent)
        logits = self.head(self._read_out(answer)).flatten(1).unsqueeze(1)
        halt = self.halt(answer.mean(1)).squeeze(-1)
        output = CTMOutput(logits=logits,
                           certainty=certainty(logits, self.config.out_groups_shape),
                           sync_out=answer.mean(1))
        return Supervised(output, halt, RecursiveCarry(answer.detach(), latent.detach()))

    def forward(self, x: torch.Tensor, ticks: int | None = None, trace: bool = False
                ) -> CTMOutput:
        n_ticks = self.config.ticks if ticks is None else int(ticks)
        if n_ticks < 1:
            raise ValueError(f"ticks must be >= 1, got {n_ticks}")
        inputs = self._encode(x)  # (B, N, d)
        groups = self.config.out_groups_shape
        answer, latent = self.start(inputs)
        logits, states = [], []
        for _ in range(n_ticks):
            for _ in range(self.config.cycles):
                answer, latent = self._refine(inputs, answer, latent)
            read = self.head(self._read_out(answer))
            logits.append(read.flatten(1))  # (B, out_dims)
            if trace:
                states.append(answer.mean(1).detach())
        stacked = torch.stack(logits, 1)  # (B, T, out_dims)
        out = CTMOutput(logits=stacked, certainty=certainty(stacked, groups),
                        sync_out=answer.mean(1))
        if trace:
            out.post_activations = torch.stack(states, 1)
        return out

    def _read_out(self, answer: torch.Tensor) -> torch.Tensor:
        """(B, N, d) -> what the head reads: (B, G, d) per group, or (B, d) pooled."""
        if not self.grouped:
            return answer.mean(1)
        if self.per_token:
            return answer
        weights = torch.einsum("gd,bnd->bgn", self.group_queries, answer).softmax(-1)
        return torch.einsum("bgn,bnd->bgd", weights, answer)


def parameter_count(config: CTMConfig) -> int:
    """Trainable parameters of the model a config builds (counted without allocating)."""
    from .build import build_model

    with torch.device("meta"):
        model = build_model(config)
    return sum(p.numel() for p in model.parameters())


def match_parameters(config: CTMConfig, target: int) -> CTMConfig:
    """`config` with the d_model (>= 8, a multiple of heads where the architecture needs it)
    whose parameter count is closest to `target`."""
    if target < 1:
        raise ValueError(f"target parameter count must be >= 1, got {target}")
    step = (config.heads if getattr(ARCHITECTURES.get(config.architecture),
                                    "width_multiple_of_heads", False) else 1)

    def count(k: int) -> int:
        return parameter_count(dataclasses.replace(config, d_model=k * step))

    low = high = -(-8 // step)  # in units of step
    while count(high) < target and high * step < 1 << 16:
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if count(middle) < target else (low, middle)
    best = min((low, high), key=lambda k: abs(count(k) - target))
    return dataclasses.replace(config, d_model=best * step)
