"""What `torch.compile` covers in training (`TrainConfig.compile`), and the compiled step.

- `off`: eager.
- `tick`: each tick compiled on its own (`CTM.compile_ticks`); the Python loop over ticks and
  the loss stay eager.
- `thought`: the forward pass over every tick, the certainty and the task's loss compiled as
  one graph, and autograd's backward of it as another, so the compiler fuses across ticks and
  the per-tick Python and dispatch overhead leaves the step. The first step pays the compile
  (minutes on a CPU); inductor's cache (`TORCHINDUCTOR_CACHE_DIR`, which ctm points at
  `~/.cache/ctm/inductor` unless it is set) makes a second run of the same configuration start
  in well under a minute. A compile that fails falls back to eager with one warning line.
- `auto`: `thought` where it is tested equal to eager and a run is long enough for the compile
  to pay (a CTM on a CPU, one process, at least `AUTO_THOUGHT_MIN_STEPS` steps); `off`
  otherwise. The choice depends on the config and device alone, so a resumed run makes the
  same one.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch

from ..compilation import use_persistent_cache
from ..losses import TickLoss
from ..model import CTMConfig
from ..tasks import Task

# below this many steps a CPU run is over in minutes, and a cold compile of minutes would
# cost more than it saves
AUTO_THOUGHT_MIN_STEPS = 10_000


def resolve_compile(scope: str, architecture: str, device: torch.device, steps: int,
                    processes: int = 1, deep_supervision: bool = False,
                    shapes_vary: bool = False) -> tuple[str, str]:
    """(scope to use, why) for a model of `architecture` ("ctm" or a baseline's name):
    `auto` made concrete; any other scope as it was asked. `shapes_vary`: the task's
    training batches change shape from step to step."""
    if scope != "auto":
        return scope, f"--compile {scope}"
    if architecture != "ctm":
        return "off", "auto: only the CTM is compiled; other architectures train eager"
    if device.type != "cpu":
        return "off", (f"auto: compiled training is not yet verified equal on {device.type}; "
                       f"--compile thought to try it")
    if processes > 1:
        return "off", "auto: several processes train eager"
    if deep_supervision:
        return "off", "auto: deep supervision trains eager"
    if shapes_vary:
        return "off", ("auto: the task's batches change shape from step to step, and each "
                       "shape would compile again; training eager")
    if steps < AUTO_THOUGHT_MIN_STEPS:
        return "off", (f"auto: {steps} steps are too few to repay compiling "
                       f"(from {AUTO_THOUGHT_MIN_STEPS:,} steps the whole thought is compiled)")
    return "thought", f"auto: {steps} steps on the CPU"


def forward_and_loss(task: Task, config: CTMConfig, model: torch.nn.Module, batch: Any
                     ) -> TickLoss:
    """One training forward pass and its loss, as the eager step computes them."""
    return task.loss(task.forward(model, batch), batch, config)


class ThoughtStep:
    """forward + certainty + loss of a batch as one compiled graph; eager if compiling fails.

    Called as `step(model, batch) -> TickLoss`, with the loss's backward left to the caller.
    """

    def __init__(self, task: Task, config: CTMConfig, mode: str = "default",
                 warn: Callable[[str], None] | None = None) -> None:
        self.task, self.config = task, config
        use_persistent_cache()
        # dynamic=False: every training batch has one shape, and a shape-generic graph is
        # slower; a batch of another shape compiles once more
        self._compiled = torch.compile(self._eager, mode=mode, dynamic=False)
        self._warn = warn or (lambda line: warnings.warn(line, stacklevel=2))
        self.failed: str | None = None  # why compiling failed, once it has
        self.calls = 0

    def _eager(self, model: torch.nn.Module, batch: Any) -> TickLoss:
        return forward_and_loss(self.task, self.config, model, batch)

    def __call__(self, model: torch.nn.Module, batch: Any) -> TickLoss:
        self.calls += 1
        if self.failed is not None:
            return self._eager(model, batch)
        try:
            return self._compiled(model, batch)
        except Exception as error:  # noqa: BLE001 - any compiler fault: train eager instead
            # a mistake in the batch or model fails eagerly too, and that error is the one
            # the user sees; only a fault of the compiler itself is absorbed here
            result = self._eager(model, batch)
            self.failed = " ".join(f"{type(error).__name__}: {error}".split())[:200]
            self._warn(f"compiling the thought failed ({self.failed}); training eager")
            return result
