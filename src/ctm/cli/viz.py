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
    check_output_folder,
    load_for_use,
    parsed_for_a_model,
)

HELP = "pictures of a model thinking, and metrics against ticks"


def build_parser(task_name: str | None) -> Parser:
    p = Parser(prog="ctm viz", description=HELP)
    add_model_source(p)
    p.add_argument("--out", type=Path, help="output folder (default: RUN_OR_MODEL/viz; for a "
                   "bundled model ./viz-NAME)")
    p.add_argument("--count", type=int, default=None,
                   help="examples to draw (default 3; 8 in the thought viewer)")
    p.add_argument("--html", type=Path, metavar="DIR",
                   help="write the thought viewer into DIR instead: a page that runs the model "
                        "tick by tick (open DIR/index.html, or serve DIR); for an agent "
                        "(explore), held-out episodes played step by step")
    p.add_argument("--static", action="store_true",
                   help="with --html: precomputed outputs instead of the model (no editing)")
    p.add_argument("--ort-dir", type=Path, metavar="DIR",
                   help="with --html: onnxruntime-web unpacked here (default: fetched once "
                        "with npm into ~/.cache/ctm)")
    p.add_argument("--training", action="store_true",
                   help="draw how the thinking changed along training, from what the run kept "
                        "at each evaluation (maze: the route at every tick, and how often it "
                        "went down a wrong branch and came back)")
    p.add_argument("--ticks", type=parse_int_tuple, metavar="INTS",
                   help="tick budgets to evaluate, e.g. 5,10,20 (default: 10%%..150%% of the "
                        "trained budget)")
    add_threads(p)
    add_device(p)
    add_task_options(p, task_name)
    return p


def main(argv: list[str]) -> int:
    from ..analysis.report import default_tick_budgets, visualise
    from ..run.lookup import is_bundled, resolve

    args = parsed_for_a_model(build_parser, argv)
    if args.count is not None and args.count < 1:
        raise UserError(f"--count must be >= 1, got {args.count}")
    if (args.static or args.ort_dir) and args.html is None:
        raise UserError("--static and --ort-dir shape the thought viewer: add --html DIR")
    if args.ticks is not None and (not args.ticks or min(args.ticks) < 1):
        raise UserError(f"--ticks must be positive, got {list(args.ticks)}")
    if args.training and args.html is not None:
        raise UserError("--training draws pictures of a run's training; --html writes the "
                        "thought viewer: give one of them")
    check_output_folder(args.html, "--html")
    check_output_folder(args.out, "--out")
    run, model, task, device = load_for_use(args)
    if args.html is not None:
        return thought_viewer(run, model, task, args)
    source = resolve(args.path)
    out_dir = args.out or (Path(f"viz-{source.name}") if is_bundled(source) else source / "viz")
    if args.training:
        return training_pictures(source, run, task, out_dir)
    if args.ticks is not None and not task.adaptive_ticks:
        raise UserError(f"--ticks sweeps a thinking budget; the {task.name} task's ticks are its "
                        f"answer's own (change its task options instead)")
    ticks = list(args.ticks or default_tick_budgets(model.config.ticks))
    if task.adaptive_ticks:
        print(f"evaluating at {', '.join(map(str, ticks))} ticks ...", file=sys.stderr)
    sweep, written = visualise(task, model, out_dir, ticks, args.count or 3,
                               run.train.eval_batch_size, run.train.seed, device)
    for k, metrics in sweep.items():
        print(f"{k:>4} ticks: " + ", ".join(f"{m} {100 * metrics[m]:.2f}%"
                                            for m in task.headline_metrics))
    for path in written:
        print(f"wrote {path}")
    return 0


def thought_viewer(run: object, model: object, task: object, args: object) -> int:
    from ..run.viewer import plays_episodes, write_episode_page, write_thought_viewer

    model.to("cpu")
    if plays_episodes(task):
        if args.ort_dir is not None:
            raise UserError(f"the {task.name} page plays episodes PyTorch recorded and runs no "
                            f"model: drop --ort-dir")
        count = args.count or 8
        print(f"playing {count} held-out episode{'s' if count > 1 else ''} ...",
              file=sys.stderr)
        page = write_episode_page(run, model, task, args.html, count)
        print(f"wrote {page}  (open it in a browser: the episodes play step by step)")
        return 0
    viewer = write_thought_viewer(run, model, task, args.html, args.count or 8, args.static,
                                  args.ort_dir)
    print(f"wrote {viewer.page}  (open it in a browser, or `python -m http.server -d "
          f"{args.html}`)")
    if viewer.max_difference is not None:
        print(f"the page's model against PyTorch (onnxruntime): largest difference "
              f"{viewer.max_difference:.2e}")
    return 0


def training_pictures(source: Path, run: object, task: object, out_dir: Path) -> int:
    from ..run.layout import METRICS, RECORDS, is_run_dir, read_jsonl

    if not is_run_dir(source):
        raise UserError(f"--training draws what a training run kept; {source} is a saved model, "
                        f"not a run")
    records_path = source / RECORDS
    if not records_path.is_file():
        raise UserError(f"{source} holds no {RECORDS}: its task keeps none, or it was trained "
                        f"before runs kept them, or it has not evaluated yet")
    records = read_jsonl(records_path)
    metrics = [row for row in read_jsonl(source / METRICS) if row.get("split") == "eval"] \
        if (source / METRICS).is_file() else []
    written = task.visualise_training(records, metrics, out_dir, run.train.seed)
    if written is None:
        raise UserError(f"the {task.name} task draws no pictures of training (the maze task does)")
    for path in written:
        print(f"wrote {path}")
    return 0
