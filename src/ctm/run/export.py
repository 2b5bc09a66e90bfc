"""A trained model outside PyTorch's eager mode: ONNX, a `torch.export` program, or a
Hugging Face style folder with a model card.

Two shapes of exported model:

- **whole thought** (the default): input -> per-tick logits (B, T, out) and certainties (B, T),
  optionally each tick's attention (B, T, heads, tokens), for T ticks fixed at export.
- **stepping** (`per_tick=True`, and always for models that carry a state between calls, as
  an RL agent does): input and carried state -> the logits and certainties of the next T ticks
  (default 1) and the state after them, plus a second graph, `start.onnx`, that gives the
  learned start state for a batch. A runtime can then stop thinking when it is sure, or carry
  the thinking across an agent's steps. The input is encoded again at each call: stepping trades
  speed for control.

Every size is fixed at export, the batch's included: the exported model takes inputs of the
shape of the task's held-out examples, `examples` at a time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..model.pretrained import ModelCard, save_pretrained
from ..tasks import Task
from .config import RunConfig, build_task
from .lookup import load_run

FORMATS = ("onnx", "torch-export", "pretrained")


class WholeThought(nn.Module):
    """x -> (logits, certainty[, value][, attention][, post_activations, sync_out]) over
    `ticks` ticks; `trace` adds the last two (what the thought viewer draws)."""

    def __init__(self, model: nn.Module, ticks: int, attention: bool, trace: bool = False
                 ) -> None:
        super().__init__()
        self.model, self.ticks, self.attention, self.trace = model, ticks, attention, trace

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.model(x, ticks=self.ticks, trace=self.attention or self.trace)
        outputs = (out.logits, out.certainty)
        if out.value is not None:
            outputs += (out.value,)
        if self.attention:
            outputs += (out.attention,)
        if self.trace:
            outputs += (out.post_activations, out.sync_out_trace)
        return outputs


class Start(nn.Module):
    """x -> the learned start state for x's batch (the input is read only for its size)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        state = self.model.initial_state(x.shape[0])
        return tuple(getattr(state, f.name).contiguous() for f in dataclasses.fields(state))


class Step(nn.Module):
    """(x, *state) -> (logits, certainty[, value], *next state) over `ticks` ticks."""

    def __init__(self, model: nn.Module, ticks: int, state_type: type) -> None:
        super().__init__()
        self.model, self.ticks, self.state_type = model, ticks, state_type
        self.names = [f.name for f in dataclasses.fields(state_type)]

    def forward(self, x: torch.Tensor, *state: torch.Tensor) -> tuple[torch.Tensor, ...]:
        carried = self.state_type(**dict(zip(self.names, state, strict=True)))
        out = self.model(x, ticks=self.ticks, state=carried)
        outputs = (out.logits, out.certainty)
        if out.value is not None:
            outputs += (out.value,)
        return outputs + tuple(getattr(out.state, n).contiguous() for n in self.names)


@dataclass
class Exported:
    """What `export` wrote, and how far the exported model is from PyTorch on the examples."""

    files: list[Path]
    max_difference: float | None  # largest |exported - PyTorch| over every output; None: unchecked
    # the same, each output's divided by its largest magnitude (at least 1): float32 rounding
    # grows with the values, so large logits differ more in absolute terms
    max_relative: float | None
    outputs: list[str]
    ticks: int


def output_names(model: nn.Module, attention: bool, trace: bool = False) -> list[str]:
    names = ["logits", "certainty"]
    if model.config.value_head:  # every architecture reads a value when its config asks
        names.append("value")
    if attention:
        names.append("attention")
    if trace:
        names += ["post_activations", "sync_out"]
    return names


def attends(model: nn.Module) -> bool:
    return bool(getattr(getattr(model, "inputs", None), "uses_query", False))


def state_names(model: nn.Module) -> list[str]:
    return [f.name for f in dataclasses.fields(type(model.initial_state(1)))]


