"""What a model carries from one call to the next, as one kind of object for every
architecture: per-sample tensors that can be restarted, selected, joined, cut from the graph and
moved, whatever their layout."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import ClassVar, Self

import torch

from .config import CTMOutput


@dataclasses.dataclass
class CarriedBatch:
    """A dataclass of tensors that each hold one row per sample. The batch dimension is 0,
    except where a subclass's `batch_dims` says otherwise (a CTM keeps its history (D, M, B))."""

    batch_dims: ClassVar[dict[str, int]] = {}

    def _map(self, change: Callable[[str, torch.Tensor, int], torch.Tensor]) -> Self:
        return type(self)(**{f.name: change(f.name, getattr(self, f.name),
                                            self.batch_dims.get(f.name, 0))
                             for f in dataclasses.fields(self)})

    def tensors(self) -> dict[str, torch.Tensor]:
        """Its fields by name (`type(state)(**state.tensors())` builds it again)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def where(self, mask: torch.Tensor, other: Self) -> Self:
        """`other`'s state for the samples where `mask` (B,) is true, this one's elsewhere:
        `state.where(done, model.initial_state(B))` restarts finished episodes."""
        mask = mask.to(torch.bool)

        def pick(name: str, mine: torch.Tensor, dim: int) -> torch.Tensor:
            shape = [1] * mine.dim()
            shape[dim] = -1
            return torch.where(mask.view(shape), getattr(other, name), mine)

        return self._map(pick)

    def select(self, index: torch.Tensor) -> Self:
        """The state of the samples at `index` (B')."""
        return self._map(lambda _, t, dim: t[(slice(None),) * dim + (index,)])

    def detach(self) -> Self:
        """The same state cut from the graph (truncated backpropagation through time)."""
        return self._map(lambda _, t, dim: t.detach())

    def to(self, device: torch.device | str) -> Self:
        return self._map(lambda _, t, dim: t.to(device))

    @classmethod
    def cat(cls, states: list[Self]) -> Self:
        """The states of several batches as one, in order."""
        first = states[0]
        return first._map(lambda name, _, dim: torch.cat([getattr(s, name) for s in states],
                                                         dim=dim))


@dataclasses.dataclass
class Supervised:
    """One deep-supervised step of a model (`model.supervise`, driven by
    train/deep_supervision.py)."""

    output: CTMOutput  # the step's logits (B, T, out_dims), T its ticks, and their certainty
    halt: torch.Tensor  # (B,) halting logits: > 0 says "my answer is exact"
    carry: CarriedBatch  # what the next step continues from, detached
