"""Cumulative parity: read a ±1 sequence, output at every position whether the number of -1s
so far is odd. A CTM learns it by attending along the sequence over its ticks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ...losses import TickLoss, grouped_logits, per_tick_cross_entropy, two_tick_loss
from ...metrics import GroupMeter, per_tick_table
from ...model import CTMConfig, CTMOutput
from ..base import Batch, Task, batch_counts, eval_seed, train_seed
from ..held_out import MIN_RESERVED, SHARE, reserved_bits, reserved_sequence_count

EVAL_STREAM = 7_919  # offsets the evaluation seed away from training steps' seeds


@dataclass
class ParityOptions:
    length: int = 16  # sequence length L
    eval_size: int = 1024  # held-out sequences per evaluation

    def __post_init__(self) -> None:
        if self.length < 1:
            raise ValueError(f"length must be >= 1, got {self.length}")
        if self.eval_size < 1:
            raise ValueError(f"eval_size must be >= 1, got {self.eval_size}")


def parity_batch(bits: torch.Tensor) -> Batch:
    """±1 sequences from (N, L) bits, and their cumulative parities (1 = odd number of -1s)."""
    sequences = (bits * 2 - 1).float()
    targets = torch.cumsum(bits == 0, dim=1) % 2
    return Batch(sequences, targets.long())


def draw_bits(count: int, length: int, generator: torch.Generator,
              held_out: bool | None) -> torch.Tensor:
    """`count` random bit sequences: any (None), only held-out ones (True) or none of them
    (False), by redrawing the rows on the wrong side of the partition."""
    bits = torch.randint(0, 2, (count, length), generator=generator)
    if held_out is None:
        return bits
    wrong = reserved_bits(bits) != held_out
    while wrong.any():
        bits[wrong] = torch.randint(0, 2, (int(wrong.sum()), length), generator=generator)
        wrong = reserved_bits(bits) != held_out
    return bits


class ParityTask(Task):
    name = "parity"
    description = "cumulative parity of a ±1 sequence (generated on the fly)"
    Options = ParityOptions
    headline_metrics = ("sequence_accuracy", "position_accuracy")

    def model_defaults(self) -> CTMConfig:
        length = self.options.length
        # about two ticks per position: the CTM learns to read the sequence over its ticks
        return CTMConfig(d_model=128, d_input=64, heads=4, ticks=max(15, 2 * length),
                         memory_length=10,
                         synapse_depth=1, deep_nlm=True, nlm_hidden=16, pairing="random-pairing",
                         n_sync_out=64, n_sync_action=64, n_self=0, out_dims=2 * length,
                         out_shape=(length, 2), backbone="parity",
                         positional_embedding="rotational-1d")

    def model_requirements(self) -> dict[str, Any]:
        length = self.options.length
        return {"out_dims": 2 * length, "out_shape": (length, 2), "backbone": "parity"}

    @classmethod
    def options_for_model(cls, config: CTMConfig) -> dict[str, Any]:
        return {"length": config.out_groups_shape[0]}

    @property
    def held_out_sequences(self) -> int | None:
        """Distinct sequences training never draws (None: more than can be counted); 0 when
        the space is too small to split, and held-out figures measure fit."""
        count = reserved_sequence_count(self.options.length)
        return 0 if count is not None and count < MIN_RESERVED else count

    def _split(self) -> bool:
        return self.held_out_sequences != 0

    def train_batch(self, step: int, batch_size: int, seed: int) -> Batch:
        generator = torch.Generator().manual_seed(train_seed(seed, step))
        held_out = False if self._split() else None
        return parity_batch(draw_bits(batch_size, self.options.length, generator, held_out))

    def eval_batches(self, batch_size: int, seed: int) -> Iterator[Batch]:
        generator = torch.Generator().manual_seed(eval_seed(seed, EVAL_STREAM))
        held_out = True if self._split() else None
        for count in batch_counts(self.options.eval_size, batch_size):
            yield parity_batch(draw_bits(count, self.options.length, generator, held_out))

    def loss(self, output: CTMOutput, batch: Batch, config: CTMConfig) -> TickLoss:
        logits = grouped_logits(output.logits, config.out_groups_shape)
        return two_tick_loss(per_tick_cross_entropy(logits, batch.targets), output.certainty)

    def meter(self, config: CTMConfig) -> GroupMeter:
        return GroupMeter(config, "position", "sequence")

    @torch.no_grad()
    def visualise(self, model: torch.nn.Module, out_dir: Path, count: int, seed: int
                  ) -> list[Path]:
        """Per sequence: attention over positions and correctness per position, tick by tick;
        certainty over ticks and neuron traces."""
        from ...analysis import thinking

        batch = next(iter(self.eval_batches(count, seed)))
        out = model(batch.inputs, trace=True)
        groups = grouped_logits(out.logits, model.config.out_groups_shape)
        correct = (groups.argmax(-1) == batch.targets.unsqueeze(1)).float().numpy()  # (S, T, L)
        written = [thinking.certainty_plot(out.certainty.numpy(),
                                           [f"sequence {k}" for k in range(len(correct))],
                                           out_dir / "certainty.png")]
        if out.post_activations is not None:
            written.append(thinking.neuron_traces(out.post_activations[0].numpy(),
                                                  out_dir / "neuron_traces.png",
                                                  title="held-out sequence 0"))
        if out.attention is not None:
            attention = out.attention.mean(2).numpy()  # (S, T, L)
            for k in range(len(correct)):
                bits = "".join("+" if v > 0 else "-" for v in batch.inputs[k].tolist())
                written.append(thinking.sequence_thinking(
                    attention[k], correct[k], f"sequence {k}: {bits}",
                    out_dir / f"sequence_{k}_thinking.png"))
        return written

    def viewer_examples(self, config: CTMConfig, count: int, seed: int) -> dict[str, Any]:
        batch = next(iter(self.eval_batches(count, seed)))
        length = self.options.length
        return {"kind": "bits", "tokens": [1, length], "groups": [length, 2],
                "class_names": ["even", "odd"],
                "examples": [{"input": row.tolist(), "label": target.tolist(),
                              "title": f"held-out sequence {k}"}
                             for k, (row, target) in enumerate(zip(batch.inputs, batch.targets,
                                                                   strict=True))]}

    def held_out_note(self) -> str:
        count, length = self.held_out_sequences, self.options.length
        if count == 0:
            return (f"training fit, not generalisation: L={length} has only {2 ** length} "
                    f"sequences, too few to hold any out of training")
        distinct = f"{count:,} distinct sequences" if count else f"1 in {SHARE} sequences"
        return f"held-out: {distinct} that training never draws"

    def summary(self, metrics: dict[str, Any]) -> str:
        lines = [
            f"parity L={self.options.length} ({self.held_out_note()})",
            f"at the most-certain tick "
            f"(mean tick {metrics['mean_certain_tick']:.1f}) "
            f"per-position {100 * metrics['position_accuracy']:.2f}%, "
            f"whole-sequence {100 * metrics['sequence_accuracy']:.2f}%, "
            f"per-position ECE {100 * metrics['ece']:.2f}%",
        ]
        lines += per_tick_table({"per-position": metrics["position_accuracy_per_tick"],
                                 "whole-sequence": metrics["sequence_accuracy_per_tick"]})
        return "\n".join(lines)
