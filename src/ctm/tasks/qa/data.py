"""What a Q&A episode is made of: its batch, how its tokens are laid out, and its answer
(the task in `__init__.py` draws the episodes and trains on them; `viz.py` draws one)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..base import Batch

OPERATORS = ("+", "-")
KINDS = ("digit", "index", "operator")
# index tokens have room for this many digits unless a run asks for more (`index_slots`):
# the original's Q&A trains on up to 4 digits
MAX_INDEX = 4


@dataclass
class QABatch(Batch):
    digits: int  # k, the same for the whole batch
    operations: int  # m
    labels: torch.Tensor  # (B, k) the digits' classes
    question: torch.Tensor  # (B, 2m + 1): index, (operator, index) * m; operators as 0 (+), 1 (-)


class TokenLayout:
    """Where each feature of a token lives: patch pixels, patch position (one-hot), kind
    (one-hot), index (one-hot), operator (one-hot), and with `labels` the digit's class
    (one-hot) for digits shown exactly instead of as images."""

    def __init__(self, side: int, patch: int, index_slots: int = MAX_INDEX,
                 labels: bool = False) -> None:
        self.side, self.patch = side, patch
        self.per_row = side // patch
        self.patches = self.per_row ** 2
        self.pixels = patch * patch
        self.kind = self.pixels + self.patches
        self.index = self.kind + len(KINDS)
        self.operator = self.index + index_slots
        self.labels = labels
        self.label = self.operator + len(OPERATORS)
        self.width = self.label + (10 if labels else 0)

    def digit_tokens(self, images: np.ndarray) -> torch.Tensor:
        """(n, side, side) uint8 -> (n, patches, width)."""
        n, p, r = len(images), self.patch, self.per_row
        pixels = torch.from_numpy(images.astype(np.float32) / 255.0)
        patches = pixels.reshape(n, r, p, r, p).permute(0, 1, 3, 2, 4).reshape(n, r * r, p * p)
        tokens = torch.zeros(n, self.patches, self.width)
        tokens[..., : self.pixels] = patches
        tokens[:, torch.arange(self.patches), self.pixels + torch.arange(self.patches)] = 1.0
        tokens[..., self.kind + KINDS.index("digit")] = 1.0
        return tokens

    def label_tokens(self, labels: torch.Tensor) -> torch.Tensor:
        """(n,) digit classes -> (n, patches, width): one token naming the class exactly, the
        rest absent; the same place in the schedule as a digit's image."""
        tokens = torch.zeros(len(labels), self.patches, self.width)
        tokens[:, 0, self.kind + KINDS.index("digit")] = 1.0
        tokens[torch.arange(len(labels)), 0, self.label + labels] = 1.0
        return tokens

    def symbol_tokens(self, values: torch.Tensor, kind: str) -> torch.Tensor:
        """(n,) indices or operators -> (n, patches, width): one token, the rest absent."""
        tokens = torch.zeros(len(values), self.patches, self.width)
        tokens[:, 0, self.kind + KINDS.index(kind)] = 1.0
        offset = self.index if kind == "index" else self.operator
        tokens[torch.arange(len(values)), 0, offset + values] = 1.0
        return tokens


def answer_of(labels: torch.Tensor, question: torch.Tensor) -> torch.Tensor:
    """(B, k) labels, (B, 2m + 1) question -> (B,) the answer, each operation mod 10."""
    rows = torch.arange(len(labels))
    value = labels[rows, question[:, 0]] % 10
    for i in range(1, question.shape[1], 2):
        digit = labels[rows, question[:, i + 1]]
        value = torch.where(question[:, i] == 0, value + digit, value - digit) % 10
    return value
