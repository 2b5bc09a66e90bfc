"""Adaptive computation at inference: every sample thinks only until it is sure.

`think` runs a batch tick by tick and lets each sample stop once a halting rule says so (by
default: its certainty reaches `halt_at`). Stopped samples leave the batch, so later ticks cost
less. A sample's answer is exactly what the full run gives at the tick where it stopped.

A model with several outputs (one per position or cell) has a certainty per output; the
halting certainty is their mean (`certainty="mean"`, the certainty training and the read-out
use) or the least of them (`certainty="least"`: wait until every output is sure).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from .model import CTM, CTMOutput
from .model.ctm import certainty as mean_certainty
from .model.ctm import least_certainty

CERTAINTIES = {"mean": mean_certainty, "least": least_certainty}

# (certainties so far (B_active, t), t) -> (B_active,) bool: which samples stop now
HaltRule = Callable[[torch.Tensor, int], torch.Tensor]


def certainty_at_least(threshold: float) -> HaltRule:
    """Stop once the current tick's certainty is >= threshold."""
    return lambda history, t: history[:, -1] >= threshold


def certainty_stable(ticks: int, tolerance: float = 0.01) -> HaltRule:
    """Stop once certainty has varied by at most `tolerance` over the last `ticks` ticks."""
    if ticks < 2:
        raise ValueError(f"certainty_stable needs ticks >= 2, got {ticks}")

    def rule(history: torch.Tensor, t: int) -> torch.Tensor:
        if history.shape[1] < ticks:
            return torch.zeros(history.shape[0], dtype=torch.bool, device=history.device)
        window = history[:, -ticks:]
        return (window.amax(1) - window.amin(1)) <= tolerance

    return rule


@dataclass
class ThinkResult:
    logits: torch.Tensor  # (B, out_dims) at each sample's stopping tick
    certainty: torch.Tensor  # (B,) certainty at that tick
    ticks: torch.Tensor  # (B,) the tick each sample stopped at, 1-based

    def mean_ticks(self) -> float:
        return self.ticks.float().mean().item()


def _certainty_of(kind: str) -> Callable[[torch.Tensor, tuple[int, ...]], torch.Tensor]:
    if kind not in CERTAINTIES:
        raise ValueError(f"certainty must be one of {', '.join(CERTAINTIES)}, got {kind!r}")
    return CERTAINTIES[kind]


@torch.no_grad()
def think(model: CTM, x: torch.Tensor, halt_at: float | None = None,
          rule: HaltRule | None = None, max_ticks: int | None = None,
          certainty: str = "mean") -> ThinkResult:
    """Run `model` on `x`, halting each sample by certainty threshold `halt_at` or by `rule`,
    and at `max_ticks` (default: the model's configured ticks) at the latest. `certainty`
    ("mean" or "least" over the model's outputs) is what the rule reads and what the result
    reports.

    Call `model.eval()` first: in training mode BatchNorm statistics and dropout depend on the
    batch, and the batch shrinks as samples halt.
    """
    if (halt_at is None) == (rule is None):
        raise ValueError("give exactly one of halt_at (a certainty threshold) or rule")
    stop_rule = rule if rule is not None else certainty_at_least(float(halt_at))
    certainty_of = _certainty_of(certainty)
    limit = model.config.ticks if max_ticks is None else int(max_ticks)
    if limit < 1:
        raise ValueError(f"max_ticks must be >= 1, got {limit}")
    groups = model.config.out_groups_shape
    state = model.begin(x)
    batch = state.z.shape[0]
    device = state.z.device
    logits = torch.empty(batch, model.config.out_dims, device=device)
    final_certainty = torch.empty(batch, device=device)
    ticks = torch.full((batch,), limit, dtype=torch.long, device=device)
    active = torch.arange(batch, device=device)
    history = torch.empty(batch, 0, device=device)
    for t in range(1, limit + 1):
        state, y, _ = model.tick(state)
        c = certainty_of(y.unsqueeze(1), groups).squeeze(1)  # (B_active,)
        history = torch.cat([history, c.unsqueeze(1)], dim=1)
        stop = torch.ones_like(c, dtype=torch.bool) if t == limit else stop_rule(history, t)
        if not stop.any():  # nobody halts: no bookkeeping, no copies of the state
            continue
        done = active[stop]
        logits[done], final_certainty[done], ticks[done] = y[stop], c[stop], t
        keep = ~stop
        if not keep.any():
            break
        state, active, history = state.select(keep), active[keep], history[keep]
    return ThinkResult(logits=logits, certainty=final_certainty, ticks=ticks)


