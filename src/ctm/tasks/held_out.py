"""Held-out examples that training can never produce: a partition of the input space by hash.

Generated tasks draw training and evaluation examples from the same generator. Two streams from
different seeds still overlap wherever the space is small (there are only 256 parity sequences
of 8 bits, and a few thousand 3×3-cell mazes), so "held-out" would measure fit. Instead, one in
`SHARE` of all possible examples is reserved by a hash of its content: training rejects and
redraws reserved examples, evaluation keeps only reserved ones. Both sides are the generator's
own distribution, conditioned on the hash, and no training step can produce a held-out example.

Where training augments its examples (rotated and mirrored mazes), the hash is taken over the
whole family of variants, so a held-out maze cannot come back rotated.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch

SHARE = 8  # one in SHARE of all examples is reserved for evaluation
MIN_RESERVED = 16  # fewer distinct reserved examples than this: the space is too small to split


def reserved_bytes(content: bytes) -> bool:
    """Whether the example whose canonical encoding is `content` is held out."""
    digest = hashlib.blake2b(content, digest_size=8, person=b"ctm-held-out").digest()
    return int.from_bytes(digest, "little") % SHARE == 0


# --- ±1 sequences (parity) -----------------------------------------------------------------------

def _shift(x: torch.Tensor, bits: int) -> torch.Tensor:
    """Logical right shift of int64 values (torch's >> keeps the sign)."""
    return (x >> bits) & ((1 << (64 - bits)) - 1)


def _mix(x: torch.Tensor) -> torch.Tensor:
    """The splitmix64 finaliser: every output bit depends on every input bit."""
    x = x ^ _shift(x, 30)
    x = x * -4658895280553007687  # 0xBF58476D1CE4E5B9 as a signed 64-bit integer
    x = x ^ _shift(x, 27)
    x = x * -7723592293110705685  # 0x94D049BB133111EB
    return x ^ _shift(x, 31)


def reserved_bits(bits: torch.Tensor) -> torch.Tensor:
    """(N, L) tensor of 0/1 -> (N,) bool: which sequences are held out. The sequence is read
    as a number, 62 bits at a time, each chunk mixed into the hash; vectorised over batches."""
    bits = bits.long()
    key = torch.full((bits.shape[0],), bits.shape[1], dtype=torch.long)
    for start in range(0, bits.shape[1], 62):
        chunk = bits[:, start:start + 62]
        weights = torch.tensor([1 << i for i in range(chunk.shape[1])], dtype=torch.long)
        key = _mix(key ^ (chunk * weights).sum(1))
    return _shift(key, 1) % SHARE == 0


def reserved_sequence_count(length: int) -> int | None:
    """How many of the 2^length sequences are held out (None: too many to count, which means
    plenty)."""
    if length > 20:
        return None
    codes = torch.arange(1 << length)
    bits = (codes.unsqueeze(1) >> torch.arange(length)) & 1
    return int(reserved_bits(bits).sum())


# --- mazes -------------------------------------------------------------------------------------

def maze_key(open_: np.ndarray, start: tuple[int, int], goal: tuple[int, int]) -> bytes:
    """The canonical encoding of a maze and its seven rotated and mirrored variants: the least
    of their eight encodings, so the whole family lands on one side of the partition."""
    h, w = open_.shape
    marks = np.zeros((h, w), dtype=np.uint8)
    marks[open_] = 1
    marks[start] = 2
    marks[goal] = 3
    variants = []
    for k in range(4):
        turned = np.rot90(marks, k)
        variants += [turned.tobytes() + bytes(turned.shape),
                     turned[:, ::-1].tobytes() + bytes(turned.shape)]
    return min(variants)
