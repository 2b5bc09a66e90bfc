"""Deep supervision: a model trained as the Tiny Recursive Model is trained.

Every example stays in the training batch for up to `supervision_steps` optimiser steps. Each
step gives it one more supervised step of the model (`model.supervise`: the recursive
baseline's tick of `cycles` recursions, gradients through the last only; or `cycles` of a
CTM's ticks, gradients through them all), takes the task's loss of that step's answer plus a
halting loss (binary cross-entropy of the halting logit against "the last tick's answer is
exact", weighted HALT_WEIGHT), and carries the model's state, detached, to the next step.
An example leaves when it has had all its steps or when its halting head says it is done; a
share EXPLORE of the arrivals must first stay a random number of steps, so the head also
learns from later steps (TRM's exploration). A fresh example from the training stream takes a
leaver's row, so an optimiser step still costs one batch of one supervised step.

The carry is part of the training state: `state()` goes into every checkpoint and `load()`
restores it, so a resumed run continues the same examples at the same steps.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from ..losses import TickLoss
from ..model import CTMConfig
from ..model.state import CarriedBatch
from ..tasks.base import Batch, Task, train_seed

HALT_WEIGHT = 0.5  # TRM's weight on its halting loss
EXPLORE = 0.1  # share of arriving examples held for a random least number of steps
EXPLORE_STREAM = 7_919  # offsets the exploration draws from the step's data seed


@dataclass
class Carry:
    """The examples in training and how far each has got."""

    batch: Batch
    state: CarriedBatch  # the model's, detached
    steps: torch.Tensor  # (B,) supervision steps taken
    least: torch.Tensor  # (B,) steps before the halting head may let it go
    left: torch.Tensor  # (B,) bool: done after the last step; a fresh example comes next


class DeepSupervision:
    """Called as `step(model, batch, step) -> TickLoss` with a fresh batch from the training
    stream; rows whose examples left are refilled from it, the others keep theirs."""

    def __init__(self, task: Task, config: CTMConfig, seed: int) -> None:
        if not config.deep_supervision:
            raise ValueError("deep supervision trains models built with deep_supervision")
        self.task, self.config, self.seed = task, config, seed
        self.carry: Carry | None = None
        self._saved: dict[str, Any] | None = None  # a checkpoint's carry, until a batch comes

    def __call__(self, model: torch.nn.Module, fresh: Batch, step: int) -> TickLoss:
        batch, steps, least, restart = self._admit(model, fresh, step)
        carried = self.carry.state if self.carry is not None else None
        out = model.supervise(batch.inputs, carried, restart=restart)
        task_loss = self.task.loss(out.output, batch, self.config)
        exact = self.task.exact_answers(out.output.logits[:, -1].detach(), batch, self.config)
        halt_loss = F.binary_cross_entropy_with_logits(out.halt.float(), exact.float())
        steps = steps + 1
        halting = out.halt.detach() > 0
        left = (steps >= self.config.supervision_steps) | (halting & (steps >= least))
        self.carry = Carry(batch, out.carry, steps, least, left)
        extras = {**task_loss.extras, "halt_loss": halt_loss.item(),
                  "exact": exact.float().mean().item(),
                  "halt_right": (halting == exact).float().mean().item(),
                  "left": left.float().mean().item()}
        if bool(left.any()):
            ticks_a_step = self.config.ticks // self.config.supervision_steps
            extras["ticks_at_leaving"] = steps[left].float().mean().item() * ticks_a_step
        return TickLoss(loss=task_loss.loss + HALT_WEIGHT * halt_loss, per_tick=None,
                        lowest_loss_tick=None, most_certain_tick=None, extras=extras)

    def _admit(self, model: torch.nn.Module, fresh: Batch, step: int
               ) -> tuple[Batch, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(batch, steps taken, least steps, restart) after every leaver's row went to the
        fresh example of that row; `restart` marks the rows that start from the beginning."""
        if self._saved is not None:
            self.carry = self._restored(self._saved, fresh, model.carry_type)
            self._saved = None
        size, device = len(fresh.inputs), fresh.inputs.device
        generator = torch.Generator().manual_seed(train_seed(self.seed, step) + EXPLORE_STREAM)
        explore = torch.rand(size, generator=generator) < EXPLORE
        most = self.config.supervision_steps
        # one step or none to explore: the least is 2..most steps, so a model of one step
        # explores nothing
        least = (torch.where(explore, torch.randint(2, most + 1, (size,), generator=generator),
                             0) if most >= 2 else torch.zeros(size, dtype=torch.long)).to(device)
        if self.carry is None:
            return fresh, torch.zeros_like(least), least, torch.ones_like(least, dtype=torch.bool)
        old = self.carry
        if len(old.batch.inputs) != size:
            raise ValueError(f"deep supervision carries {len(old.batch.inputs)} examples; a "
                             f"batch of {size} cannot refill them")
        restart = old.left
        return (merge_rows(old.batch, fresh, restart), torch.where(restart, 0, old.steps),
                torch.where(restart, least, old.least), restart)

    def state(self) -> dict[str, Any] | None:
        """The carry as plain tensors and lists, for a checkpoint (None before the first
        step)."""
        if self.carry is None:
            return self._saved
        c = self.carry
        fields = {f.name: getattr(c.batch, f.name) for f in dataclasses.fields(c.batch)}
        return {"batch": fields, "state": c.state.tensors(), "steps": c.steps,
                "least": c.least, "left": c.left}

    def load(self, state: dict[str, Any] | None) -> None:
        """Continue from a checkpoint's `state()`; restored when the next batch shows the
        batch's type."""
        self.carry, self._saved = None, state

    @staticmethod
    def _restored(saved: dict[str, Any], fresh: Batch, carry_type: type[CarriedBatch]
                  ) -> Carry:
        device = fresh.inputs.device
        names = {f.name for f in dataclasses.fields(fresh)}
        if set(saved["batch"]) != names:
            raise ValueError(f"the checkpoint's deep-supervision carry holds "
                             f"{sorted(saved['batch'])}, this task's batches "
                             f"{sorted(names)}")
        batch = dataclasses.replace(fresh, **{
            name: value.to(device) if isinstance(value, torch.Tensor) else value
            for name, value in saved["batch"].items()})
        # checkpoints written before the CTM could be deep-supervised held the recursive
        # model's two tensors by name
        tensors = saved.get("state") or {"answer": saved["answer"], "latent": saved["latent"]}
        model_fields = {f.name for f in dataclasses.fields(carry_type)}
        if set(tensors) != model_fields:
            raise ValueError(f"the checkpoint's deep-supervision carry holds the model state "
                             f"{sorted(tensors)}, this model's is {sorted(model_fields)}")
        state = carry_type(**tensors).to(device)
        return Carry(batch, state, *(saved[k].to(device) for k in ("steps", "least", "left")))


def merge_rows(old: Batch, fresh: Batch, take: torch.Tensor) -> Batch:
    """`old` with the rows where `take` is true from `fresh`: every field that holds one entry
    per example (a tensor or list as long as the batch); shared fields come from `fresh`."""
    size = len(take)
    chosen = take.tolist()
    merged = {}
    for field in dataclasses.fields(fresh):
        new, was = getattr(fresh, field.name), getattr(old, field.name)
        if isinstance(new, torch.Tensor) and new.dim() and len(new) == size:
            merged[field.name] = torch.where(take.view(-1, *[1] * (new.dim() - 1)), new, was)
        elif isinstance(new, list) and len(new) == size:
            merged[field.name] = [n if t else w for n, t, w in zip(new, chosen, was, strict=True)]
    return dataclasses.replace(fresh, **merged)
