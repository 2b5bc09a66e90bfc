"""A run's complete, replayable configuration: task, task options, model, training.

`config.json` in a run directory is `RunConfig.to_dict()`; reading it back builds the same run.
Which fields `--resume` may change is decided here (`RESUMABLE`): the ones that change how a run
is executed or observed, never what it computes.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..compilation import COMPILE_MODES
from ..fields import build_checked
from ..files import read_json
from ..model import ARCHITECTURES, CTMConfig
from ..optimizer import OPTIMIZERS, check_optimizer
from ..precision import PRECISIONS, check_precision
from ..tasks import Task, get_task

# what torch.compile covers: nothing, each tick, or the whole thought (every tick, the loss and
# the certainty as one graph, and its backward); `auto` picks one when the run starts
# (ctm.train.compiled.resolve_compile)
COMPILE_SCOPES = ("off", "tick", "thought", "auto")
NONFINITE_POLICIES = ("stop", "skip")
STRATEGIES = ("ddp", "fsdp")  # how several processes share a model: ctm.train.distributed

# Fields `ctm train --resume RUN --FIELD V` may change. `steps` is not among them: the cosine
# schedule is a function of it, so a longer resumed run would jump back up from a decayed
# learning rate and no config could replay it. Training on is a new run: `--init-from RUN`.
RESUMABLE = ("threads", "eval_every", "checkpoint_every", "keep_checkpoints", "log_every",
             "device", "compile", "compile_mode", "checkpoint_ticks", "precision",
             "data_workers", "eval_batch_size", "strategy")


@dataclass
class TrainConfig:
    steps: int = 2000  # optimiser updates; the learning rate's cosine ends here
    batch_size: int = 64  # samples per step (over all processes together)
    lr: float = 1e-3  # peak learning rate (Muon's steps are scaled to match AdamW's)
    weight_decay: float = 0.0  # decoupled weight decay
    # adamw, or muon: Muon for the linear layers' weight matrices, AdamW for the rest
    optimizer: str = "adamw"
    warmup_steps: int = 100  # linear warm-up, then cosine decay to 0 at `steps`
    grad_clip: float = 1.0  # max global gradient norm; 0 disables clipping
    eval_every: int = 250  # steps between evaluations on the held-out set
    eval_batch_size: int = 256  # samples per evaluation batch
    checkpoint_every: int = 250  # steps between checkpoints
    keep_checkpoints: int = 2  # the newest intact checkpoints kept on disk
    log_every: int = 10  # steps between rows of metrics.jsonl and TensorBoard
    seed: int = 0  # weights, batches and the held-out set all follow from it
    threads: int = 0  # torch CPU threads; 0 leaves torch's default
    device: str = "cpu"  # cpu, cuda, cuda:N or mps
    compile: str = "auto"  # off | tick | thought | auto: what torch.compile covers
    compile_mode: str = "default"  # torch.compile mode; reduce-overhead adds CUDA graphs on GPUs
    checkpoint_ticks: bool = False  # activation checkpointing per tick: less memory, slower steps
    precision: str = "float32"  # float32 | tf32 (CUDA matmuls in TF32) | bf16 (autocast)
    data_workers: int = 0  # processes that build upcoming training batches ahead of the step
    init_from: str = ""  # start from this run's / saved model's / bundled:NAME's weights
    # a non-finite loss or gradient: "stop" the run (exit status 3, the last finite checkpoint
    # kept) or "skip" the step without updating; 20 skips in a row stop the run all the same
    on_nonfinite: str = "stop"
    # on several processes (torchrun): ddp keeps a whole model per process; fsdp shards it
    strategy: str = "ddp"

    @classmethod
    def field_choices(cls) -> dict[str, str]:
        """Fields with a fixed set of values -> the values, for --help."""
        return {"compile": ", ".join(COMPILE_SCOPES), "compile_mode": ", ".join(COMPILE_MODES),
                "precision": ", ".join(PRECISIONS), "strategy": ", ".join(STRATEGIES),
                "on_nonfinite": ", ".join(NONFINITE_POLICIES), "optimizer": ", ".join(OPTIMIZERS)}

    def __post_init__(self) -> None:
        check_precision(self.precision)
        if self.compile not in COMPILE_SCOPES:
            old = {"true": "; compile true is now compile tick", "false": "; false is now off"}
            raise ValueError(f"compile must be one of {', '.join(COMPILE_SCOPES)}, "
                             f"got {self.compile!r}{old.get(str(self.compile).lower(), '')}")
        if self.compile_mode not in COMPILE_MODES:
            raise ValueError(f"compile_mode must be one of {', '.join(COMPILE_MODES)}, "
                             f"got {self.compile_mode!r}")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, "
                             f"got {self.strategy!r}")
        check_optimizer(self.optimizer)
        if self.optimizer == "muon" and self.strategy == "fsdp":
            raise ValueError("Muon orthogonalises whole weight matrices and fsdp shards them: "
                             "train with --strategy ddp for --optimizer muon")
        if self.on_nonfinite not in NONFINITE_POLICIES:
            raise ValueError(f"on_nonfinite must be one of {', '.join(NONFINITE_POLICIES)}, "
                             f"got {self.on_nonfinite!r}")
        for name in ("steps", "batch_size", "eval_every", "eval_batch_size",
                     "checkpoint_every", "keep_checkpoints", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("weight_decay", "grad_clip", "warmup_steps", "threads", "data_workers"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("lr", "weight_decay", "grad_clip"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"{name} must be a finite number, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr} (a run that cannot learn)")


@dataclass
class RunConfig:
    task: str
    options: Any  # the task's Options dataclass
    model: CTMConfig
    train: TrainConfig = field(default_factory=TrainConfig)

    @classmethod
    def create(cls, task: str, options: dict | None = None, model: dict | None = None,
               train: dict | None = None, task_defaults: bool = True) -> RunConfig:
        """Task defaults, overridden by the given fields; fields the task's data fixes
        (output sizes) are filled in, and contradicting them is an error. Without
        `task_defaults` no task default is applied (an environment's recipe, a task's model
        or learning rate): a saved run lacking a field added since means that field's plain
        default, which is how that run trained."""
        task_cls = get_task(task)
        given = options or {}
        recipe = task_cls.option_defaults(given) if task_defaults else {}
        opts = build_checked(task_cls.Options, {**recipe, **given}, "task option")
        instance = task_cls(opts)
        defaults = instance.model_defaults() if task_defaults else CTMConfig()
        model_fields = dataclasses.asdict(defaults)
        architecture = (model or {}).get("architecture", model_fields["architecture"])
        if architecture in ARCHITECTURES:  # an unknown name is refused with the config
            # fields an architecture implies (the original's RL agent pairs densely) replace
            # the task's defaults, and give way to what the run gives
            model_fields.update(getattr(ARCHITECTURES.get(architecture), "implied_fields", {}))
            if not getattr(ARCHITECTURES.get(architecture), "recalls", False):
                model_fields["memory_slots"] = 0  # a task's memory, for a model that has none
        model_fields.update(model or {})
        for key, value in instance.model_requirements().items():
            given = (model or {}).get(key)
            if given is not None and _normal(given) != _normal(value):
                raise ValueError(f"{task} fixes {key}={_normal(value)} from its options; "
                                 f"got {_normal(given)}")
            model_fields[key] = value
        model_config = build_checked(CTMConfig, model_fields, "model field")
        instance.check_model(model_config)
        train_config = build_checked(TrainConfig,
                                     {**(instance.train_defaults() if task_defaults else {}),
                                      **(train or {})},
                                     "train field")
        instance.check_batch(train_config.batch_size)
        return cls(task=task, options=opts, model=model_config, train=train_config)

    def with_options(self, **changes: Any) -> RunConfig:
        """This run with some task options changed (to evaluate on other data); a change that
        needs a model of other sizes than this run's is refused."""
        options = dataclasses.replace(self.options, **changes)
        required = get_task(self.task)(options).model_requirements()
        mine = self.model.to_dict()
        clash = sorted(k for k, v in required.items() if _normal(mine.get(k)) != _normal(v))
        if clash:
            given = ", ".join(f"{k}={_normal(v)!r}" for k, v in changes.items())
            raise ValueError(f"{given} needs a model with "
                             + ", ".join(f"{k}={_normal(required[k])}" for k in clash)
                             + "; this one has "
                             + ", ".join(f"{k}={_normal(mine[k])}" for k in clash))
        return dataclasses.replace(self, options=options)

    def to_dict(self) -> dict:
        return {"task": self.task, "options": dataclasses.asdict(self.options),
                "model": self.model.to_dict(), "train": dataclasses.asdict(self.train)}

    @classmethod
    def from_dict(cls, data: Any) -> RunConfig:
        if not isinstance(data, dict):
            raise ValueError(f"a run config is a JSON object, got {type(data).__name__}")
        missing = {"task", "options", "model", "train"} - set(data)
        if missing:
            raise ValueError(f"run config lacks {', '.join(sorted(missing))}")
        if not isinstance(data["task"], str):
            raise ValueError(f"run config: task must be a task name, got {data['task']!r}")
        train = data["train"]
        if isinstance(train, dict) and isinstance(train.get("compile"), bool):
            # configs written before compile had scopes: true compiled each tick, and false
            # trained eager, which is what `off` keeps them doing
            train = {**train, "compile": "tick" if train["compile"] else "off"}
        return cls.create(data["task"], data["options"], data["model"], train,
                          task_defaults=False)

    @classmethod
    def read(cls, path: str | Path) -> RunConfig:
        """The run config in `path`; every problem is a ValueError or FileNotFoundError that
        names the file."""
        data = read_json(path, "run config")
        try:
            return cls.from_dict(data)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{path}: {error}") from None


def build_task(run: RunConfig) -> Task:
    """The task object the run trains and evaluates on."""
    task = get_task(run.task)(run.options)
    task.training_seed = run.train.seed
    return task


def _normal(value: Any) -> Any:
    return list(value) if isinstance(value, tuple | list) else value
