"""Q&A memory (the paper's Q&A MNIST): watch k digit images one after another, then a question
of index and operator tokens, then answer with no input at all.

An episode: each of k digits is shown for R ticks (`ticks_per_observation`); then the question,
an index token (which digit to start from), and m times an operator token (+ or −) followed by
an index token, each shown for R ticks; then `answer_ticks` ticks with no input. The answer is
the value of the expression, each operation taken mod 10, on the digits' labels. The model can
only answer from memory: each digit is gone before the question arrives. The loss is the
two-tick rule over the answer ticks only.

Inputs are a token set per tick (input mode "schedule"): a digit is split into patches, one
token each (pixels, patch position); an index or operator is one token; a token's features also
say what kind it is. Digits come from scikit-learn's 8×8 digits (no download) or an MNIST-format
folder (`--dataset mnist --path DIR`); held-out episodes use only the held-out images.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ...losses import TickLoss, grouped_logits, per_tick_cross_entropy, two_tick_loss
from ...metrics import GroupedAccuracy
from ...model import CTMConfig, CTMOutput
from ...progress import reported
from ..base import Batch, Task, batch_counts, eval_seed, train_seed
from ..image_data import ArraySource, load_digits_split, load_mnist_split
from .data import MAX_INDEX, QABatch, TokenLayout, answer_of

EVAL_STREAM = 32_452_843
DATASETS = ("digits", "mnist")
DIGIT_INPUTS = ("images", "labels")


@dataclass
class QAOptions:
    digits: int = 4  # episodes show 1..digits digit images (the count drawn per batch)
    operations: int = 4  # and ask 1..operations operations
    min_digits: int = 1  # the fewest digit images an episode shows
    min_operations: int = 1  # the fewest operations it asks
    # R: ticks each digit, index and operator is shown (one tick learned more, in less
    # time, than longer showings: docs/results.md)
    ticks_per_observation: int = 1
    answer_ticks: int = 3  # ticks with no input at the end; the loss looks only at these
    # training: the largest digits and operations counts drawn grow from the minimum to the
    # maximum over this many steps (0: all counts from the start); evaluation covers them all
    curriculum_steps: int = 3000
    patch: int = 0  # digit patches of patch×patch pixels, one token each (0: half the side)
    dataset: str = "digits"  # digits (scikit-learn, bundled) | mnist (IDX files in --path)
    # images: each digit shown as its image; labels: as one token naming its class exactly,
    # an ablation that takes recognition out and leaves memory and arithmetic
    digit_input: str = "images"
    path: str = ""  # --dataset mnist: the folder holding its four IDX files
    eval_size: int = 1024  # held-out episodes, spread evenly over the (digits, operations) pairs
    # one-hot slots of an index token: the most digits the model can ever be shown. More
    # than digits lets the same model be evaluated on longer episodes than it trained on,
    # as the original does up to 10 (`ctm eval RUN --digits 10 --operations 10`)
    index_slots: int = MAX_INDEX

    def __post_init__(self) -> None:
        if not 1 <= self.min_digits <= self.digits:
            raise ValueError(f"need 1 <= min_digits <= digits, got min_digits "
                             f"{self.min_digits}, digits {self.digits}")
        if self.digits > self.index_slots:
            raise ValueError(f"digits ({self.digits}) must be <= index_slots "
                             f"({self.index_slots}): index tokens have room for "
                             f"{self.index_slots} digits (train with --index-slots "
                             f"{self.digits} to show more)")
        if not 1 <= self.min_operations <= self.operations:
            raise ValueError(f"need 1 <= min_operations <= operations, got min_operations "
                             f"{self.min_operations}, operations {self.operations}")
        if self.curriculum_steps < 0:
            raise ValueError(f"curriculum_steps must be >= 0, got {self.curriculum_steps}")
        for name in ("ticks_per_observation", "answer_ticks", "eval_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.patch < 0:
            raise ValueError(f"patch must be >= 0, got {self.patch}")
        if self.digit_input not in DIGIT_INPUTS:
            raise ValueError(f"digit_input must be one of {', '.join(DIGIT_INPUTS)}, "
                             f"got {self.digit_input!r}")
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {DATASETS}, got {self.dataset!r}")
        if self.dataset == "mnist" and not self.path:
            raise ValueError("dataset mnist is read from disk: give --path")


class QAMeter:
    """Answer accuracy at the most certain answer tick, overall and per (digits, operations),
    per answer tick, and the calibration of the answers.

    It also splits accuracy by how many different digits the question refers to. A question
    whose indices all name one digit asks for recall only (d + d - d ... needs d and a count);
    two or more distinct digits ask the model to hold one value while it fetches another, which
    is where models fail first."""

    def __init__(self, answer_ticks: int) -> None:
        self.answer_ticks = answer_ticks
        self.accuracy = GroupedAccuracy()
        self.right: dict[tuple[int, int], list[int]] = {}
        self.right_by_distinct: dict[int, list[int]] = {}

    def update(self, output: CTMOutput, batch: Batch) -> None:
        assert isinstance(batch, QABatch)
        logits = output.logits[:, -self.answer_ticks:].float().cpu()  # (B, A, 10)
        certainty = output.certainty[:, -self.answer_ticks:].cpu()
        targets = batch.targets.cpu()
        self.accuracy.update(logits.unsqueeze(2), targets.unsqueeze(1), certainty)
        chosen = logits[torch.arange(len(targets)), certainty.argmax(1)].argmax(-1)
        correct = chosen == targets
        tally = self.right.setdefault((batch.digits, batch.operations), [0, 0])
        tally[0] += int(correct.sum())
        tally[1] += len(targets)
        indices = batch.question[:, 0::2].cpu()
        for asked, right in zip(indices.tolist(), correct.tolist(), strict=True):
            by_distinct = self.right_by_distinct.setdefault(len(set(asked)), [0, 0])
            by_distinct[0] += int(right)
            by_distinct[1] += 1

    def result(self) -> dict[str, Any]:
        r = self.accuracy.result("answer", "episode")
        by_digits: dict[int, list[int]] = {}
        by_operations: dict[int, list[int]] = {}
        for (k, m), (right, count) in self.right.items():
            for table, key in ((by_digits, k), (by_operations, m)):
                table.setdefault(key, [0, 0])
                table[key][0] += right
                table[key][1] += count
        return {
            "answer_accuracy": r["answer_accuracy"],
            "ece": r["ece"],
            "mean_certain_answer_tick": r["mean_certain_tick"],
            "answer_accuracy_per_answer_tick": r["answer_accuracy_per_tick"],
            "answer_accuracy_by_digits": {str(k): v[0] / v[1]
                                          for k, v in sorted(by_digits.items())},
            "answer_accuracy_by_operations": {str(m): v[0] / v[1]
                                              for m, v in sorted(by_operations.items())},
            "answer_accuracy_table": {f"{k},{m}": right / count
                                      for (k, m), (right, count) in sorted(self.right.items())},
            "answer_accuracy_by_distinct_digits_asked": {
                str(n): right / count
                for n, (right, count) in sorted(self.right_by_distinct.items())},
        }


class QATask(Task):
    name = "qa"
    description = "Q&A memory: see digits one by one, then answer a question about them"
    Options = QAOptions
    headline_metrics = ("answer_accuracy",)
    adaptive_ticks = False  # the ticks follow the episode's schedule

    @torch.no_grad()
    def calibration_logits(self, model: torch.nn.Module, batches: Iterator[Batch],
                           device: torch.device | str
                           ) -> tuple[torch.Tensor, torch.Tensor]:
        """The answer's logits at the most certain answer tick."""
        chosen, targets = [], []
        a = self.options.answer_ticks
        for batch in batches:
            out = self.forward(model, batch.to(device))
            logits, certainty = out.logits[:, -a:].cpu(), out.certainty[:, -a:].cpu()
            chosen.append(logits[torch.arange(len(logits)), certainty.argmax(1)])
            targets.append(batch.targets.cpu())
        return torch.cat(chosen), torch.cat(targets)

    def __init__(self, options: QAOptions) -> None:
        super().__init__(options)
        self._splits: tuple[ArraySource, ArraySource] | None = None

    def splits(self) -> tuple[ArraySource, ArraySource]:
        if self._splits is None:
            self._splits = (load_digits_split() if self.options.dataset == "digits"
                            else load_mnist_split(self.options.path))
            side = self._splits[0].pixels.shape[1]
            if self._splits[0].pixels.shape[1:3] != (side, side):
                raise ValueError(f"Q&A needs square digit images, got "
                                 f"{self._splits[0].pixels.shape[1:3]}")
        return self._splits

    @property
    def side(self) -> int:
        return 8 if self.options.dataset == "digits" else self.splits()[0].pixels.shape[1]

    @property
    def layout(self) -> TokenLayout:
        side = self.side
        patch = self.options.patch or max(1, side // 2)
        if side % patch:
            raise ValueError(f"patch {patch} does not divide the {side}-pixel digit images")
        return TokenLayout(side, patch, self.options.index_slots,
                           labels=self.options.digit_input == "labels")

    def schedule_ticks(self, digits: int, operations: int) -> int:
        """Ticks with input in an episode of `digits` digits and `operations` operations."""
        return (digits + 1 + 2 * operations) * self.options.ticks_per_observation

    def model_defaults(self) -> CTMConfig:
        o = self.options
        ticks = self.schedule_ticks(o.digits, o.operations) + o.answer_ticks
        # each neuron's model sees the whole episode's history: the original's window of 3
        # answered less with the same recipe; a depth-2 synapse pays only in runs longer than
        # the default (both measured in docs/results.md)
        return CTMConfig(d_model=256, d_input=64, heads=4, ticks=ticks,
                         memory_length=ticks, synapse_depth=1, deep_nlm=True, nlm_hidden=16,
                         pairing="random-pairing", n_sync_out=64, n_sync_action=64, n_self=0,
                         out_dims=10, out_shape=(-1,), backbone="none",
                         in_channels=self.layout.width, input_mode="schedule")

    def train_defaults(self) -> dict[str, Any]:
        # lr 3e-3 with the counts growing over the first half of the run learned where lower
        # rates and no curriculum did not; longer recipes answer more, but the defaults stay
        # a run of minutes (the runs are in docs/results.md)
        return {"lr": 3e-3, "steps": 6000, "eval_every": 1000}

    def model_requirements(self) -> dict[str, Any]:
        return {"out_dims": 10, "out_shape": (-1,), "backbone": "none",
                "in_channels": self.layout.width, "input_mode": "schedule"}

    # --- data ----------------------------------------------------------------------------------

    def episodes(self, source: ArraySource, count: int, digits: int, operations: int,
                 rng: random.Random) -> QABatch:
        """`count` episodes of `digits` digits drawn from `source` and `operations` operations."""
        layout, r = self.layout, self.options.ticks_per_observation
        picks = [[rng.randrange(len(source)) for _ in range(digits)] for _ in range(count)]
        labels = torch.tensor([[int(source.labels[i]) for i in row] for row in picks])
        question = torch.zeros(count, 2 * operations + 1, dtype=torch.long)
        question[:, 0::2] = torch.tensor([[rng.randrange(digits) for _ in range(operations + 1)]
                                          for _ in range(count)])
        question[:, 1::2] = torch.tensor([[rng.randrange(2) for _ in range(operations)]
                                          for _ in range(count)])
        if layout.labels:
            shown = layout.label_tokens(labels.flatten())
        else:
            shown = layout.digit_tokens(source.images([i for row in picks for i in row])[..., 0])
        shown = shown.view(count, digits, layout.patches, layout.width)
        parts = [shown]
        for j in range(question.shape[1]):
            kind = "index" if j % 2 == 0 else "operator"
            parts.append(layout.symbol_tokens(question[:, j], kind).unsqueeze(1))
        steps = torch.cat(parts, dim=1)  # (count, k + 2m + 1, N, C)
        inputs = steps.repeat_interleave(r, dim=1)  # each shown for R ticks
        return QABatch(inputs, answer_of(labels, question), digits, operations, labels,
                       question)

    def train_batch(self, step: int, batch_size: int, seed: int) -> QABatch:
        rng = random.Random(train_seed(seed, step))
        o = self.options
        digits = rng.randint(o.min_digits, self.curriculum(step, o.min_digits, o.digits))
        operations = rng.randint(o.min_operations,
                                 self.curriculum(step, o.min_operations, o.operations))
        return self.episodes(self.splits()[0], batch_size, digits, operations, rng)

    def batch_shapes_vary(self) -> bool:
        o = self.options
        return o.digits > o.min_digits or o.operations > o.min_operations

    def curriculum(self, step: int, low: int, high: int) -> int:
        """The largest count training draws at `step`: `low` at first, `high` once
        `curriculum_steps` have passed, rising evenly in between."""
        span = self.options.curriculum_steps
        if not span or step >= span:
            return high
        return low + (high - low + 1) * step // span

    def pairs(self) -> list[tuple[int, int]]:
        o = self.options
        return [(k, m) for k in range(o.min_digits, o.digits + 1)
                for m in range(o.min_operations, o.operations + 1)]

    def eval_batches(self, batch_size: int, seed: int) -> Iterator[QABatch]:
        rng = random.Random(eval_seed(seed, EVAL_STREAM))
        pairs = self.pairs()
        each = max(1, self.options.eval_size // len(pairs))
        test = self.splits()[1]
        for k, m in pairs:
            for count in batch_counts(each, batch_size):
                yield self.episodes(test, count, k, m, rng)

    # --- model, loss, metrics --------------------------------------------------------------------

    def forward(self, model: torch.nn.Module, batch: Batch) -> CTMOutput:
        assert isinstance(batch, QABatch)
        return model(batch.inputs, ticks=self.ticks_for(batch.inputs, model.config))

    def ticks_for(self, inputs: torch.Tensor, config: CTMConfig) -> int:
        return inputs.shape[1] + self.options.answer_ticks

    def loss(self, output: CTMOutput, batch: Batch, config: CTMConfig) -> TickLoss:
        a = self.options.answer_ticks
        logits = grouped_logits(output.logits[:, -a:], (10,))  # (B, A, 1, 10)
        return two_tick_loss(per_tick_cross_entropy(logits, batch.targets.unsqueeze(1)),
                             output.certainty[:, -a:])

    def meter(self, config: CTMConfig) -> QAMeter:
        return QAMeter(self.options.answer_ticks)

    def final_evaluation(self, model: torch.nn.Module, batch_size: int, seed: int,
                         device: torch.device | str) -> dict[str, Any]:
        """Answer accuracy when every observation is shown for other numbers of ticks than in
        training (1, R and 2R): does the model depend on the schedule's pace?"""
        r = self.options.ticks_per_observation
        by_pace = {}
        for pace in sorted({1, r, 2 * r}):
            task = QATask(dataclasses.replace(self.options, ticks_per_observation=pace))
            task._splits = self.splits()  # the images are read once, not once per pace
            batches = reported(task.eval_batches(batch_size, seed),
                               f"evaluating with {pace} tick(s) per observation")
            metrics = task.evaluate(model, batches, device)
            by_pace[str(pace)] = metrics["answer_accuracy"]
        return {"answer_accuracy_by_ticks_per_observation": by_pace}

    @torch.no_grad()
    def visualise(self, model: torch.nn.Module, out_dir: Path, count: int, seed: int
                  ) -> list[Path]:
        """One picture per episode: the input at each tick with the attention over it, the
        certainty over ticks and the prediction at each answer tick."""
        from .viz import episode_figure

        o = self.options
        rng = random.Random(eval_seed(seed, EVAL_STREAM))
        batch = self.episodes(self.splits()[1], count, o.digits, o.operations, rng)
        out = model(batch.inputs, ticks=batch.inputs.shape[1] + o.answer_ticks, trace=True)
        written = []
        for k in range(count):
            attention = None if out.attention is None else out.attention[k].mean(1).numpy()
            written.append(episode_figure(
                batch, k, self.layout, o.ticks_per_observation, attention,
                out.certainty[k].numpy(), out.logits[k].argmax(-1).numpy(), o.answer_ticks,
                out_dir / f"episode_{k}.png"))
        return written

    def held_out_note(self) -> str:
        if self.options.digit_input == "labels":
            return ("digits as exact labels: fresh episodes, not held out, since training "
                    "can draw the same labels and questions")
        return "held-out digit images"

    def summary(self, metrics: dict[str, Any]) -> str:
        o = self.options
        r = o.ticks_per_observation
        lines = [f"qa: {o.min_digits}-{o.digits} digits, {o.min_operations}-{o.operations} "
                 f"operations, {r} tick{'s' * (r != 1)} per observation, "
                 f"{o.answer_ticks} answer ticks ({self.held_out_note()})",
                 f"answer accuracy {100 * metrics['answer_accuracy']:.2f}% at the most certain "
                 f"answer tick, ECE {100 * metrics['ece']:.2f}%"]
        table = metrics["answer_accuracy_table"]
        ops = range(o.min_operations, o.operations + 1)
        lines.append("digits \\ operations " + " ".join(f"{m:>7}" for m in ops))
        for k in range(o.min_digits, o.digits + 1):
            cells = [f"{100 * table[f'{k},{m}']:>6.1f}%" if f"{k},{m}" in table else "      -"
                     for m in ops]
            lines.append(f"{k:>20} " + " ".join(cells))
        if "answer_accuracy_by_ticks_per_observation" in metrics:
            paces = metrics["answer_accuracy_by_ticks_per_observation"]
            lines.append("ticks per observation: " + ", ".join(
                f"{pace}: {100 * accuracy:.1f}%" for pace, accuracy in paces.items()))
        return "\n".join(lines)
