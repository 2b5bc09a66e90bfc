"""Sorting: read N real numbers, emit the indices that put them in ascending order, one after
another over the ticks (the paper's sorting task).

The input reaches the neurons directly (no attention): the same projected numbers join the
synapse input every tick. The output at each tick is N + 1 classes, index 0..N-1 or a blank;
the loss is CTC with the ticks as its time axis, and decoding is greedy (the most likely class
per tick, repeats merged, blanks dropped), so the model chooses when to emit each index. The
paper finds it waits longer before an index whose value lies further from the previous one.

Held-out: one in eight orderings (permutations of N) is reserved by a hash (held_out.py);
training redraws any sequence whose ordering is reserved, evaluation draws only those.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...losses import TickLoss, ctc_over_ticks
from ...metrics import ctc_greedy_decode
from ...model import ARCHITECTURES, CTMConfig, CTMOutput
from ..base import Batch, Task, batch_counts, eval_seed, train_seed
from ..held_out import MIN_RESERVED, reserved_bytes

EVAL_STREAM = 15_485_863
GAP_BINS = 8  # quantile bins of the gap between successive sorted values, for the wait picture


@dataclass
class SortOptions:
    length: int = 30  # N, how many numbers to sort
    eval_size: int = 1000  # held-out sequences per evaluation

    def __post_init__(self) -> None:
        if not 2 <= self.length <= 255:
            raise ValueError(f"length must be in [2, 255], got {self.length}")
        if self.eval_size < 1:
            raise ValueError(f"eval_size must be >= 1, got {self.eval_size}")


def ordering_reserved(order: torch.Tensor) -> torch.Tensor:
    """(B, N) permutations -> (B,) whether each is reserved for evaluation."""
    rows = order.to(torch.uint8).numpy()
    return torch.tensor([reserved_bytes(row.tobytes()) for row in rows], dtype=torch.bool)


def draw_sequences(count: int, length: int, generator: torch.Generator,
                   held_out: bool | None) -> Batch:
    """`count` sequences of N(0, 1) numbers and their ascending orderings: any (None), only
    reserved orderings (True) or none of them (False), redrawing rows on the wrong side."""
    values = torch.randn(count, length, generator=generator)
    order = values.argsort(dim=1)
    if held_out is not None:
        wrong = ordering_reserved(order) != held_out
        while wrong.any():
            values[wrong] = torch.randn(int(wrong.sum()), length, generator=generator)
            order = values.argsort(dim=1)
            wrong = ordering_reserved(order) != held_out
    return Batch(values, order)


class SortMeter:
    """Exact-sequence and per-position accuracy of the greedy decoding; how many indices were
    emitted; and the ticks waited before each correctly emitted index against the gap between
    its value and the previous one in sorted order."""

    def __init__(self, length: int) -> None:
        self.length = length
        self.count = 0
        self.exact = 0
        self.position_right = torch.zeros(length, dtype=torch.float64)
        self.length_error = 0
        self.gaps: list[float] = []
        self.waits: list[int] = []

    def update(self, output: CTMOutput, batch: Batch) -> None:
        logits = output.logits.detach().float().cpu()
        values, targets = batch.inputs.cpu(), batch.targets.cpu()
        n = self.length
        for row, (decoded, ticks) in enumerate(ctc_greedy_decode(logits, blank=n)):
            target = targets[row]
            k = min(len(decoded), n)
            right = torch.zeros(n, dtype=torch.bool)
            right[:k] = decoded[:k] == target[:k]
            self.position_right += right.double()
            self.exact += int(len(decoded) == n and bool(right.all()))
            self.length_error += abs(len(decoded) - n)
            ordered = values[row][target]
            waits = torch.diff(ticks, prepend=torch.tensor([-1])) - 1
            for i in range(1, k):  # the first emission has no previous value
                if right[i] and right[i - 1]:
                    self.gaps.append(float(ordered[i] - ordered[i - 1]))
                    self.waits.append(int(waits[i]))
        self.count += len(targets)

    def result(self) -> dict[str, Any]:
        if not self.count:
            raise ValueError("no batches were evaluated")
        by_index = (self.position_right / self.count).tolist()
        return {
            "sequence_accuracy": self.exact / self.count,
            "position_accuracy": sum(by_index) / self.length,
            "position_accuracy_by_index": by_index,
            "mean_length_error": self.length_error / self.count,
            **wait_against_gap(np.array(self.gaps), np.array(self.waits)),
        }


def gap_bins(gaps: np.ndarray, waits: np.ndarray, bins: int
             ) -> list[tuple[float, float, float, float]]:
    """(lowest gap, highest gap, mean gap, mean wait) of each non-empty quantile bin of the
    gap, in order."""
    edges = np.quantile(gaps, np.linspace(0, 1, bins + 1))
    index = np.clip(np.searchsorted(edges, gaps, side="right") - 1, 0, bins - 1)
    return [(float(edges[k]), float(edges[k + 1]), float(gaps[index == k].mean()),
             float(waits[index == k].mean())) for k in range(bins) if (index == k).any()]


def wait_against_gap(gaps: np.ndarray, waits: np.ndarray) -> dict[str, Any]:
    """Mean ticks waited per quantile bin of the gap, and the rank correlation of the two."""
    if len(gaps) < 2 * GAP_BINS:
        return {"wait_gap_correlation": None, "wait_by_gap": {}}
    table = {f"{low:.3f}-{high:.3f}": wait
             for low, high, _, wait in gap_bins(gaps, waits, GAP_BINS)}
    return {"wait_gap_correlation": spearman(gaps, waits), "wait_by_gap": table}


def spearman(a: np.ndarray, b: np.ndarray) -> float | None:
    """Spearman's rank correlation (average ranks for ties); None when one side is constant."""
    ra, rb = _ranks(a), _ranks(b)
    if ra.std() == 0 or rb.std() == 0:
        return None
    return float(np.corrcoef(ra, rb)[0, 1])


