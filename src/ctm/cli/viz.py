"""`ctm viz`: pictures of a model thinking, and held-out metrics against the thinking budget."""

from __future__ import annotations

import sys
from pathlib import Path

from ..flags import parse_int_tuple
from .common import (
    Parser,
    UserError,
    add_device,
    add_model_source,
    add_task_options,
    add_threads,
    apply_task_options,
    peek_task,
    set_threads,
)

HELP = "pictures of a model thinking, and metrics against ticks"


def build_parser(task_name: str | None) -> Parser:
    p = Parser(prog="ctm viz", description=HELP)
    add_model_source(p)
    p.add_argument("--out", type=Path, help="output folder (default: RUN_OR_MODEL/viz; for a "
                   "bundled model ./viz-NAME)")
    p.add_argument("--count", type=int, default=3, help="examples to draw (default 3)")
    p.add_argument("--ticks", type=parse_int_tuple, metavar="INTS",
                   help="tick budgets to evaluate, e.g. 5,10,20 (default: 10%%..150%% of the "
                        "trained budget)")
    add_threads(p)
    add_device(p)
    add_task_options(p, task_name)
    return p


def main(argv: list[str]) -> int:
    from ..analysis.report import default_tick_budgets, visualise
    from ..device import check_device
    from ..run import build_task, load_run
    from ..run.lookup import is_bundled, resolve

    args = build_parser(peek_task(build_parser(None), argv)).parse_args(argv)
    set_threads(args.threads)
    device = check_device(args.device)
    if args.count < 1:
        raise UserError(f"--count must be >= 1, got {args.count}")
    if args.ticks is not None and (not args.ticks or min(args.ticks) < 1):
        raise UserError(f"--ticks must be positive, got {list(args.ticks)}")
    run, model = load_run(args.path, args.task, best=args.best)
    model.to(device)
    run = apply_task_options(run, args)
    task = build_task(run)
    source = resolve(args.path)
    out_dir = args.out or (Path(f"viz-{source.name}") if is_bundled(source) else source / "viz")
    if args.ticks is not None and not task.adaptive_ticks:
        raise UserError(f"--ticks sweeps a thinking budget; the {task.name} task's ticks are its "
                        f"answer's own (change its task options instead)")
    ticks = list(args.ticks or default_tick_budgets(model.config.ticks))
    if task.adaptive_ticks:
        print(f"evaluating at {', '.join(map(str, ticks))} ticks ...", file=sys.stderr)
    sweep, written = visualise(task, model, out_dir, ticks, args.count,
                               run.train.eval_batch_size, run.train.seed, device)
    for k, metrics in sweep.items():
        print(f"{k:>4} ticks: " + ", ".join(f"{m} {100 * metrics[m]:.2f}%"
                                            for m in task.headline_metrics))
    for path in written:
        print(f"wrote {path}")
    return 0
