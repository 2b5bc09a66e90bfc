"""Task registry: names -> task classes. A new task is one package plus one line here."""

from __future__ import annotations

from .base import Batch, Task
from .explore import ExploreTask
from .images import ImagesTask
from .maze import MazeTask
from .parity import ParityTask
from .qa import QATask
from .rl import RLTask
from .sort import SortTask
from .sudoku import SudokuTask

TASKS: dict[str, type[Task]] = {task.name: task for task in (ParityTask, MazeTask, ImagesTask,
                                                             SortTask, QATask, RLTask,
                                                             SudokuTask, ExploreTask)}


def get_task(name: str) -> type[Task]:
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; available: {', '.join(sorted(TASKS))}")
    return TASKS[name]


__all__ = ["TASKS", "Batch", "Task", "get_task"]
