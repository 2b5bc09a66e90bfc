"""The model's configuration: every size explicit, so a config alone fixes every shape."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch

from ..fields import build_checked
from .registry import ARCHITECTURES, BACKBONES, INPUT_MODES, Registry

PAIRINGS = ("dense", "semi-dense", "random-pairing")
READOUTS = ("linear", "cells")  # model/readout.py builds them
POSITIONAL_EMBEDDINGS = ("none", "rotational-1d")

# the config fields whose values a registry holds (validation and --help read them here)
REGISTRY_FIELDS: dict[str, Registry] = {"backbone": BACKBONES, "input_mode": INPUT_MODES,
                                        "architecture": ARCHITECTURES}


@dataclass
class CTMConfig:
    """Sizes and choices of a Continuous Thought Machine (DESIGN.md sections 1-2).

    `out_shape` groups the `out_dims` logits for certainty and losses: `(-1,)` is one softmax
    over all outputs (classification); `(16, 2)` is 16 independent binary outputs (parity).
    """

    d_model: int = 256  # D, number of neurons
    d_input: int = 64  # attention width (keys, values, query, attention output)
    heads: int = 4  # attention heads
    ticks: int = 25  # T, internal ticks per forward pass
    memory_length: int = 10  # M, pre-activation history each neuron model sees
    synapse_depth: int = 1  # 1: GLU layer; >1: U-Net MLP
    deep_nlm: bool = True  # two private layers per neuron (else one)
    nlm_hidden: int = 16  # H, hidden width of deep neuron-level models
    pairing: str = "random-pairing"  # one of PAIRINGS
    n_sync_out: int = 32  # neurons (dense, semi-dense) or pairs (random-pairing) for outputs
    n_sync_action: int = 32  # same, for the attention query
    n_self: int = 0  # random-pairing only: how many of the pairs are (i, i)
    out_dims: int = 2  # outputs per tick (the task sets it)
    out_shape: tuple[int, ...] = (-1,)  # how outputs group into softmaxes (the task sets it)
    dropout: float = 0.0  # synapse and attention dropout
    dropout_nlm: float = 0.0  # dropout on each neuron model's input
    backbone: str = "parity"  # registered in BACKBONES (`ctm train --help` lists them)
    in_channels: int = 3  # channels of an input image; token width for backbone "none"
    positional_embedding: str = "none"  # one of POSITIONAL_EMBEDDINGS
    pair_seed: int = 0  # seeds the random choice of synchronisation pairs
    architecture: str = "ctm"  # "ctm", a baseline, or original-rl (the original's RL agent)
    input_mode: str = "attention"  # registered in INPUT_MODES: how input reaches the neurons
    input_size: int = 0  # input_mode "direct": features per example after the backbone
    value_head: bool = False  # also read a scalar value from the last tick (actor-critic RL)
    # every pair's decay p starts here (r = exp(-p)); with 0 every past tick counts alike, so
    # over a long carried episode synchronisation grows as the square root of its length
    decay_init: float = 0.0
    # an explicit memory (model/memory.py): entries per agent, written after each call and read
    # by attention every tick (0: none)
    memory_slots: int = 0
    memory_team: int = 1  # consecutive rows (a team of agents) that share one memory
    # linear: one layer to every output; cells: one network shared by every output group, fed
    # the group's own embedding (for many outputs, e.g. Sudoku's cells)
    readout: str = "linear"
    # with deep_supervision: the inner iterations of one supervised step. The recursive
    # model's are full recursions per tick (the Tiny Recursive Model's T), all but the last
    # without gradients; the CTM's are its ticks, `ticks` / `cycles` steps in all. Without
    # deep_supervision only the recursive model takes more than 1 (recursions per tick).
    cycles: int = 1
    # trained as the Tiny Recursive Model is: each optimiser step gives an example one
    # supervised step (the recursive model: one tick; the CTM: `cycles` ticks) and carries its
    # state, detached, to the next, for up to `supervision_steps`; a halting head learns
    # whether the answer is exact and lets a solved example leave early (recursive and ctm)
    deep_supervision: bool = False

    def __post_init__(self) -> None:
        self.out_shape = tuple(int(v) for v in self.out_shape)
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the bad field and what would fix it."""

        def need(ok: bool, message: str) -> None:
            if not ok:
                raise ValueError(message)

        for name in ("d_model", "d_input", "ticks", "memory_length", "synapse_depth",
                     "nlm_hidden", "n_sync_out", "n_sync_action", "out_dims", "in_channels"):
            need(getattr(self, name) >= 1, f"{name} must be >= 1, got {getattr(self, name)}")
        need(self.heads >= 1, f"heads must be >= 1, got {self.heads}")
        need(self.d_input % self.heads == 0,
             f"d_input ({self.d_input}) must be divisible by heads ({self.heads})")
        for name, registry in REGISTRY_FIELDS.items():
            value = getattr(self, name)
            need(value in registry,
                 f"{name} must be one of {registry.listing()}, got {value!r}")
        need(self.pairing in PAIRINGS, f"pairing must be one of {PAIRINGS}, got {self.pairing!r}")
        need(self.positional_embedding in POSITIONAL_EMBEDDINGS,
             f"positional_embedding must be one of {POSITIONAL_EMBEDDINGS}, "
             f"got {self.positional_embedding!r}")
        need(self.positional_embedding == "none" or BACKBONES.get(self.backbone).sequence,
             f"positional_embedding {self.positional_embedding!r} needs a sequence backbone "
             f"(parity, none), not {self.backbone!r}")
        need(self.input_size >= 0, f"input_size must be >= 0, got {self.input_size}")
        need(0.0 <= self.decay_init <= 15.0,
             f"decay_init must be in [0, 15] (decays are clamped there), got {self.decay_init}")
        INPUT_MODES.get(self.input_mode).check(self, need)
        need(self.cycles >= 1, f"cycles must be >= 1, got {self.cycles}")
        supervised = self.architecture in ("recursive", "ctm")
        need(not self.deep_supervision or supervised,
             f"deep_supervision trains the recursive and ctm architectures TRM-style; the "
             f"{self.architecture} architecture takes none")
        need(self.cycles == 1 or self.architecture == "recursive" or self.deep_supervision,
             f"cycles counts the {self.architecture} architecture's ticks per supervised step "
             f"only with deep_supervision; without it, cycles must be 1"
             if supervised else
             f"cycles applies to the recursive and ctm architectures; the "
             f"{self.architecture} architecture takes cycles 1")
        need(not (self.deep_supervision and self.architecture == "ctm")
             or self.ticks % self.cycles == 0,
             f"a deep-supervised CTM thinks `cycles` ticks a step: ticks ({self.ticks}) must "
             f"be a multiple of cycles ({self.cycles})")
        need(self.memory_slots >= 0, f"memory_slots must be >= 0, got {self.memory_slots}")
        need(self.memory_team >= 1, f"memory_team must be >= 1, got {self.memory_team}")
        need(self.memory_slots == 0 or getattr(ARCHITECTURES.get(self.architecture),
                                               "recalls", False),
             f"the {self.architecture} architecture has no explicit memory: memory_slots must "
             f"be 0 (the ctm and lstm architectures have one)")
        modes = getattr(ARCHITECTURES.get(self.architecture), "input_modes", None)
        need(modes is None or self.input_mode in modes,
             f"the {self.architecture} architecture takes input_mode {', '.join(modes or ())}, "
             f"not {self.input_mode!r}")
        check = getattr(ARCHITECTURES.get(self.architecture), "check_config", None)
        if check is not None:  # what an architecture needs beyond the common checks
            check(self, need)
        need(self.readout in READOUTS,
             f"readout must be one of {', '.join(READOUTS)}, got {self.readout!r}")
        need(self.readout == "linear" or getattr(ARCHITECTURES.get(self.architecture),
                                                 "cell_readout", False),
             f"the {self.architecture} architecture has only its own read-out: readout must be "
             f"linear (the ctm and lstm architectures offer cells)")
        need(self.readout == "linear" or len(self.out_groups_shape) == 2,
             f"readout cells reads groups of classes (out_shape (groups, classes)); out_shape "
             f"{self.out_shape} is {'one softmax' if len(self.out_groups_shape) == 1 else 'nested'}"
             f": use readout linear")
        need(0.0 <= self.dropout < 1.0, f"dropout must be in [0, 1), got {self.dropout}")
        need(0.0 <= self.dropout_nlm < 1.0,
             f"dropout_nlm must be in [0, 1), got {self.dropout_nlm}")
        if self.pairing == "dense":
            need(self.n_sync_out + self.n_sync_action <= self.d_model,
                 "dense pairing uses the first n_sync_out and last n_sync_action neurons: "
                 f"n_sync_out + n_sync_action ({self.n_sync_out + self.n_sync_action}) must be "
                 f"<= d_model ({self.d_model})")
        if self.pairing == "random-pairing":
            need(0 <= self.n_self < min(self.n_sync_out, self.n_sync_action),
                 f"n_self ({self.n_self}) must be smaller than n_sync_out and n_sync_action")
        else:
            need(self.n_self == 0, "n_self only applies to pairing='random-pairing'")
        known = [v for v in self.out_shape if v != -1]
        need(self.out_shape.count(-1) <= 1 and all(v >= 1 for v in known),
             f"out_shape must hold positive sizes and at most one -1, got {self.out_shape}")
        product = math.prod(known)
        need(self.out_dims % product == 0 if -1 in self.out_shape else self.out_dims == product,
             f"out_shape {self.out_shape} does not divide out_dims ({self.out_dims})")
        need(self.out_groups_shape[-1] >= 2,
             f"the last entry of out_shape is the number of classes and must be >= 2 "
             f"(out_shape {self.out_shape}, out_dims {self.out_dims})")

    @property
    def out_groups_shape(self) -> tuple[int, ...]:
        """`out_shape` with any -1 resolved, e.g. (16, 2) or (10,)."""
        # lists, not generators: torch.compile traces through lists without breaking the graph
        known = math.prod([v for v in self.out_shape if v != -1])
        return tuple([self.out_dims // known if v == -1 else v for v in self.out_shape])

    @property
    def supervision_steps(self) -> int:
        """With deep_supervision: the most optimiser steps an example stays in training, one
        supervised step each (the recursive model's tick; `cycles` of the CTM's ticks)."""
        return self.ticks // self.cycles if self.architecture == "ctm" else self.ticks

    def sync_size(self, kind: str) -> int:
        """Length of the `out` or `action` synchronisation vector."""
        n = self.n_sync_out if kind == "out" else self.n_sync_action
        return n if self.pairing == "random-pairing" else n * (n + 1) // 2

    @property
    def backbone_channels(self) -> int:
        """Width of the feature tokens the backbone produces."""
        return BACKBONES.get(self.backbone).channels(self)

    @classmethod
    def field_choices(cls) -> dict[str, str]:
        """Fields with a fixed set of values -> the values, for --help."""
        choices = {name: registry.listing() for name, registry in REGISTRY_FIELDS.items()}
        choices.update(pairing=", ".join(PAIRINGS), readout=", ".join(READOUTS),
                       positional_embedding=", ".join(POSITIONAL_EMBEDDINGS))
        return choices

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["out_shape"] = list(self.out_shape)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> CTMConfig:
        """A config from JSON, every field's type checked (ValueError naming the field)."""
        return build_checked(cls, data, "CTMConfig field")


@dataclass
class CTMOutput:
    """What one forward pass returns. T is the number of ticks actually run.

    logits: (B, T, out_dims). certainty: (B, T), 1 - normalised entropy averaged over output
    groups. The trace fields are filled only with `trace=True` and stay on the model's device:
    attention (B, T, heads, tokens) (None for input modes that do not attend), pre/post
    activations (B, T, D), sync_out (B, T, P_out),
    sync_action (B, T, P_action).
    """

    logits: torch.Tensor
    certainty: torch.Tensor
    sync_out: torch.Tensor  # (B, P_out): output synchronisation after the last tick
    attention: torch.Tensor | None = None
    pre_activations: torch.Tensor | None = None
    post_activations: torch.Tensor | None = None
    sync_out_trace: torch.Tensor | None = None
    sync_action_trace: torch.Tensor | None = None
    memory_attention: torch.Tensor | None = None  # (B, T, heads, K) with an explicit memory
    state: Any = None  # the state after the last tick, to continue from (`model(x, state=)`)
    value: torch.Tensor | None = None  # (B,) with `value_head`: read after the last tick

    def most_certain_tick(self) -> torch.Tensor:
        """(B,) index of each sample's most certain tick."""
        return self.certainty.argmax(dim=1)
