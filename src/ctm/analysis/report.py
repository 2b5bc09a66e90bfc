"""`ctm viz`'s pictures of a trained model: held-out metrics against the thinking budget and at
every tick, a reliability diagram, and the task's own pictures of it thinking.

The task object is passed in (this module imports no task): anything with `evaluate`,
`eval_batches`, `headline_metrics`, `adaptive_ticks`, `calibration_logits`, `name` and
`visualise` will do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..files import write_json
from ..progress import reported
from .calibration import confidence_and_correct, reliability_diagram
from .figures import line_plot
from .ticks import FixedTicks


def default_tick_budgets(ticks: int) -> list[int]:
    """10% to 150% of the trained budget."""
    return sorted({max(1, round(ticks * f)) for f in (0.1, 0.25, 0.5, 0.75, 1.0, 1.5)})


def visualise(task: Any, model: torch.nn.Module, out_dir: Path, ticks: list[int], count: int,
              batch_size: int, seed: int, device: torch.device | str = "cpu"
              ) -> tuple[dict[int, dict[str, Any]], list[Path]]:
    """Every picture, written into `out_dir`: returns the metrics at each tick budget and the
    files written."""
    def batches(what: str = "evaluating on the held-out set") -> Any:
        return reported(task.eval_batches(batch_size, seed), what)

    trained_ticks = model.config.ticks
    names = task.headline_metrics
    written: list[Path] = []
    sweep: dict[int, dict[str, Any]] = {}
    if task.adaptive_ticks:  # else the task's ticks are its answer's own, not a budget
        sweep = {k: task.evaluate(FixedTicks(model, k), batches(f"evaluating with {k} ticks"),
                                  device) for k in ticks}
        write_json(out_dir / "ticks_sweep.json",
                   {str(k): {m: v[m] for m in names} for k, v in sweep.items()})
        written += [out_dir / "ticks_sweep.json", line_plot(
            ticks, {m: [sweep[k][m] for k in ticks] for m in names},
            "ticks of thinking allowed", "held-out metric",
            f"{task.name}: trained with {trained_ticks} ticks", out_dir / "ticks_sweep.png")]
    trained = sweep.get(trained_ticks) or task.evaluate(model, batches(), device)
    per_tick = {m: trained[f"{m}_per_tick"] for m in names if f"{m}_per_tick" in trained}
    if per_tick:
        written.append(line_plot(
            list(range(1, len(next(iter(per_tick.values()))) + 1)), per_tick,
            "tick", "held-out metric at that tick",
            f"{task.name}: every tick of a {trained_ticks}-tick run",
            out_dir / "metrics_per_tick.png"))
    answers = task.calibration_logits(model, batches("reading answers for the reliability "
                                                     "diagram"), device)
    if answers is not None:
        written.append(reliability_diagram(*confidence_and_correct(*answers),
                                           out_dir / "reliability.png",
                                           f"{task.name}: at the most-certain tick"))
    written += task.visualise(model.cpu(), out_dir, count, seed)  # tasks draw from CPU tensors
    return sweep, written
