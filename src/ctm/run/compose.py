"""Putting a run's config together from what the user gave: task defaults, a replayed config
file, the source of `--init-from`, and flags, in that order (later wins); or, for `--resume`,
the run's own config with only the fields in `RESUMABLE` changed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..tasks import get_task
from .config import RESUMABLE, RunConfig
from .layout import RUN_CONFIG, is_run_dir
from .lookup import source_model_config, source_task

Overrides = dict[str, dict[str, Any]]  # {"options": {...}, "model": {...}, "train": {...}}


def compose_new(task: str | None, overrides: Overrides, config: Path | None = None
                ) -> RunConfig:
    """A new run: `task`'s defaults, or the run config in `config`, overridden by flags."""
    if config is not None:
        base = RunConfig.read(config).to_dict()
        if task and task != base["task"]:
            raise ValueError(f"--config {config} is a {base['task']} run, not {task}")
    elif task is None:
        raise ValueError("name a task (see `ctm tasks`), or give --config or --resume")
    else:
        base = {"task": task, "options": {}, "model": {}, "train": {}}
        source = overrides["train"].get("init_from")
        if source:  # fine-tuning: the model, and the task options its sizes imply (parity's
            try:    # length), are the source's unless flags change them
                model = source_model_config(source)
                theirs = source_task(source)
            except (FileNotFoundError, ValueError) as error:
                raise ValueError(f"--init-from: {error}") from None
            if theirs not in (None, task):
                raise ValueError(f"--init-from {source} is a {theirs} model; a {task} run "
                                 f"cannot start from it")
            base["model"] = model.to_dict()
            base["options"] = get_task(task).options_for_model(model)
    for section in ("options", "model", "train"):
        base[section] = {**base[section], **overrides[section]}
    if config is not None and overrides["options"]:
        # new task options may change the sizes they fix (e.g. --length -> out_dims)
        task_cls = get_task(base["task"])
        fixed = task_cls(task_cls.Options(**base["options"])).model_requirements()
        base["model"] = {k: v for k, v in base["model"].items()
                         if k not in fixed or k in overrides["model"]}
    run = RunConfig.create(base["task"], base["options"], base["model"], base["train"])
    inapplicable = get_task(run.task).inapplicable_options(run.options)
    for name in overrides["options"]:
        if name in inapplicable:
            raise ValueError(f"--{name.replace('_', '-')} does nothing here: "
                             f"{inapplicable[name]}")
    return run


def compose_resume(run_dir: Path, overrides: Overrides, task: str | None = None) -> RunConfig:
    """The config of the run in `run_dir` with the `RESUMABLE` training fields the flags set;
    any other change is refused with the reason and what to do instead."""
    if not run_dir.is_dir():
        raise FileNotFoundError(f"--resume {run_dir}: no such run directory")
    if not is_run_dir(run_dir) and not (run_dir / RUN_CONFIG).is_file():
        raise ValueError(f"--resume {run_dir} is not a run directory (no {RUN_CONFIG})")
    saved = RunConfig.read(run_dir / RUN_CONFIG)
    if task is not None and task != saved.task:
        raise ValueError(f"--resume {run_dir} is a {saved.task} run, not {task}: drop the "
                         f"task name (a resumed run keeps its task)")
    current = saved.to_dict()
    changed = sorted(
        {f"--{k.replace('_', '-')}" for k, v in overrides["options"].items()
         if current["options"].get(k) != _plain(v)}
        | {f"--{k.replace('_', '-')}" for k, v in overrides["model"].items()
           if current["model"].get(k) != _plain(v)}
        | {f"--{k.replace('_', '-')}" for k, v in overrides["train"].items()
           if k not in RESUMABLE and current["train"].get(k) != v})
    if "--steps" in changed:
        raise ValueError(
            f"a resumed run keeps its schedule: --steps cannot change ({saved.train.steps} "
            f"-> {overrides['train']['steps']}), since the learning rate's cosine depends on "
            f"it; to train on, start a new run from this one's weights: `ctm train "
            f"{saved.task} --init-from {run_dir} --steps N --out NEW_RUN`")
    if changed:
        allowed = ", ".join(f"--{k.replace('_', '-')}" for k in RESUMABLE)
        raise ValueError(f"a resumed run keeps its config; cannot change {', '.join(changed)} "
                         f"(a resume may change {allowed}; for anything else start a new run "
                         f"with --init-from {run_dir})")
    current["train"].update({k: v for k, v in overrides["train"].items() if k in RESUMABLE})
    return RunConfig.from_dict(current)


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