def _never(history: torch.Tensor, tick: int) -> torch.Tensor:
    return torch.zeros(history.shape[0], dtype=torch.bool, device=history.device)


class HaltingModel(nn.Module):
    """Wraps a CTM so that `model(x)` returns one tick per sample, the tick `think` stopped at;
    task metrics "at the most-certain tick" then measure the early-exit answers. With
    halt_at=None every sample runs all ticks and answers at its most-certain tick (the usual
    evaluation). Counts samples, ticks and model seconds across calls."""

    def __init__(self, model: CTM, halt_at: float | None, certainty: str = "mean") -> None:
        super().__init__()
        self.model, self.halt_at, self.config = model, halt_at, model.config
        self.certainty = certainty
        _certainty_of(certainty)
        self.samples = 0
        self.ticks_spent = 0
        self.seconds = 0.0

    def forward(self, x: torch.Tensor) -> CTMOutput:
        start = time.perf_counter()
        if self.halt_at is None:
            # timed through the loop the early-exit rows run, so that a threshold no sample
            # reaches costs what this row does (1.0x); the answers at the most-certain tick
            # come from the usual forward pass, untimed
            think(self.model, x, rule=_never)
            self.seconds += time.perf_counter() - start
            with torch.no_grad():
                out = self.model(x)
            self.samples += x.shape[0]
            self.ticks_spent += x.shape[0] * self.config.ticks
            return out
        result = think(self.model, x, halt_at=self.halt_at, certainty=self.certainty)
        out = CTMOutput(logits=result.logits.unsqueeze(1),
                        certainty=result.certainty.unsqueeze(1),
                        sync_out=result.logits.new_zeros(0))
        ticks = result.ticks
        self.seconds += time.perf_counter() - start
        self.samples += len(ticks)
        self.ticks_spent += int(ticks.sum())
        return out

    def mean_ticks(self) -> float:
        return self.ticks_spent / max(1, self.samples)


def halting_sweep(evaluate: Callable[[nn.Module], dict], model: CTM,
                  thresholds: list[float | None], repeats: int = 3,
                  certainty: str = "mean") -> list[dict]:
    """Task metrics, mean ticks and model seconds at every threshold (None: the full run,
    against which every row's `speedup` is measured when it is among them),
    each from `evaluate(wrapped_model)` over the same held-out data, halting on the `certainty`
    ("mean" or "least") over the model's outputs. The model's time is the median of `repeats`
    passes; the passes interleave thresholds, so a slow spell on the machine falls on all of
    them alike."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    seconds: dict[int, list[float]] = {i: [] for i in range(len(thresholds))}
    rows: list[dict] = []
    evaluate(HaltingModel(model, None))  # untimed: the first pass pays for warm-up (CUDA)
    for _ in range(repeats):
        for i, threshold in enumerate(thresholds):
            wrapped = HaltingModel(model, threshold, certainty)
            metrics = evaluate(wrapped)
            seconds[i].append(wrapped.seconds)
            if len(rows) <= i:
                rows.append({"halt_at": threshold, "halt_certainty": certainty,
                             "mean_ticks": wrapped.mean_ticks(),
                             **{k: v for k, v in metrics.items() if isinstance(v, float)}})
    for i, row in enumerate(rows):
        row["model_seconds"] = statistics.median(seconds[i])
    full = next((row for row in rows if row["halt_at"] is None), None)
    if full is not None:
        for row in rows:
            row["speedup"] = full["model_seconds"] / row["model_seconds"]
    return rows
