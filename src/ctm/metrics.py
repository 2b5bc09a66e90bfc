"""Accuracy of grouped outputs, at the most-certain tick and at every tick, and the meters that
tasks with grouped class outputs evaluate with."""

from __future__ import annotations

from typing import Any

import torch

from .losses import grouped_logits
from .model import CTMConfig, CTMOutput

BINS = 15


def bin_statistics(confidence: torch.Tensor, correct: torch.Tensor, bins: int = BINS
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per equal-width confidence bin over [0, 1]: (count, mean confidence, accuracy).
    Bin k holds confidences in (k/bins, (k+1)/bins]; confidence 0 falls in the first bin."""
    confidence, correct = confidence.flatten().double(), correct.flatten().double()
    index = (torch.ceil(confidence * bins).long() - 1).clamp(0, bins - 1)
    count = torch.bincount(index, minlength=bins).double()
    conf_sum = torch.bincount(index, weights=confidence, minlength=bins)
    correct_sum = torch.bincount(index, weights=correct, minlength=bins)
    safe = count.clamp(min=1)
    return count, conf_sum / safe, correct_sum / safe


def expected_calibration_error(confidence: torch.Tensor, correct: torch.Tensor,
                               bins: int = BINS) -> float:
    """ECE = sum over bins of (share of samples) · |accuracy - mean confidence|."""
    if confidence.numel() == 0:
        raise ValueError("no predictions to calibrate")
    count, mean_conf, accuracy = bin_statistics(confidence, correct, bins)
    return float(((count / count.sum()) * (accuracy - mean_conf).abs()).sum())


class GroupedAccuracy:
    """Accumulates accuracy of (B, T, G, C) logits against (B, G) targets over batches.

    Reports per-group ("per-position") and whole-sample ("every group right") accuracy at each
    sample's most-certain tick and at every tick, the mean most-certain tick (1-based), and the
    expected calibration error of the per-group predictions (15 bins) at the most-certain tick
    and at every tick.
    """

    def __init__(self) -> None:
        self.count = 0
        self.group_correct_certain = 0.0
        self.all_correct_certain = 0.0
        self.certain_tick_sum = 0.0
        self.group_correct_per_tick: torch.Tensor | None = None
        self.all_correct_per_tick: torch.Tensor | None = None
        self.confidence: list[torch.Tensor] = []  # (B, T, G) probability of the predicted class
        self.correct: list[torch.Tensor] = []  # (B, T, G)
        self.ticks: list[torch.Tensor] = []  # (B,) most-certain tick

    @torch.no_grad()
    def update(self, grouped_logits: torch.Tensor, targets: torch.Tensor,
               certainty: torch.Tensor) -> None:
        b = grouped_logits.shape[0]
        correct = (grouped_logits.argmax(-1) == targets.unsqueeze(1)).float()  # (B, T, G)
        tick = certainty.argmax(1)  # (B,)
        self.confidence.append(grouped_logits.float().softmax(-1).amax(-1).cpu())
        self.correct.append(correct.cpu())
        self.ticks.append(tick.cpu())
        at_certain = correct[torch.arange(b), tick]  # (B, G)
        self.count += b
        self.group_correct_certain += at_certain.mean(-1).sum().item()
        self.all_correct_certain += at_certain.min(-1).values.sum().item()
        self.certain_tick_sum += (tick + 1).sum().item()
        group_per_tick = correct.mean(-1).sum(0).cpu()  # (T,)
        all_per_tick = correct.min(-1).values.sum(0).cpu()
        if self.group_correct_per_tick is None:
            self.group_correct_per_tick, self.all_correct_per_tick = group_per_tick, all_per_tick
        else:
            self.group_correct_per_tick += group_per_tick
            self.all_correct_per_tick += all_per_tick

    def result(self, group_name: str, whole_name: str) -> dict[str, float | list[float]]:
        if not self.count:
            raise ValueError("no batches were evaluated")
        n = self.count
        confidence, correct = torch.cat(self.confidence), torch.cat(self.correct)
        rows = torch.arange(n)
        ticks = torch.cat(self.ticks)
        return {
            f"{group_name}_accuracy": self.group_correct_certain / n,
            f"{whole_name}_accuracy": self.all_correct_certain / n,
            "mean_certain_tick": self.certain_tick_sum / n,
            f"{group_name}_accuracy_per_tick": (self.group_correct_per_tick / n).tolist(),
            f"{whole_name}_accuracy_per_tick": (self.all_correct_per_tick / n).tolist(),
            "ece": expected_calibration_error(confidence[rows, ticks], correct[rows, ticks]),
            "ece_per_tick": [expected_calibration_error(confidence[:, t], correct[:, t])
                             for t in range(confidence.shape[1])],
        }


class GroupMeter:
    """A task meter over (B, G) class targets: `GroupedAccuracy` under the task's names for
    one group ("position") and a whole sample ("sequence")."""

    def __init__(self, config: CTMConfig, group_name: str, whole_name: str) -> None:
        self.groups_shape = config.out_groups_shape
        self.names = group_name, whole_name
        self.accuracy = GroupedAccuracy()

    def update(self, output: CTMOutput, batch: Any) -> None:
        self.accuracy.update(grouped_logits(output.logits, self.groups_shape).cpu(),
                             batch.targets.reshape(len(batch.targets), -1).cpu(),
                             output.certainty.cpu())

    def result(self) -> dict[str, Any]:
        return self.accuracy.result(*self.names)


class ClassMeter(GroupMeter):
    """Plain classification, (B,) targets: accuracy, ECE and the mean most-certain tick."""

    def __init__(self, config: CTMConfig) -> None:
        super().__init__(config, "class", "sample")

    def result(self) -> dict[str, Any]:
        r = super().result()
        return {"accuracy": r["sample_accuracy"], "ece": r["ece"],
                "mean_certain_tick": r["mean_certain_tick"],
                "accuracy_per_tick": r["sample_accuracy_per_tick"],
                "ece_per_tick": r["ece_per_tick"]}


def ctc_greedy_decode(logits: torch.Tensor, blank: int
                      ) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Best-path CTC decoding of (B, T, C) logits: per sample, the most likely class per tick
    with repeats merged and blanks dropped, and the tick (0-based) of each emission."""
    path = logits.argmax(-1)  # (B, T)
    previous = torch.cat([torch.full_like(path[:, :1], -1), path[:, :-1]], dim=1)
    emits = (path != blank) & (path != previous)
    decoded = []
    for row, emit in zip(path, emits, strict=True):
        ticks = emit.nonzero().flatten()
        decoded.append((row[ticks], ticks))
    return decoded


def per_tick_table(columns: dict[str, list[float]]) -> list[str]:
    """Rows 'tick  col1  col2 ...' with every value as a percentage, one row per tick."""
    widths = [max(len(name), 7) for name in columns]
    header = "tick  " + "  ".join(f"{name:>{w}}" for name, w in zip(columns, widths, strict=True))
    rows = [header]
    for t, values in enumerate(zip(*columns.values(), strict=True)):
        cells = [f"{100 * v:>{w - 1}.2f}%" for v, w in zip(values, widths, strict=True)]
        rows.append(f"{t + 1:>4}  " + "  ".join(cells))
    return rows
