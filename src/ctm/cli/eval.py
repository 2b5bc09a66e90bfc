"""`ctm eval`: a trained model's held-out metrics, early exit, and temperature scaling."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import (
    Parser,
    UserError,
    add_device,
    add_model_source,
    add_task_options,
    add_threads,
    load_for_use,
    parsed_for_a_model,
)

HELP = "evaluate a run's model on held-out data"
OWN_FLAGS = ("data",)  # --data DIR is eval's: the folder to evaluate on (task option eval_data)


def _float_list(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected numbers such as 0.5,0.9, got {text!r}") from None


def build_parser(task_name: str | None) -> Parser:
    p = Parser(prog="ctm eval", description=HELP)
    add_model_source(p)
    p.add_argument("--data", type=Path, metavar="DIR",
                   help="evaluate on this folder of data (tasks that read from disk)")
    p.add_argument("--json", action="store_true", help="one JSON object of final metrics")
    p.add_argument("--quick", action="store_true",
                   help="only the held-out metrics training reports, no costlier extras")
    p.add_argument("--temperature-scaling", action="store_true",
                   help="for comparison: fit a softmax temperature on half of the held-out "
                        "predictions and report ECE on the other half before and after")
    p.add_argument("--halt-at", type=float, metavar="CERTAINTY",
                   help="early exit: each sample stops once its certainty reaches this")
    p.add_argument("--halt-sweep", type=_float_list, metavar="FLOATS",
                   help="early exit at several thresholds, e.g. 0.5,0.8,0.95, against the "
                        "full run: accuracy, mean ticks and model time")
    p.add_argument("--halt-certainty", choices=("mean", "least"),
                   help="early exit: the certainty that must reach the threshold, the mean "
                        "over the model's outputs (default) or the least certain one (every "
                        "position or cell sure)")
    p.add_argument("--batch-size", type=int, default=0,
                   help="evaluation batch size (default: the run's eval_batch_size)")
    p.add_argument("--repeats", type=int, default=3,
                   help="early exit: passes over the data to time (median; default 3)")
    p.add_argument("--seed", type=int, metavar="N",
                   help="held-out data generated from seed N instead of the run's own seed, "
                        "to score models trained with different seeds on the same examples")
    add_threads(p)
    add_device(p)
    add_task_options(p, task_name, skip=OWN_FLAGS)
    return p


def main(argv: list[str]) -> int:
    from ..progress import reported

    args = parsed_for_a_model(build_parser, argv)
    if args.batch_size < 0 or args.repeats < 1:
        raise UserError("--batch-size must be >= 1 and --repeats >= 1")
    if args.halt_certainty is not None and args.halt_at is None and args.halt_sweep is None:
        raise UserError("--halt-certainty says what early exit reads: give --halt-at or "
                        "--halt-sweep with it")

    def data(run: object) -> dict[str, str]:  # --data: the held-out set from a folder
        if args.data is None:
            return {}
        if not hasattr(run.options, "eval_data"):
            raise UserError(f"the {run.task} task does not read data from disk (--data)")
        if not args.data.is_dir():
            raise UserError(f"--data {args.data} is not a folder")
        return {"eval_data": str(args.data)}

    run, model, task, device = load_for_use(args, data)
    batch_size = args.batch_size or run.train.eval_batch_size
    seed = run.train.seed if args.seed is None else args.seed

    def batches():  # noqa: ANN202
        return task.eval_batches(batch_size, seed)

    if args.halt_at is not None or args.halt_sweep is not None:
        return _halting(args, task, model, batches, device)
    metrics = task.evaluate(model, reported(batches(), "evaluating on the held-out set"),
                            device)
    if not args.quick and args.data is None:
        metrics.update(task.final_evaluation(model, batch_size, seed, device))
    if args.temperature_scaling:
        from ..analysis.calibration import temperature_comparison

        answers = task.calibration_logits(model, batches(), device)
        if answers is None:
            raise UserError(f"--temperature-scaling needs one class per answer; the {run.task} "
                            f"task's answers are not")
        metrics.update(temperature_comparison(*answers))
    if args.json:
        from ..files import json_line

        print(json_line(metrics))
        return 0
    print(task.summary(metrics))
    if args.temperature_scaling:
        print(f"temperature scaling (T = {metrics['temperature']:.3f}, fitted on the even "
              f"held-out predictions): ECE on the odd ones "
              f"{100 * metrics['ece_before_scaling']:.2f}% -> "
              f"{100 * metrics['ece_temperature_scaled']:.2f}% at the most-certain tick")
    return 0


def _halting(args: argparse.Namespace, task, model, batches, device) -> int:  # noqa: ANN001
    """Early exit: metrics, mean ticks and model time at each threshold and for the full run."""
    from ..files import json_line
    from ..inference import halting_sweep
    from ..model import CTM

    if not isinstance(model, CTM):
        raise UserError(f"early exit needs a CTM, not a {model.config.architecture} model")
    if not task.adaptive_ticks:
        raise UserError(f"early exit reads the answer at the tick thinking stops; the "
                        f"{task.name} task's answer is not read at one tick")
    thresholds = [args.halt_at] if args.halt_at is not None else list(args.halt_sweep)
    if not thresholds or any(not 0.0 <= t <= 1.0 for t in thresholds):
        raise UserError(f"certainty thresholds must be in [0, 1], got {thresholds}")
    rows = halting_sweep(lambda m: task.evaluate(m, batches(), device), model,
                         [None, *thresholds], repeats=args.repeats,
                         certainty=args.halt_certainty or "mean")
    if args.json:
        print(json_line(rows[1] if args.halt_at is not None else rows))
        return 0
    names = task.headline_metrics
    if args.halt_certainty == "least":
        print("early exit once the least certain output reaches the threshold")
    print(f"{'halt at':>8} " + " ".join(f"{n:>18}" for n in names)
          + f" {'mean ticks':>10} {'model s':>8} {'speed-up':>8}")
    for row in rows:
        label = "full" if row["halt_at"] is None else f"{row['halt_at']:.2f}"
        print(f"{label:>8} " + " ".join(f"{100 * row[n]:>17.2f}%" for n in names)
              + f" {row['mean_ticks']:>10.2f} {row['model_seconds']:>8.2f}"
              f" {row['speedup']:>7.2f}x")
    return 0
