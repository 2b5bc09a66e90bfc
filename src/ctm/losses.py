"""Training objective (DESIGN.md section 3): per-tick losses, the two-tick rule, curricula.

Shapes: B batch, T ticks, G output groups (route steps, parity positions; 1 for plain
classification), C classes per group.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F


@dataclass
class TickLoss:
    loss: torch.Tensor  # scalar to minimise
    per_tick: torch.Tensor | None  # (B, T) per-sample loss at every tick (None: over all ticks)
    lowest_loss_tick: torch.Tensor | None  # (B,) t1 = argmin_t L_t
    most_certain_tick: torch.Tensor | None  # (B,) t2 = argmax_t c_t
    extras: dict[str, float] = field(default_factory=dict)  # more numbers worth logging


def grouped_logits(logits: torch.Tensor, groups_shape: tuple[int, ...]) -> torch.Tensor:
    """(B, T, out_dims) -> (B, T, G, C)."""
    b, t, _ = logits.shape
    return logits.reshape(b, t, -1, groups_shape[-1])


def per_tick_cross_entropy(logits: torch.Tensor, targets: torch.Tensor,
                           mask: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy per sample and tick, averaged over groups.

    logits (B, T, G, C); targets (B, G) class indices; mask (B, G) weights, e.g. the maze
    curriculum (each sample's mask must have a non-zero entry). Returns (B, T).
    """
    b, t, g, c = logits.shape
    if targets.shape != (b, g):
        raise ValueError(f"targets of shape {tuple(targets.shape)} do not match logits "
                         f"(B={b}, groups={g})")
    expanded = targets.long().unsqueeze(1).expand(b, t, g)
    losses = F.cross_entropy(logits.reshape(-1, c), expanded.reshape(-1), reduction="none")
    losses = losses.reshape(b, t, g)
    if mask is None:
        return losses.mean(-1)
    weights = mask.to(losses.dtype).unsqueeze(1)  # (B, 1, G)
    return (losses * weights).sum(-1) / weights.sum(-1)


def two_tick_loss(per_tick: torch.Tensor, certainty: torch.Tensor) -> TickLoss:
    """loss = ½ (mean_b L[b, t1] + mean_b L[b, t2]), t1 lowest loss, t2 most certain."""
    t1 = per_tick.argmin(dim=1)
    t2 = certainty.argmax(dim=1)
    rows = torch.arange(per_tick.shape[0], device=per_tick.device)
    loss = (per_tick[rows, t1].mean() + per_tick[rows, t2].mean()) / 2
    return TickLoss(loss=loss, per_tick=per_tick, lowest_loss_tick=t1, most_certain_tick=t2)


def curriculum_mask(logits: torch.Tensor, targets: torch.Tensor, lookahead: int = 5
                    ) -> torch.Tensor:
    """Maze auto-curriculum: which route steps count towards the loss.

    logits (B, T, R, C), targets (B, R). For every tick, find the longest correct prefix of the
    predicted route, k steps; take the last step of the longest one over ticks,
    last = max_t(k) - 1 (0 when no tick gets the first step right), and count steps
    r < last + lookahead, as the original does. Returns a (B, R) float mask.
    """
    correct = logits.argmax(-1) == targets.unsqueeze(1)  # (B, T, R)
    prefix = correct.long().cumprod(dim=-1).sum(-1)  # (B, T) correct steps before first error
    last = prefix.amax(dim=1).clamp(min=1) - 1  # (B,)
    steps = torch.arange(targets.shape[1], device=targets.device)
    return (steps.unsqueeze(0) < (last + lookahead).unsqueeze(1)).float()


def ctc_over_ticks(logits: torch.Tensor, targets: torch.Tensor, certainty: torch.Tensor,
                   blank: int) -> TickLoss:
    """Connectionist temporal classification with the ticks as the time axis: the model emits
    `targets` (B, N) in order, any number of ticks apart, with the `blank` class in between
    (and repeats of one class merged). logits (B, T, C), T >= N. The loss is each sample's
    negative log-likelihood of its target sequence, divided by N, averaged over the batch."""
    b, t, _ = logits.shape
    n = targets.shape[1]
    if t < n:
        raise ValueError(f"CTC emits {n} labels over {t} ticks: needs ticks >= {n}")
    log_probs = F.log_softmax(logits.float(), dim=-1).transpose(0, 1)  # (T, B, C)
    per_sample = F.ctc_loss(log_probs, targets.long(), torch.full((b,), t, dtype=torch.long),
                            torch.full((b,), n, dtype=torch.long), blank=blank,
                            reduction="none", zero_infinity=False) / n  # (B,)
    return TickLoss(loss=per_sample.mean(), per_tick=None, lowest_loss_tick=None,
                    most_certain_tick=certainty.argmax(dim=1))
