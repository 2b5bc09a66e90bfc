"""What the command modules share: the one-line error, the parser that raises it, and the
flags several commands take (threads, device, a trained model and its task options)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from ..flags import add_dataclass_flags, collect


class UserError(Exception):
    """A mistake on the command line: reported as one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UserError(f"{message} (see `{self.prog} --help`)")


def check_output_folder(path: Path | None, flag: str) -> None:
    """Refuse, before any work, an output folder that is an existing file."""
    if path is not None and path.exists() and not path.is_dir():
        raise UserError(f"{flag} {path} is a file, and this writes into a folder: remove the "
                        f"file or choose another path")


def add_threads(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=int, default=0,
                        help="torch CPU threads (default: torch's choice)")


def set_threads(threads: int) -> None:
    import torch

    if threads < 0:
        raise UserError(f"--threads must be >= 0, got {threads}")
    if threads:
        torch.set_num_threads(threads)


def add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="cpu",
                        help="cpu, cuda, cuda:N or mps (default cpu)")


def add_model_source(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="RUN_OR_MODEL",
                        help="a run directory, a saved model directory (with --task), or a "
                             "model shipped with ctm: bundled:maze15")
    parser.add_argument("--task", help="the task a bare saved model was trained on")
    parser.add_argument("--best", action="store_true",
                        help="a run's model at its best evaluation (RUN/best/) instead of "
                             "its final one")


def peek_task(parser: Parser, argv: list[str]) -> str | None:
    """The task of the model `argv` names (the run's own, else --task), read with the
    command's parser before its task flags exist, because each task brings its own option
    flags (so that `ctm eval RUN --help` lists them). Whatever the peek cannot parse, the
    full parser reports."""
    from ..run.config import RunConfig
    from ..run.layout import RUN_CONFIG, is_run_dir
    from ..run.lookup import resolve

    try:
        known, extra = parser.parse_known_args([a for a in argv if a not in ("-h", "--help")])
    except UserError:
        return None
    # a task flag before the path (`--eval-size 16 RUN`) is unknown here, and its value may
    # have been taken for the path: the path is the first word that names a model
    words = [known.path, *(a for a in extra if not a.startswith("-"))]
    try:
        paths = [resolve(w) for w in words if w]
    except ValueError as error:
        raise UserError(str(error)) from None
    path = next((p for p in paths if p.is_dir()), None)
    if path is not None and is_run_dir(path):
        return RunConfig.read(path / RUN_CONFIG).task
    return known.task


def add_task_options(parser: argparse.ArgumentParser, task_name: str | None,
                     skip: tuple[str, ...] = ()) -> None:
    """The task's option flags, the same as `ctm train TASK` takes (`--eval-size 200`)."""
    from ..tasks import get_task

    if task_name is None:
        return
    task = get_task(task_name)
    add_dataclass_flags(parser, task.Options, "options", f"{task_name} task options (default: "
                        f"the run's own)", skip=skip)


def apply_task_options(run: Any, args: argparse.Namespace, **more: Any) -> Any:
    """The run with its task options changed by the option flags given (and `more`),
    refused where the model does not fit them."""
    changes = {**collect(args, "options"), **more}
    return run.with_options(**changes) if changes else run


def parsed_for_a_model(build_parser: Callable[[str | None], Parser], argv: list[str]
                       ) -> argparse.Namespace:
    """The flags of a command that reads a trained model (eval, viz): its task's option
    flags come from the model `argv` names, so the command's parser is built for that task;
    threads are set at once."""
    args = build_parser(peek_task(build_parser(None), argv)).parse_args(argv)
    set_threads(args.threads)
    return args


def load_for_use(args: argparse.Namespace,
                 more: Callable[[Any], dict[str, Any]] | None = None
                 ) -> tuple[Any, Any, Any, Any]:
    """(run config, model on the device, task, device) for the model `args.path` names,
    with the task option flags applied, and the options `more(run)` gives."""
    from ..device import check_device
    from ..run import build_task, load_run

    device = check_device(args.device)
    run, model = load_run(args.path, args.task, best=args.best)
    model.to(device)
    run = apply_task_options(run, args, **(more(run) if more is not None else {}))
    return run, model, build_task(run), device
