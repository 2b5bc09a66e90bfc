"""An explicit memory for agents that carry their thinking from step to step (`memory_slots`).

After each call (one environment step) the model writes one entry, computed from what it read
out on its last tick (a CTM's output synchronisation, the LSTM's hidden state), into a bounded
store of `memory_slots` entries per agent; when the store is full the oldest entry is
overwritten. Every tick reads the store by attention, with the same query source as the input
mode (a CTM's action synchronisation), and what it reads joins the synapse input beside the
observation. The store is part of the carried state, so a new episode starts it empty, and
PPO's replay backpropagates through the writes made inside a chunk.

`memory_team` agents (consecutive rows of the batch) may share one store of
`memory_slots · memory_team` entries: each step every agent of the team writes its entry there
and every agent reads all of them. Each row keeps its own copy of its team's store, identical
across the team, so that restarting, selecting and joining states stay per row.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .config import CTMConfig
from .inputs import EncodedInput, TokenAttention


@dataclass
class MemoryFields:
    """The store, as fields of a carried state (`CarriedState`'s and `LSTMState`'s subclasses
    with memory add these)."""

    entries: torch.Tensor  # (B, K, d_input) written entries; K = memory_slots · memory_team
    present: torch.Tensor  # (B, K) bool: slots written since the episode began
    written: torch.Tensor  # (B,) long: entries written so far (the next slot is this mod K)


class Recall(nn.Module):
    """Writes entries from `write_size` features and reads them with a `query_size` query."""

    def __init__(self, config: CTMConfig, query_size: int, write_size: int) -> None:
        super().__init__()
        self.team = config.memory_team
        self.slots = config.memory_slots * config.memory_team
        width = config.d_input
        self.write = nn.Sequential(nn.Linear(write_size, width), nn.LayerNorm(width))
        self.q_proj = nn.Linear(query_size, width)
        self.attention = TokenAttention(width, config.heads, config.dropout)
        self.out_features = width

    def empty(self, batch: int, like: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(entries, present, written) of `batch` empty stores, on `like`'s device."""
        if batch % self.team:
            raise ValueError(f"a memory shared by teams of {self.team} agents needs a batch "
                             f"that is a whole number of teams, got {batch} rows")
        width = self.attention.width
        return (like.new_zeros(batch, self.slots, width),
                torch.zeros(batch, self.slots, dtype=torch.bool, device=like.device),
                torch.zeros(batch, dtype=torch.long, device=like.device))

    def encode(self, entries: torch.Tensor, present: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Keys and values of the store, once per call (it does not change between ticks)."""
        encoded = self.attention.project_kv(entries)
        return encoded.keys, encoded.values, present

    def forward(self, query_source: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                present: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One tick's read: (B, d_input) and the attention weights (B, heads, K). An empty
        store reads zeros."""
        out, weights = self.attention(self.q_proj(query_source), EncodedInput(keys, values),
                                      present)
        return out * present.any(-1, keepdim=True).to(out.dtype), weights

    def store(self, entries: torch.Tensor, present: torch.Tensor, written: torch.Tensor,
              source: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Each row's entry from `source` (B, write_size), written into its team's store at
        the next slots (the oldest, once the store is full)."""
        b = source.shape[0]
        if b % self.team:
            raise ValueError(f"a memory shared by teams of {self.team} agents needs a batch "
                             f"that is a whole number of teams, got {b} rows")
        new = self.write(source).to(entries.dtype)  # (B, width)
        # every row of a team receives the team's entries, in the team's agent order
        team_entries = new.view(b // self.team, 1, self.team, -1).expand(
            -1, self.team, -1, -1).reshape(b, self.team, -1)
        slots = (written.unsqueeze(1) + torch.arange(self.team, device=written.device)
                 ) % self.slots  # (B, team)
        # one out-of-place scatter: a few operations per step, where the rollout's replay
        # backpropagates through every step's write
        entries = entries.scatter(1, slots.unsqueeze(-1).expand(-1, -1, new.shape[-1]),
                                  team_entries)
        return entries, present.scatter(1, slots, True), written + self.team
