"""`ctm tasks`: the registered tasks, one line each."""

from __future__ import annotations

from .common import Parser

HELP = "list the tasks"


def main(argv: list[str]) -> int:
    from ..tasks import TASKS

    Parser(prog="ctm tasks", description=HELP).parse_args(argv)
    for name, task in sorted(TASKS.items()):
        print(f"{name:<12} {task.description}")
    return 0