def export_run(source: str | Path, out_dir: str | os.PathLike, fmt: str = "onnx",
               ticks: int | None = None, per_tick: bool = False, attention: bool = False,
               examples: int = 1, check: bool = True) -> Exported:
    """Export the trained model of `source` (a run or `bundled:NAME`) into `out_dir` as
    `fmt`, for batches of `examples`; ONNX is checked against PyTorch in onnxruntime on that
    many held-out inputs."""
    if fmt not in FORMATS:
        raise ValueError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    run, model = load_run(source)
    task = build_task(run)
    if fmt == "pretrained":
        path = save_pretrained(model.float(), out_dir, card_for(source, run))
        return Exported([path / n for n in ("config.json", "model.safetensors", "README.md")],
                        None, None, [], model.config.ticks)
    return export_model(model, task, out_dir, fmt, ticks, per_tick, attention,
                        task.example_inputs(examples, run.train.seed), check)


def export_model(model: nn.Module, task: Task, out_dir: str | os.PathLike, fmt: str = "onnx",
                 ticks: int | None = None, per_tick: bool = False, attention: bool = False,
                 x: torch.Tensor | None = None, check: bool = True, trace: bool = False
                 ) -> Exported:
    """Export `model`, which does `task`, as ONNX or a torch.export program, traced with
    inputs `x` (default: one held-out example) and checked against PyTorch on them."""
    model = model.float().eval()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    x = task.example_inputs(1, 0) if x is None else x
    stepping = per_tick or task.needs_model_for_batches  # an agent carries its state
    if ticks is not None and ticks < 1:
        raise ValueError(f"--ticks must be >= 1, got {ticks}")
    if stepping:
        if not task.adaptive_ticks and not task.needs_model_for_batches:
            raise ValueError(f"the {task.name} task's ticks follow its input schedule or emit "
                             f"its answer over them: export the whole thought (drop "
                             f"--per-tick)")
        if attention:
            raise ValueError("--attention goes with whole-thought exports (drop --per-tick)")
        if not hasattr(model, "initial_state"):
            raise ValueError(f"a {model.config.architecture} model carries no state between "
                             f"calls: export the whole thought (drop --per-tick)")
        return _export_stepping(model, x, out_dir, fmt, ticks or (
            model.config.ticks if task.needs_model_for_batches else 1), check)
    n_ticks = ticks or task.ticks_for(x, model.config)
    if attention and not attends(model):
        raise ValueError(f"a {model.config.input_mode} {model.config.architecture} model does "
                         f"not attend: drop --attention")
    if trace and not getattr(model, "traces", False):
        raise ValueError(f"--trace exports a CTM's neuron traces and synchronisation; "
                         f"this is a {model.config.architecture} model")
    wrapper = WholeThought(model, n_ticks, attention, trace).eval()
    names = output_names(model, attention, trace)
    target = out_dir / ("model.onnx" if fmt == "onnx" else "model.pt2")
    _write(wrapper, (x,), target, fmt, ["x"], names)
    differences = _check(target, wrapper, (x,), ["x"]) if check else None
    return Exported([target], *(differences or (None, None)), names, n_ticks)


def _export_stepping(model: nn.Module, x: torch.Tensor, out_dir: Path, fmt: str, ticks: int,
                     check: bool) -> Exported:
    start, names = Start(model).eval(), state_names(model)
    with torch.no_grad():
        state = start(x)
    step = Step(model, ticks, type(model.initial_state(1))).eval()
    suffix = ".onnx" if fmt == "onnx" else ".pt2"
    start_file, step_file = out_dir / f"start{suffix}", out_dir / f"step{suffix}"
    outputs = output_names(model, False)
    _write(start, (x,), start_file, fmt, ["x"], names)
    _write(step, (x, *state), step_file, fmt, ["x", *names], outputs + [f"next_{n}"
                                                                         for n in names])
    differences = (None, None)
    if check:
        # two steps in a row, the second from the first's state: the carried state round-trips
        with torch.no_grad():
            after = step(x, *state)[len(outputs):]
        checks = [_check(start_file, start, (x,), ["x"]),
                  _check(step_file, step, (x, *state), ["x", *names]),
                  _check(step_file, step, (x, *after), ["x", *names])]
        differences = (max(c[0] for c in checks), max(c[1] for c in checks))
    return Exported([start_file, step_file], *differences, outputs + names, ticks)


