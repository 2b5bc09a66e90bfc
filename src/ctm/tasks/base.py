"""What a task is: its options, its model defaults, its data, its loss and its metrics.

The trainer, the CLI and the evaluation code know tasks only through this interface; a new task
is one module that subclasses `Task` and registers itself in `ctm.tasks`. The evaluation loop
is shared: a task supplies a `Meter` that takes one batch's output at a time.

Seeds: training step `step` of a run seeded `seed` draws from `train_seed(seed, step)`; held-out
data from `eval_seed(seed, stream)`, with a task's own `stream` number so no evaluation seed is a
training step's. Changing these formulas changes every run's data, so they live here once.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

import torch

from ..losses import TickLoss
from ..model import CTMConfig, CTMOutput

SEED_STRIDE = 1_000_003  # a prime: (seed, step) pairs of short runs never share a stream


def train_seed(seed: int, step: int) -> int:
    """The seed of training step `step`'s batch."""
    return seed * SEED_STRIDE + step


def eval_seed(seed: int, stream: int) -> int:
    """The seed of held-out data stream `stream` (a positive number each task picks)."""
    return seed * SEED_STRIDE - stream


def batch_counts(total: int, batch_size: int) -> Iterator[int]:
    """The sizes of the batches that split `total` examples: full ones, then the rest."""
    for first in range(0, total, batch_size):
        yield min(batch_size, total - first)


class Meter(Protocol):
    """Accumulates a task's metrics over evaluation batches."""

    def update(self, output: CTMOutput, batch: Batch) -> None: ...

    def result(self) -> dict[str, Any]: ...


