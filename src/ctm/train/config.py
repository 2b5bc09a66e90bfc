"""A run's complete, replayable configuration: task, task options, model, training."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..model import CTMConfig
from ..precision import check_precision
from ..tasks import get_task

COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


@dataclass
class TrainConfig:
    steps: int = 2000
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    warmup_steps: int = 100  # linear warm-up, then cosine decay to 0 at `steps`
    grad_clip: float = 1.0  # max global gradient norm; 0 disables clipping
    eval_every: int = 250
    eval_batch_size: int = 256
    checkpoint_every: int = 250
    keep_checkpoints: int = 2
    log_every: int = 10
    seed: int = 0
    threads: int = 0  # torch CPU threads; 0 leaves torch's default
    device: str = "cpu"
    compile: bool = False  # torch.compile each tick: slow first step, faster after
    compile_mode: str = "default"  # torch.compile mode; reduce-overhead adds CUDA graphs on GPUs
    checkpoint_ticks: bool = False  # activation checkpointing per tick: less memory, slower steps
    precision: str = "float32"  # float32 | tf32 (CUDA matmuls in TF32) | bf16 (autocast)
    data_workers: int = 0  # processes that build upcoming training batches ahead of the step
    init_from: str = ""  # start from this run's / saved model's / bundled:NAME's weights

    def __post_init__(self) -> None:
        check_precision(self.precision)
        if self.compile_mode not in COMPILE_MODES:
            raise ValueError(f"compile_mode must be one of {', '.join(COMPILE_MODES)}, "
                             f"got {self.compile_mode!r}")
        for name in ("steps", "batch_size", "eval_every", "eval_batch_size",
                     "checkpoint_every", "keep_checkpoints", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("lr", "weight_decay", "grad_clip", "warmup_steps", "threads",
                     "data_workers"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


@dataclass
class RunConfig:
    task: str
    options: Any  # the task's Options dataclass
    model: CTMConfig
    train: TrainConfig = field(default_factory=TrainConfig)

    @classmethod
    def create(cls, task: str, options: dict | None = None, model: dict | None = None,
               train: dict | None = None) -> RunConfig:
        """Task defaults, overridden by the given fields; fields the task's data fixes
        (output sizes) are filled in, and contradicting them is an error."""
        task_cls = get_task(task)
        opts = _build(task_cls.Options, options or {}, "task option")
        instance = task_cls(opts)
        model_fields = dataclasses.asdict(instance.model_defaults())
        model_fields.update(model or {})
        for key, value in instance.model_requirements().items():
            given = (model or {}).get(key)
            if given is not None and _normal(given) != _normal(value):
                raise ValueError(f"{task} fixes {key}={_normal(value)} from its options; "
                                 f"got {_normal(given)}")
            model_fields[key] = value
        return cls(task=task, options=opts, model=_build(CTMConfig, model_fields, "model field"),
                   train=_build(TrainConfig, train or {}, "train field"))

    def to_dict(self) -> dict:
        return {"task": self.task, "options": dataclasses.asdict(self.options),
                "model": self.model.to_dict(), "train": dataclasses.asdict(self.train)}

    @classmethod
    def from_dict(cls, data: dict) -> RunConfig:
        missing = {"task", "options", "model", "train"} - set(data)
        if missing:
            raise ValueError(f"run config lacks {', '.join(sorted(missing))}")
        return cls.create(data["task"], data["options"], data["model"], data["train"])

    @classmethod
    def read(cls, path: str | Path) -> RunConfig:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found")
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} is not valid JSON: {error}") from None
        return cls.from_dict(data)


def _normal(value: Any) -> Any:
    return list(value) if isinstance(value, tuple | list) else value


def _build(cls: type, values: dict, what: str) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f"unknown {what}(s): {', '.join(unknown)}; known: "
                         f"{', '.join(sorted(names))}")
    return cls(**values)