def _write(module: nn.Module, args: tuple[torch.Tensor, ...], target: Path, fmt: str,
           inputs: list[str], outputs: list[str]) -> None:
    try:
        program = torch.export.export(module, args)
    except Exception as error:  # torch's tracing errors run to pages; the first line says it
        first = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
        raise ValueError(f"torch.export could not trace this model ({first})") from None
    if fmt == "torch-export":
        torch.export.save(program, target)
        return
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        raise ValueError("ONNX export needs the onnx and onnxscript packages (and onnxruntime "
                         "to check the result): pip install 'ctm[export]'") from None
    with _quiet():
        onnx = torch.onnx.export(program, args, dynamo=True, input_names=inputs,
                                 output_names=outputs, verbose=False)
        onnx.save(str(target))


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The exporter's notes (torchvision missing, initializers kept) are not the user's
    business; its errors still raise."""
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "onnxscript", "onnx_ir")]
    levels = [lg.level for lg in loggers]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels, strict=True):
                lg.setLevel(level)


def _check(target: Path, module: nn.Module, args: tuple[torch.Tensor, ...],
           names: list[str]) -> tuple[float, float]:
    """The largest absolute difference between the exported model's outputs (in onnxruntime,
    or the torch.export program reloaded) and PyTorch's, and the largest relative to each
    output's scale."""
    if target.suffix == ".pt2":
        with torch.no_grad():
            got = [o.numpy() for o in torch.export.load(target).module()(*args)]
    else:
        try:
            import onnxruntime
        except ImportError:
            raise ValueError("checking an ONNX export needs onnxruntime: pip install "
                             "'ctm[export]'") from None
        session = onnxruntime.InferenceSession(str(target), providers=["CPUExecutionProvider"])
        feeds = {n: a.detach().numpy() for n, a in zip(names, args, strict=True)
                 if n in {i.name for i in session.get_inputs()}}
        got = session.run(None, feeds)
    with torch.no_grad():
        expected = module(*args)
    absolute, relative = 0.0, 0.0
    for g, e in zip(got, expected, strict=True):
        if not g.size:
            continue
        # as float64: a carried memory's present flags are bool, its write count an integer
        reference = e.detach().numpy().astype(np.float64)
        difference = float(abs(np.asarray(g, dtype=np.float64) - reference).max())
        absolute = max(absolute, difference)
        relative = max(relative, difference / max(1.0, float(abs(reference).max())))
    return absolute, relative


def card_for(source: str | Path, run: RunConfig) -> ModelCard:
    """A model card from the run's own record: its last evaluation's scalar metrics (what
    `ctm eval` prints for it) and the commands."""
    from .layout import METRICS, is_run_dir
    from .lookup import resolve

    path = resolve(source)
    metrics: dict[str, float] = {}
    if is_run_dir(path) and (path / METRICS).is_file():
        for line in (path / METRICS).read_text().splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if row.get("split") == "eval":
                metrics = {k: float(v) for k, v in row.items()
                           if isinstance(v, int | float) and k not in ("step",)}
    task: Task = build_task(run)
    headline = {k: metrics[k] for k in task.headline_metrics if k in metrics}
    rest = {k: v for k, v in metrics.items() if k not in headline}
    return ModelCard(task=run.task, options=dataclasses.asdict(run.options),
                     metrics={**headline, **rest},
                     metrics_command=f"ctm eval {source} --json" if metrics else "",
                     train_command=f"ctm train --config {source}/config.json --out NEW_RUN")