def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x))
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return sums[inverse] / counts[inverse]


class SortTask(Task):
    name = "sort"
    description = "sort N real numbers: emit their ascending order over the ticks (CTC)"
    Options = SortOptions
    headline_metrics = ("sequence_accuracy", "position_accuracy")
    adaptive_ticks = False  # the answer is emitted over the ticks, not read at one of them

    def calibration_logits(self, model: torch.nn.Module, batches: Iterator[Batch],
                           device: torch.device | str) -> None:
        return None  # CTC emissions are not one class per sample

    def model_defaults(self) -> CTMConfig:
        n = self.options.length
        return CTMConfig(d_model=256, d_input=64, heads=4, ticks=math.ceil(5 * n / 3),
                         memory_length=10, synapse_depth=2, deep_nlm=True, nlm_hidden=8,
                         pairing="random-pairing", n_sync_out=256, n_sync_action=8, n_self=0,
                         out_dims=n + 1, out_shape=(-1,), backbone="none",
                         input_mode="direct", input_size=n)

    def model_requirements(self) -> dict[str, Any]:
        n = self.options.length
        return {"out_dims": n + 1, "out_shape": (-1,), "input_size": n}

    def train_defaults(self) -> dict[str, Any]:
        # the best of a sweep of learning rates on N=8 (the sweep is in docs/results.md)
        return {"lr": 1e-2}

    def check_model(self, config: CTMConfig) -> None:
        n = self.options.length
        if not ARCHITECTURES.get(config.architecture).answers_over_ticks:
            raise ValueError(f"sort emits its answer over ticks; the {config.architecture} "
                             f"baseline thinks once: use --architecture lstm for a baseline")
        if config.ticks < n:
            raise ValueError(f"sorting {n} numbers emits {n} indices, one tick each at least: "
                             f"ticks must be >= {n}, got {config.ticks}")

    @classmethod
    def options_for_model(cls, config: CTMConfig) -> dict[str, Any]:
        return {"length": config.out_dims - 1}

    def _split(self) -> bool:
        return math.factorial(self.options.length) // 8 >= MIN_RESERVED

    def train_batch(self, step: int, batch_size: int, seed: int) -> Batch:
        generator = torch.Generator().manual_seed(train_seed(seed, step))
        held_out = False if self._split() else None
        return draw_sequences(batch_size, self.options.length, generator, held_out)

    def eval_batches(self, batch_size: int, seed: int) -> Iterator[Batch]:
        generator = torch.Generator().manual_seed(eval_seed(seed, EVAL_STREAM))
        held_out = True if self._split() else None
        for count in batch_counts(self.options.eval_size, batch_size):
            yield draw_sequences(count, self.options.length, generator, held_out)

    def loss(self, output: CTMOutput, batch: Batch, config: CTMConfig) -> TickLoss:
        return ctc_over_ticks(output.logits, batch.targets, output.certainty,
                              blank=self.options.length)

    def meter(self, config: CTMConfig) -> SortMeter:
        return SortMeter(self.options.length)

    @torch.no_grad()
    def visualise(self, model: torch.nn.Module, out_dir: Path, count: int, seed: int
                  ) -> list[Path]:
        """Per sequence: the class probabilities over ticks with the emitted indices; over the
        held-out set: ticks waited against the gap between successive sorted values."""
        from ...analysis import thinking
        from .viz import emission_plot, wait_gap_plot

        batch = next(iter(self.eval_batches(count, seed)))
        out = model(batch.inputs, trace=True)
        written = [thinking.certainty_plot(out.certainty.numpy(),
                                           [f"sequence {k}" for k in range(len(batch.inputs))],
                                           out_dir / "certainty.png")]
        if out.post_activations is not None:
            written.append(thinking.neuron_traces(out.post_activations[0].numpy(),
                                                  out_dir / "neuron_traces.png",
                                                  title="held-out sequence 0"))
        for k in range(len(batch.inputs)):
            written.append(emission_plot(batch.inputs[k].numpy(), batch.targets[k].numpy(),
                                         out.logits[k].softmax(-1).numpy(),
                                         out_dir / f"sequence_{k}_emissions.png"))
        meter = SortMeter(self.options.length)
        for eval_batch in self.eval_batches(256, seed):
            meter.update(model(eval_batch.inputs), eval_batch)
        gaps, waits = np.array(meter.gaps), np.array(meter.waits)
        deciles = gap_bins(gaps, waits, 10) if len(gaps) else []
        written.append(wait_gap_plot(gaps, waits, deciles, out_dir / "wait_against_gap.png"))
        return written

    def held_out_note(self) -> str:
        if not self._split():
            return (f"training fit, not generalisation: N={self.options.length} has too few "
                    f"orderings to hold any out")
        return "held-out: orderings that training never draws"

    def summary(self, metrics: dict[str, Any]) -> str:
        n = self.options.length
        lines = [f"sort N={n} ({self.held_out_note()})",
                 f"exact sequences {100 * metrics['sequence_accuracy']:.2f}%, positions right "
                 f"{100 * metrics['position_accuracy']:.2f}%, mean |emitted - N| "
                 f"{metrics['mean_length_error']:.2f}"]
        if metrics.get("wait_gap_correlation") is not None:
            lines.append(f"ticks waited against the gap to the previous sorted value: rank "
                         f"correlation {metrics['wait_gap_correlation']:+.2f}")
            lines += [f"  gap {span:>13}: waits {wait:.2f} ticks"
                      for span, wait in metrics["wait_by_gap"].items()]
        return "\n".join(lines)
