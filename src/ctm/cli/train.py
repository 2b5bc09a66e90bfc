"""`ctm train`: every config field is a flag; the run's config.json replays it with --config."""

from __future__ import annotations

import dataclasses
import signal
import sys
import typing
from pathlib import Path

from ..flags import add_dataclass_flags, collect
from .common import Parser, UserError

HELP = "train a CTM (ctm train TASK --out RUN_DIR; --help for flags)"


def _given_options(argv: list[str], options_cls: type) -> dict[str, str]:
    """Text-valued task options given in `argv` (such as rl's --env), which decide the
    defaults --help shows."""
    hints = typing.get_type_hints(options_cls)
    names = {f"--{f.name.replace('_', '-')}": f.name for f in dataclasses.fields(options_cls)
             if hints[f.name] is str}
    given = {}
    for i, arg in enumerate(argv):
        flag, _, value = arg.partition("=")
        if flag in names and (value or i + 1 < len(argv)):
            given[names[flag]] = value or argv[i + 1]
    return given


def build_parser(task_name: str | None, argv: list[str] | None = None) -> Parser:
    from ..model import CTMConfig
    from ..run.config import TrainConfig
    from ..tasks import get_task

    parser = Parser(prog="ctm train", description=(
        "Train a CTM. Every field of the run's config is a flag; the run directory's "
        "config.json replays the run with --config."))
    parser.add_argument("task", nargs="?", help="task name (see `ctm tasks`)")
    parser.add_argument("--out", type=Path, help="run directory to create")
    parser.add_argument("--config", type=Path,
                        help="start from a run's config.json (flags override it)")
    parser.add_argument("--resume", type=Path, metavar="RUN_DIR",
                        help="continue the run in RUN_DIR from its newest intact checkpoint "
                             "(from step 0 if it has none); only settings that do not change "
                             "what is computed may change")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--processes", type=int, default=1, metavar="N",
                        help="train on N processes of this machine (distributed data "
                             "parallel; the global --batch-size is split between them): ctm "
                             "starts them itself, as `torchrun --standalone` would (default 1)")
    parser.add_argument("--match-ctm", action="store_true",
                        help="baselines: choose d_model so the parameter count matches the CTM "
                             "this config would build with --architecture ctm")
    if task_name is None:
        add_dataclass_flags(parser, TrainConfig, "train", "training")
    else:
        task = get_task(task_name)
        # the defaults --help shows follow the options given (an environment's recipe); only
        # for --help: a task built from the user's options may read their data
        asked = argv is not None and ("-h" in argv or "--help" in argv)
        given = _given_options(argv, task.Options) if asked else {}
        try:
            options = task.Options(**{**task.option_defaults(given), **given})
            instance = task(options)
        except (ValueError, TypeError, OSError):  # a mistake among them: parsing names it
            options = task.Options(**task.option_defaults({}))
            instance = task(options)
        note = task.defaults_note or None
        add_dataclass_flags(parser, TrainConfig, "train", f"training (defaults for {task_name})",
                            TrainConfig(**instance.train_defaults()), description=note)
        add_dataclass_flags(parser, task.Options, "options", f"{task_name} task options",
                            options, description=note)
        add_dataclass_flags(parser, CTMConfig, "model", f"model (defaults for {task_name})",
                            instance.model_defaults())
    return parser


def find_task(argv: list[str]) -> str | None:
    """The task whose flags the parser needs: the one a resumed run or --config holds, else
    the one named on the command line."""
    from ..run.config import RunConfig

    for i, arg in enumerate(argv):
        if arg in ("--config", "--resume") and i + 1 < len(argv):
            path = Path(argv[i + 1])
            path = path / "config.json" if arg == "--resume" else path
            if path.is_file():
                return RunConfig.read(path).task
    positional = [a for a in argv if not a.startswith("-")]
    return positional[0] if positional and not argv[0].startswith("-") else None


def main(argv: list[str]) -> int:
    from ..run.compose import compose_new, compose_resume
    from ..tasks import TASKS
    from ..train import Trainer

    task_name = find_task(argv)
    if task_name is not None and task_name not in TASKS:
        raise UserError(f"unknown task {task_name!r}; available: {', '.join(sorted(TASKS))}")
    args = build_parser(task_name, argv).parse_args(argv)
    overrides = {s: collect(args, s) for s in ("options", "model", "train")}
    if args.resume is not None:
        if args.out is not None or args.config is not None:
            raise UserError("--resume continues a run in place: drop --out and --config")
        if args.match_ctm:
            raise UserError("--match-ctm sizes a new run's model; a resumed run keeps its own")
        run = compose_resume(args.resume, overrides, args.task)
        run_dir = args.resume
    else:
        if args.out is None:
            raise UserError("say where the run goes: --out RUN_DIR")
        run = compose_new(args.task, overrides, args.config)
        if args.match_ctm:
            run.model = _match_ctm(run.model)
        run_dir = args.out
    if args.processes != 1:
        return _on_processes(argv, args.processes, run.train.batch_size)
    trainer = Trainer(run, run_dir, resume=args.resume is not None,
                      progress=not args.no_progress)
    main_process = trainer.processes.main  # on several processes, rank 0 alone speaks
    for note in trainer.notes if main_process else []:
        print(f"ctm: {note}", file=sys.stderr)
    metrics = trainer.fit()
    if trainer.stopped_by is not None:
        return 128 + int(getattr(signal, trainer.stopped_by))
    if not main_process:
        return 0
    print(trainer.task.summary(metrics))
    print(f"run directory: {run_dir}  (evaluate again with `ctm eval {run_dir}`)")
    return 0


def _on_processes(argv: list[str], processes: int, batch_size: int) -> int:
    """`ctm train` again on `processes` ranks, the flags checked once here first."""
    import os

    from ..train import Processes
    from ..train.launch import launch

    if processes < 1:
        raise UserError(f"--processes must be >= 1, got {processes}")
    if "WORLD_SIZE" in os.environ:
        raise UserError("--processes starts the ranks itself; under torchrun leave it out")
    Processes(0, processes).split(batch_size)  # the ranks' own check, made before they start
    rest, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--processes":
            skip = True
        elif not arg.startswith("--processes="):
            rest.append(arg)
    status, line = launch(rest, processes)
    if line is not None:
        print(line, file=sys.stderr)
    return status


def _match_ctm(config: object) -> object:
    from ..model.baselines import match_parameters, parameter_count
    from ..model.registry import ARCHITECTURES

    if config.architecture == "ctm":
        raise UserError("--match-ctm sizes a baseline: add --architecture "
                        + " or ".join(n for n in ARCHITECTURES.names() if n != "ctm"))
    # the CTM the same flags build: without the recursive model's own training fields
    target = parameter_count(dataclasses.replace(config, architecture="ctm", cycles=1,
                                                 deep_supervision=False))
    matched = match_parameters(config, target)
    print(f"{config.architecture}: d_model {matched.d_model} gives "
          f"{parameter_count(matched):,} parameters (the CTM has {target:,})", file=sys.stderr)
    return matched