@dataclass
class Batch:
    inputs: torch.Tensor
    targets: torch.Tensor

    def to(self, device: torch.device | str) -> Batch:
        return dataclasses.replace(self, inputs=self.inputs.to(device),
                                   targets=self.targets.to(device))

    def shard(self, rank: int, world: int) -> Batch:
        """Part `rank` of `world` equal parts: every field that holds one entry per example
        (a tensor or list as long as the batch) is cut; the rest (counts the whole batch
        shares) is kept."""
        if world == 1:
            return self
        size = len(self.inputs)
        if size % world:
            raise ValueError(f"a batch of {size} does not split into {world} equal parts")
        part = slice(rank * size // world, (rank + 1) * size // world)
        cut = {f.name: getattr(self, f.name)[part] for f in dataclasses.fields(self)
               if isinstance(getattr(self, f.name), torch.Tensor | list)
               and len(getattr(self, f.name)) == size}
        return dataclasses.replace(self, **cut)


class Task(ABC):
    name: ClassVar[str]
    description: ClassVar[str]
    Options: ClassVar[type]  # a dataclass of the task's own settings
    headline_metrics: ClassVar[tuple[str, ...]]  # scalar metrics worth plotting against ticks
    # the answer is read at one tick chosen by certainty, so the budget of ticks can be swept
    # and thinking can stop early; False where the answer unfolds over ticks (sorting) or the
    # ticks follow an input schedule (Q&A)
    adaptive_ticks: ClassVar[bool] = True
    # batches are made by the model itself (reinforcement learning's rollouts): the trainer
    # asks `step_batches` for each step's batches instead of `train_batch`
    needs_model_for_batches: ClassVar[bool] = False
    # a line for `ctm train TASK --help` where defaults depend on the options given
    defaults_note: ClassVar[str] = ""

    def batch_shapes_vary(self) -> bool:
        """Whether training batches differ in shape from step to step (Q&A's episodes grow
        with the counts drawn): compiling for one shape would compile again for each."""
        return False

    def __init__(self, options: Any) -> None:
        self.options = options
        # the seed of the run whose model this task trains or scores (`build_task` sets it):
        # a held-out set evaluated with another seed must still be unseen by that model
        self.training_seed: int | None = None

    @abstractmethod
    def model_defaults(self) -> CTMConfig:
        """A model that learns this task on a CPU in minutes."""

    @abstractmethod
    def model_requirements(self) -> dict[str, Any]:
        """Model fields the task's data fixes (output sizes, input channels)."""

    def train_defaults(self) -> dict[str, Any]:
        """Training settings this task needs other than TrainConfig's defaults (a learning
        rate); flags and config files override them."""
        return {}

    @classmethod
    def option_defaults(cls, given: dict[str, Any]) -> dict[str, Any]:
        """Defaults for options that depend on other options the user gave (an environment's
        own recipe); given options override them. None by default."""
        return {}

    @classmethod
    def inapplicable_options(cls, options: Any) -> dict[str, str]:
        """Options that do nothing with these `options` (field -> why), so that a flag that
        sets one is refused rather than silently ignored. None by default."""
        return {}

    def check_model(self, config: CTMConfig) -> None:
        """Raise ValueError for a model that cannot do this task (a baseline that thinks once
        where the answer is emitted over ticks). Any model by default."""
        return None

    def check_batch(self, batch_size: int) -> None:
        """Raise ValueError for a training batch size this task cannot use. Any by default."""
        return None

    @classmethod
    def options_for_model(cls, config: CTMConfig) -> dict[str, Any]:
        """Task options implied by a trained model's output sizes (to evaluate a bare saved
        model). None by default."""
        return {}

    @abstractmethod
    def train_batch(self, step: int, batch_size: int, seed: int) -> Batch:
        """The batch for one training step: a pure function of (step, seed), so a resumed run
        sees exactly the data an uninterrupted one would."""

    def step_batches(self, model: torch.nn.Module, step: int, batch_size: int, seed: int,
                     device: torch.device | str, rank: int = 0, world: int = 1
                     ) -> Iterator[Batch]:
        """The batches of one training step, one optimiser update each: for most tasks the one
        `train_batch`; a task that needs the model to make them (a rollout) overrides this.
        In a run of `world` processes, process `rank` gets its part of each (`batch_size` is
        the whole step's), so all of them together see what one process would."""
        yield self.train_batch(step, batch_size, seed).shard(rank, world)

    @abstractmethod
    def eval_batches(self, batch_size: int, seed: int) -> Iterator[Batch]:
        """Held-out data, the same every time for a given seed."""

    @abstractmethod
    def loss(self, output: CTMOutput, batch: Batch, config: CTMConfig) -> TickLoss:
        """The training loss of one forward pass."""

    def exact_answers(self, logits: torch.Tensor, batch: Batch, config: CTMConfig
                      ) -> torch.Tensor:
        """(B, out_dims) logits of one tick -> (B,) bool: is the whole answer right? (Deep
        supervision's halting target.) Every output group's top class against its target,
        targets below 0 (padding) counting as right; a task whose targets are not one class
        per group says what exact means by overriding this."""
        groups = config.out_groups_shape
        targets = batch.targets
        if len(groups) != 2 or targets.shape != (len(logits), groups[0]):
            raise ValueError(f"the {self.name} task's targets {tuple(targets.shape)} are not "
                             f"one class per output group {groups}: deep supervision cannot "
                             f"tell an exact answer here")
        guess = logits.reshape(len(logits), groups[0], groups[1]).argmax(-1)
        return ((guess == targets) | (targets < 0)).all(-1)

    def forward(self, model: torch.nn.Module, batch: Batch) -> CTMOutput:
        """One forward pass of `model` on `batch`, in training and evaluation alike."""
        return model(batch.inputs)

    def ticks_for(self, inputs: torch.Tensor, config: CTMConfig) -> int:
        """How many ticks the model thinks about `inputs` in `forward` (for export)."""
        return config.ticks

    def example_inputs(self, count: int, seed: int) -> torch.Tensor:
        """`count` held-out model inputs, to trace an exported model with and to check it
        against."""
        return next(iter(self.eval_batches(count, seed))).inputs[:count]

    def viewer_examples(self, config: CTMConfig, count: int, seed: int) -> dict[str, Any] | None:
        """What the browser thought viewer (`ctm viz --html`) shows and edits for this task:
        `kind` (how the page draws and edits an input: "bits", "image"), `examples` (held-out
        inputs as nested lists, with `label` and `title`), `tokens` (rows, cols: how attention
        over the input's tokens lays out), `groups` (the output's groups of classes) and
        `class_names`. None: the task has no live viewer yet."""
        return None

    def episode_viewer(self, model: torch.nn.Module, count: int, seed: int
                       ) -> dict[str, Any] | None:
        """For tasks whose model acts in a world: `count` held-out episodes recorded step by
        step for the episode page (`ctm viz --html`), as `analysis.viewer.episode.js` reads
        them; None: the task has none (its model is shown by the thought viewer, if any)."""
        return None

    def viewer_solved(self, model: torch.nn.Module, examples: list[dict[str, Any]]
                      ) -> list[bool] | None:
        """Which of `viewer_examples`' examples the model answers right (the page opens on one
        it does); None: the page keeps their order."""
        return None

    @abstractmethod
    def meter(self, config: CTMConfig) -> Meter:
        """A fresh accumulator of this task's metrics for a model of `config`."""

    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module, batches: Iterator[Batch],
                 device: torch.device | str) -> dict[str, Any]:
        """Metrics over held-out batches: scalars, and per-tick lists."""
        meter = self.meter(model.config)
        for batch in batches:
            meter.update(self.forward(model, batch.to(device)), batch)
        return meter.result()

    @torch.no_grad()
    def calibration_logits(self, model: torch.nn.Module, batches: Iterator[Batch],
                           device: torch.device | str
                           ) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The logits (N, C) the task's answers are read from, at each sample's most-certain
        tick, and their targets (N,), for reliability diagrams and temperature scaling; None
        where answers are not single classes."""
        from ..analysis.calibration import logits_at_certain_tick

        return logits_at_certain_tick(model, batches, device)

    def final_evaluation(self, model: torch.nn.Module, batch_size: int, seed: int,
                         device: torch.device | str) -> dict[str, Any]:
        """Costlier checks that `ctm eval` adds to `evaluate` (e.g. generalisation to larger
        inputs). None by default."""
        return {}

    def visualise(self, model: torch.nn.Module, out_dir: Path, count: int, seed: int
                  ) -> list[Path]:
        """Task-specific pictures of the model thinking about `count` held-out examples,
        written into `out_dir`. None by default."""
        return []

    def training_record(self, model: torch.nn.Module, seed: int, device: torch.device | str
                        ) -> dict[str, Any] | None:
        """What the trainer keeps at each evaluation beside the metrics (JSON-ready), for
        `visualise_training`; None: nothing."""
        return None

    def visualise_training(self, records: list[dict[str, Any]], metrics: list[dict[str, Any]],
                           out_dir: Path, seed: int) -> list[Path] | None:
        """Pictures of how the model's thinking changed along training, from the records
        `training_record` kept (each with its `step`) and the run's evaluation rows; None: the
        task draws none."""
        return None

    @abstractmethod
    def summary(self, metrics: dict[str, Any]) -> str:
        """A short human-readable table of `evaluate`'s metrics."""
