"""`ctm viz RUN --html DIR`: the thought viewer for a run's model. The model is exported to
ONNX with its traces (attention, post-activations, output synchronisation per tick), checked
against PyTorch, and written with held-out examples into a folder that runs it in the page
(`ctm.analysis.viewer`). A static page carries PyTorch's outputs instead of the model.
Tasks whose model acts in a world get the episode page instead: held-out episodes recorded by
PyTorch, played step by step.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..analysis.viewer import onnxruntime_web, write_episode_viewer, write_viewer
from ..tasks import TASKS, Task
from .config import RunConfig
from .export import WholeThought, attends, export_model, output_names


@dataclass
class Viewer:
    page: Path
    max_difference: float | None  # exported model against PyTorch on the first example
    static: bool


def viewer_data(task: Task, model: nn.Module, run: RunConfig, count: int, static: bool
                ) -> tuple[dict[str, Any], torch.Tensor]:
    """What the page reads (CTM_DATA), and the first example as a model input."""
    spec = task.viewer_examples(model.config, count, run.train.seed)
    if spec is None:
        have = sorted(name for name, cls in TASKS.items()
                      if cls.viewer_examples is not Task.viewer_examples
                      or cls.episode_viewer is not Task.episode_viewer)
        raise ValueError(f"the {task.name} task has no thought viewer yet ({', '.join(have)} "
                         f"have one); `ctm viz RUN` draws its pictures")
    if not getattr(model, "traces", False):
        raise ValueError(f"the thought viewer shows a CTM's neurons and synchronisation; this "
                         f"is a "
                         f"{model.config.architecture} model")
    spec["examples"] = solved_first(task, model, spec["examples"], count, run.train.seed)
    first = torch.tensor(spec["examples"][0]["input"], dtype=torch.float32).unsqueeze(0)
    ticks = task.ticks_for(first, model.config)
    attention = attends(model)
    data = {**spec, "title": f"{run.task}: a CTM thinking for {ticks} ticks",
            "task": run.task, "ticks": ticks, "input_shape": list(first.shape[1:]),
            "heads": model.config.heads if attention else 0,
            "outputs": output_names(model, attention, trace=True), "static": static}
    if static:
        wrapper = WholeThought(model, ticks, attention, trace=True).eval()
        for example in data["examples"]:
            x = torch.tensor(example["input"], dtype=torch.float32).unsqueeze(0)
            with torch.no_grad():
                values = wrapper(x)
            example["outputs"] = {name: v.flatten().tolist()
                                  for name, v in zip(data["outputs"], values, strict=True)}
    return data, first


def solved_first(task: Task, model: nn.Module, examples: list[dict[str, Any]], count: int,
                 seed: int) -> list[dict[str, Any]]:
    """The examples with those the model answers right first, each title saying which, so
    that the page opens on one it gets right. If none of them is, the first right one among
    the next 3 · count held-out examples takes the first place."""
    solved = task.viewer_solved(model, examples)
    if solved is None:
        return examples
    if not any(solved):
        more = task.viewer_examples(model.config, 4 * count, seed)["examples"][count:]
        found = [e for e, right in zip(more, task.viewer_solved(model, more), strict=True)
                 if right]
        if found:
            examples, solved = [found[0], *examples[:count - 1]], [True, *solved[:count - 1]]
    for example, right in zip(examples, solved, strict=True):
        example["title"] += f": {'solved' if right else 'not solved'} by the model"
    order = sorted(range(len(solved)), key=lambda k: not solved[k])
    return [examples[k] for k in order]


def write_thought_viewer(run: RunConfig, model: nn.Module, task: Task, out_dir: str | Path,
                         count: int = 8, static: bool = False,
                         ort_dir: str | Path | None = None) -> Viewer:
    model = model.float().eval()
    data, first = viewer_data(task, model, run, count, static)
    if static:
        return Viewer(write_viewer(out_dir, data, None, None), None, True)
    runtime = onnxruntime_web(ort_dir)
    with tempfile.TemporaryDirectory(prefix="ctm-viewer-") as work:
        exported = export_model(model, task, work, "onnx", ticks=data["ticks"],
                                attention=bool(data["heads"]), x=first, trace=True)
        page = write_viewer(out_dir, data, exported.files[0], runtime)
    return Viewer(page, exported.max_difference, False)


def plays_episodes(task: Task) -> bool:
    """Whether the task's page is the episode viewer (recorded episodes, no model in it)."""
    return type(task).episode_viewer is not Task.episode_viewer


def write_episode_page(run: RunConfig, model: nn.Module, task: Task, out_dir: str | Path,
                       count: int = 8) -> Path:
    """The episode viewer for an agent's run: `count` held-out episodes, played by PyTorch."""
    data = task.episode_viewer(model.float().eval(), count, run.train.seed)
    if data is None:
        raise ValueError(f"the {task.name} task plays no episodes")
    return write_episode_viewer(out_dir, data)
