"""The `ctm` command: tasks, train, eval, convert-original, bench."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from .flags import add_dataclass_flags, collect, parse_assignments, parse_int_tuple


class UserError(Exception):
    """A mistake on the command line: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UserError(f"{message} (see `{self.prog} --help`)")


def _float_list(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected numbers such as 0.5,0.9, got {text!r}") from None


def _add_threads(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=int, default=0,
                        help="torch CPU threads (default: torch's choice)")


def _set_threads(threads: int) -> None:
    import torch

    if threads < 0:
        raise UserError(f"--threads must be >= 0, got {threads}")
    if threads:
        torch.set_num_threads(threads)


# --- ctm tasks ------------------------------------------------------------------------------

def cmd_tasks(args: argparse.Namespace) -> int:
    from .tasks import TASKS

    for name, task in sorted(TASKS.items()):
        print(f"{name:<12} {task.description}")
    return 0


# --- ctm train ------------------------------------------------------------------------------

def _train_parser(task_name: str | None) -> argparse.ArgumentParser:
    from .model import CTMConfig
    from .tasks import get_task
    from .train import TrainConfig

    parser = _Parser(prog="ctm train", description=(
        "Train a CTM. Every field of the run's config is a flag; the run directory's "
        "config.json replays the run with --config."))
    parser.add_argument("task", nargs="?", help="task name (see `ctm tasks`)")
    parser.add_argument("--out", type=Path, help="run directory to create")
    parser.add_argument("--config", type=Path,
                        help="start from a run's config.json (flags override it)")
    parser.add_argument("--resume", type=Path, metavar="RUN_DIR",
                        help="continue the run in RUN_DIR from its latest checkpoint")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--match-ctm", action="store_true",
                        help="baselines: choose d_model so the parameter count matches the CTM "
                             "this config would build with --architecture ctm")
    add_dataclass_flags(parser, TrainConfig, "train", "training")
    if task_name is not None:
        task = get_task(task_name)
        instance = task(task.Options())
        add_dataclass_flags(parser, task.Options, "options", f"{task_name} task options")
        add_dataclass_flags(parser, CTMConfig, "model", f"model (defaults for {task_name})",
                            instance.model_defaults())
    return parser


def _find_task(argv: Sequence[str]) -> str | None:
    """The task named on the command line, in --config, or in the run being resumed."""
    for i, arg in enumerate(argv):
        if arg in ("--config", "--resume") and i + 1 < len(argv):
            path = Path(argv[i + 1])
            path = path / "config.json" if arg == "--resume" else path
            if path.is_file():
                return json.loads(path.read_text()).get("task")
    positional = [a for a in argv if not a.startswith("-")]
    return positional[0] if positional and not argv[0].startswith("-") else None


def cmd_train(argv: Sequence[str]) -> int:
    from .tasks import TASKS, get_task
    from .train import RunConfig, Trainer

    task_name = _find_task(argv)
    if task_name is not None and task_name not in TASKS:
        raise UserError(f"unknown task {task_name!r}; available: {', '.join(sorted(TASKS))}")
    args = _train_parser(task_name).parse_args(argv)
    overrides = {s: collect(args, s) for s in ("options", "model", "train")}
    if args.resume is not None:
        if args.out is not None or args.config is not None:
            raise UserError("--resume continues a run in place: drop --out and --config")
        allowed = {"steps", "threads", "eval_every", "checkpoint_every", "log_every", "device",
                   "compile", "compile_mode", "checkpoint_ticks", "precision",
                   "data_workers"}
        changed = (set(overrides["options"]) | set(overrides["model"])
                   | set(overrides["train"]) - allowed)
        if changed:
            raise UserError(f"a resumed run keeps its config; cannot change "
                            f"{', '.join(sorted(changed))} (allowed: {', '.join(sorted(allowed))})")
        if not (args.resume / "config.json").is_file():
            raise UserError(f"{args.resume} is not a run directory (no config.json)")
        saved = RunConfig.read(args.resume / "config.json").to_dict()
        saved["train"].update(overrides["train"])
        run = RunConfig.from_dict(saved)
        trainer = Trainer(run, args.resume, resume=True, progress=not args.no_progress)
        run_dir = args.resume
    else:
        if args.out is None:
            raise UserError("say where the run goes: --out RUN_DIR")
        if args.config is not None:
            base = RunConfig.read(args.config).to_dict()
            if args.task and args.task != base["task"]:
                raise UserError(f"--config is a {base['task']} run, not {args.task}")
        elif args.task is None:
            raise UserError("name a task (see `ctm tasks`), or give --config or --resume")
        else:
            base = {"task": args.task, "options": {}, "model": {}, "train": {}}
            if overrides["train"].get("init_from"):
                # fine-tuning: the model is the source's unless flags change it
                base["model"] = _init_source_model(overrides["train"]["init_from"])
        for section in ("options", "model", "train"):
            base[section] = {**base[section], **overrides[section]}
        if args.config is not None and overrides["options"]:
            # new task options may change the sizes they fix (e.g. --length -> out_dims)
            task_cls = get_task(base["task"])
            fixed = task_cls(task_cls.Options(**base["options"])).model_requirements()
            base["model"] = {k: v for k, v in base["model"].items()
                             if k not in fixed or k in overrides["model"]}
        run = RunConfig.create(base["task"], base["options"], base["model"], base["train"])
        if args.match_ctm:
            run.model = _match_ctm(run.model)
        trainer = Trainer(run, args.out, progress=not args.no_progress)
        run_dir = args.out
    metrics = trainer.fit()
    if trainer.stopped_by is not None:
        return 128 + int(getattr(signal, trainer.stopped_by))
    print(trainer.task.summary(metrics))
    print(f"run directory: {run_dir}  (evaluate again with `ctm eval {run_dir}`)")
    return 0


def _init_source_model(source: str) -> dict:
    from .train.init_from import source_model_config

    try:
        return source_model_config(source).to_dict()
    except (FileNotFoundError, ValueError) as error:
        raise UserError(f"--init-from: {error}") from None


def _match_ctm(config: Any) -> Any:
    import dataclasses

    from .model.baselines import match_parameters, parameter_count

    if config.architecture == "ctm":
        raise UserError("--match-ctm sizes a baseline: add --architecture lstm or feedforward")
    target = parameter_count(dataclasses.replace(config, architecture="ctm"))
    matched = match_parameters(config, target)
    print(f"{config.architecture}: d_model {matched.d_model} gives "
          f"{parameter_count(matched):,} parameters (the CTM has {target:,})", file=sys.stderr)
    return matched


# --- ctm eval -------------------------------------------------------------------------------

def _run_or_model(text: str) -> Path:
    """A path, or `bundled:NAME` for a model shipped in the package."""
    from .bundled import PREFIX, bundled_dir

    if not text.startswith(PREFIX):
        return Path(text)
    try:
        return bundled_dir(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _is_bundled(path: Path) -> bool:
    from . import bundled

    return Path(str(path)).resolve().parent == Path(bundled.__file__).resolve().parent

def load_run(path: Path, task_name: str | None = None) -> tuple[Any, Any]:
    """(RunConfig, trained model) from a run directory (its final model, else its latest
    checkpoint) or from a saved model directory plus the task it was trained on."""
    from .model import load_model
    from .tasks import get_task
    from .train import RunConfig
    from .train.checkpoint import RUN_CONFIG
    from .train.init_from import source_model_dir

    # both hold a config.json: a run's names its task, a saved model's is the model config
    if (path / RUN_CONFIG).is_file() and "task" in json.loads((path / RUN_CONFIG).read_text()):
        run = RunConfig.read(path / RUN_CONFIG)
        try:
            return run, load_model(source_model_dir(path))
        except FileNotFoundError as error:
            raise UserError(str(error)) from None
    if (path / "model.safetensors").is_file():
        if task_name is None:
            raise UserError(f"{path} is a saved model, not a run: say which task it solves "
                            f"with --task")
        model = load_model(path)
        options = get_task(task_name).options_for_model(model.config)
        return RunConfig.create(task_name, options, model.config.to_dict(), {}), model
    raise UserError(f"{path} is neither a run directory nor a saved model")


def _apply_options(run: Any, assignments: list[str]) -> None:
    """Change task options (FIELD=VALUE) for one evaluation."""
    import dataclasses

    if assignments:
        changes = parse_assignments(type(run.options), assignments)
        run.options = dataclasses.replace(run.options, **changes)


def cmd_eval(args: argparse.Namespace) -> int:
    import dataclasses

    from .train.trainer import build_task

    _set_threads(args.threads)
    run, model = load_run(args.path, args.task)
    model.eval()
    _apply_options(run, args.option)
    if args.data is not None:
        if not hasattr(run.options, "eval_data"):
            raise UserError(f"the {run.task} task does not read data from disk (--data)")
        if not args.data.is_dir():
            raise UserError(f"--data {args.data} is not a folder")
        run.options = dataclasses.replace(run.options, eval_data=str(args.data))
    task = build_task(run)
    batch_size = args.batch_size or run.train.eval_batch_size
    seed = run.train.seed if args.seed is None else args.seed
    if batch_size < 1:
        raise UserError(f"--batch-size must be >= 1, got {batch_size}")
    if args.halt_at is not None or args.halt_sweep is not None:
        return _eval_halting(args, task, model, batch_size, seed)
    metrics = task.evaluate(model, task.eval_batches(batch_size, seed), "cpu")
    if not args.quick and args.data is None:
        metrics.update(task.final_evaluation(model, batch_size, seed, "cpu"))
    if args.temperature_scaling:
        metrics.update(_temperature_scaling(task, model, batch_size, seed))
    if args.json:
        print(json.dumps(metrics))
    else:
        print(task.summary(metrics))
        if args.temperature_scaling:
            print(f"temperature scaling (T = {metrics['temperature']:.3f}, fitted on the even "
                  f"held-out predictions): ECE on the odd ones "
                  f"{100 * metrics['ece_before_scaling']:.2f}% -> "
                  f"{100 * metrics['ece_temperature_scaled']:.2f}% at the most-certain tick")
    return 0


def _temperature_scaling(task: Any, model: Any, batch_size: int, seed: int) -> dict[str, float]:
    """Post-hoc temperature scaling for comparison: with no separate validation split, fit the
    temperature on every other held-out prediction and measure ECE on the rest."""
    from .analysis.calibration import fit_temperature, logits_at_certain_tick, scaled_ece

    logits, targets = logits_at_certain_tick(model, task.eval_batches(batch_size, seed))
    temperature = fit_temperature(logits[0::2], targets[0::2])
    return {"temperature": temperature,
            "ece_before_scaling": scaled_ece(logits[1::2], targets[1::2]),
            "ece_temperature_scaled": scaled_ece(logits[1::2], targets[1::2], temperature)}


def _eval_halting(args: argparse.Namespace, task: Any, model: Any, batch_size: int,
                  seed: int) -> int:
    """Early exit: metrics, mean ticks and model time at each threshold and for the full run."""
    from .inference import halting_sweep
    from .model import CTM

    if not isinstance(model, CTM):
        raise UserError(f"early exit needs a CTM, not a {model.config.architecture} model")
    thresholds = [args.halt_at] if args.halt_at is not None else list(args.halt_sweep)
    if any(not 0.0 <= t <= 1.0 for t in thresholds):
        raise UserError(f"certainty thresholds must be in [0, 1], got {thresholds}")
    rows = halting_sweep(lambda m: task.evaluate(m, task.eval_batches(batch_size, seed), "cpu"),
                         model, [None, *thresholds], repeats=args.repeats)
    full = rows[0]
    for row in rows:
        row["speedup"] = full["model_seconds"] / row["model_seconds"]
    if args.json:
        print(json.dumps(rows[1] if args.halt_at is not None else rows))
        return 0
    names = task.headline_metrics
    print(f"{'halt at':>8} " + " ".join(f"{n:>18}" for n in names)
          + f" {'mean ticks':>10} {'model s':>8} {'speed-up':>8}")
    for row in rows:
        label = "full" if row["halt_at"] is None else f"{row['halt_at']:.2f}"
        print(f"{label:>8} " + " ".join(f"{100 * row[n]:>17.2f}%" for n in names)
              + f" {row['mean_ticks']:>10.2f} {row['model_seconds']:>8.2f}"
              f" {row['speedup']:>7.2f}x")
    return 0


# --- ctm viz --------------------------------------------------------------------------------

def _default_sweep(ticks: int) -> list[int]:
    return sorted({max(1, round(ticks * f)) for f in (0.1, 0.25, 0.5, 0.75, 1.0, 1.5)})


def _reliability(task: Any, model: Any, batch_size: int, seed: int, path: Path) -> Path:
    """Reliability diagram of every output group's prediction at the most-certain tick."""
    from .analysis.calibration import (
        confidence_and_correct,
        logits_at_certain_tick,
        reliability_diagram,
    )

    logits, targets = logits_at_certain_tick(model, task.eval_batches(batch_size, seed))
    return reliability_diagram(*confidence_and_correct(logits, targets), path,
                               f"{task.name}: at the most-certain tick")


def cmd_viz(args: argparse.Namespace) -> int:
    from .analysis.figures import line_plot
    from .analysis.ticks import sweep_ticks
    from .files import write_json
    from .train.trainer import build_task

    _set_threads(args.threads)
    run, model = load_run(args.path, args.task)
    model.eval()
    _apply_options(run, args.option)
    task = build_task(run)
    out_dir = args.out or (Path(f"viz-{args.path.name}") if _is_bundled(args.path)
                           else args.path / "viz")
    if args.count < 1:
        raise UserError(f"--count must be >= 1, got {args.count}")
    ticks = args.ticks or _default_sweep(model.config.ticks)
    if min(ticks) < 1:
        raise UserError(f"--ticks must be positive, got {ticks}")
    batch_size, seed = run.train.eval_batch_size, run.train.seed
    print(f"evaluating at {', '.join(map(str, ticks))} ticks ...", file=sys.stderr)
    sweep = sweep_ticks(lambda m, b: task.evaluate(m, b, "cpu"), model,
                        lambda: task.eval_batches(batch_size, seed), ticks)
    write_json(out_dir / "ticks_sweep.json",
               {str(k): {m: v[m] for m in task.headline_metrics} for k, v in sweep.items()})
    written = [out_dir / "ticks_sweep.json", line_plot(
        ticks, {m: [sweep[k][m] for k in ticks] for m in task.headline_metrics},
        "ticks of thinking allowed", "held-out metric",
        f"{run.task}: trained with {model.config.ticks} ticks", out_dir / "ticks_sweep.png")]
    trained = sweep.get(model.config.ticks) or task.evaluate(
        model, task.eval_batches(batch_size, seed), "cpu")
    per_tick = {m: trained[f"{m}_per_tick"] for m in task.headline_metrics
                if f"{m}_per_tick" in trained}
    if per_tick:
        written.append(line_plot(
            list(range(1, len(next(iter(per_tick.values()))) + 1)), per_tick,
            "tick", "held-out metric at that tick",
            f"{run.task}: every tick of a {model.config.ticks}-tick run",
            out_dir / "metrics_per_tick.png"))
    written.append(_reliability(task, model, batch_size, seed, out_dir / "reliability.png"))
    written += task.visualise(model, out_dir, args.count, seed)
    for k in ticks:
        print(f"{k:>4} ticks: " + ", ".join(f"{m} {100 * sweep[k][m]:.2f}%"
                                            for m in task.headline_metrics))
    for path in written:
        print(f"wrote {path}")
    return 0


# --- ctm convert-original -------------------------------------------------------------------

def cmd_convert(args: argparse.Namespace) -> int:
    import torch
    from safetensors.torch import load_file

    from .model import CTM

    for path in (args.weights, args.config):
        if not path.is_file():
            raise UserError(f"{path} not found")
    try:
        kwargs = json.loads(args.config.read_text())
    except json.JSONDecodeError as error:
        raise UserError(f"{args.config} is not valid JSON: {error}") from None
    kwargs = kwargs.get("constructor", kwargs)  # accept our fixtures' layout too
    if args.weights.suffix == ".safetensors":
        state = load_file(args.weights)
    else:
        try:
            state = torch.load(args.weights, map_location="cpu", weights_only=True)
        except Exception as error:
            raise UserError(f"cannot read {args.weights} as a plain state dict "
                            f"(weights_only=True): {error}") from None
        state = state.get("model_state_dict", state) if isinstance(state, dict) else state
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UserError(f"{args.weights} does not hold a state dict of tensors")
    try:
        model = CTM.from_original(state, kwargs)
    except (KeyError, ValueError) as error:
        raise UserError(f"{args.weights} does not match {args.config}: {error}") from None
    model.save(args.out_dir)
    n = sum(p.numel() for p in model.parameters())
    print(f"wrote {args.out_dir} ({n:,} parameters); load it with CTM.load({str(args.out_dir)!r})")
    return 0


# --- ctm bench ------------------------------------------------------------------------------

def cmd_bench(args: argparse.Namespace) -> int:
    from .bench import DEFAULT, SPECS, Options, matmul_peak_gflops, peak_source, run_bench
    from .train.config import COMPILE_MODES

    names = args.names or list(DEFAULT)
    unknown = [n for n in names if n not in SPECS]
    if unknown:
        raise UserError(f"unknown benchmark(s) {', '.join(unknown)}; available: "
                        f"{', '.join(SPECS)}")
    if args.steps < 1 or args.threads < 1 or args.warmup < 1:
        raise UserError("--steps, --warmup and --threads must be >= 1")
    options = Options(steps=args.steps, warmup=args.warmup, threads=args.threads,
                      device=args.device, compile=args.compile or args.compile_mode != "default",
                      compile_mode=args.compile_mode,
                      checkpoint_ticks=args.checkpoint_ticks, precision=args.precision)
    if args.compile_mode not in COMPILE_MODES:
        raise UserError(f"--compile-mode must be one of {', '.join(COMPILE_MODES)}")
    if args.precision == "bf16" and args.device == "cpu":
        raise UserError("--precision bf16 is for CUDA devices")
    peak = matmul_peak_gflops(args.threads, device=args.device, precision=args.precision)
    if not args.json:
        print(f"{'config':<11} {'step s':>7} {'min/max s':>13} {'infer s':>8} {'samples/s':>9}"
              f" {'peak MB':>8} {'GFLOP/s':>8} {'of peak':>7} {'ref step s':>10} "
              f"{'speed-up':>8} {'rounds':>11} {'infer x':>7}")
    rounds = 0
    for name in names:
        row = run_bench(name, options, peak)
        rounds = row["rounds"]
        if args.json:
            print(json.dumps(row), flush=True)
            continue
        share = f"{100 * row['fraction_of_peak']:.1f}%" if "fraction_of_peak" in row else "-"
        print(f"{name:<11} {row['median_s']:>7.3f} {row['min_s']:>6.3f}/{row['max_s']:<6.3f} "
              f"{row['inference_median_s']:>8.3f} {row['samples_per_s']:>9.1f} "
              f"{row['peak_mem_mb']:>8.0f} {row['achieved_gflops']:>8.1f} {share:>7} "
              f"{row['reference_median_s']:>10.3f} {row['speedup']:>7.2f}x "
              f"{row['speedup_min']:>5.2f}-{row['speedup_max']:<5.2f} "
              f"{row['inference_speedup']:>6.2f}x", flush=True)
    if not args.json:
        print(f"peak: {peak:.1f} GFLOP/s, the {peak_source(options)}; speed-up: the "
              f"median of {rounds} alternating rounds' ratios (rounds: their range)")
    return 0


# --- entry point ----------------------------------------------------------------------------

def _main_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ctm", description="Continuous Thought Machines.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.add_parser("tasks", help="list the tasks")
    sub.add_parser("train", help="train a CTM (ctm train TASK --out RUN_DIR; --help for flags)",
                   add_help=False)
    p = sub.add_parser("eval", help="evaluate a run's model on held-out data")
    p.add_argument("path", type=_run_or_model, metavar="RUN_OR_MODEL",
                   help="a run directory, a saved model directory (with --task), or a model "
                        "shipped with ctm: bundled:maze15")
    p.add_argument("--task", help="the task a bare saved model was trained on")
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
    p.add_argument("--batch-size", type=int, default=0,
                   help="evaluation batch size (default: the run's eval_batch_size)")
    p.add_argument("--option", action="append", metavar="FIELD=VALUE", default=[],
                   help="change a task option for this evaluation, e.g. eval_size=1000 or "
                        "larger_sizes=19,31 (repeatable)")
    p.add_argument("--repeats", type=int, default=3,
                   help="early exit: passes over the data to time (median; default 3)")
    p.add_argument("--seed", type=int, metavar="N",
                   help="held-out data generated from seed N instead of the run's own seed, "
                        "to score models trained with different seeds on the same examples")
    _add_threads(p)
    p = sub.add_parser("viz", help="pictures of a model thinking, and metrics against ticks")
    p.add_argument("path", type=_run_or_model, metavar="RUN_OR_MODEL",
                   help="a run directory, a saved model directory (with --task), or a model "
                        "shipped with ctm: bundled:maze15")
    p.add_argument("--task", help="the task a bare saved model was trained on")
    p.add_argument("--out", type=Path, help="output folder (default: RUN_OR_MODEL/viz; for a "
                   "bundled model ./viz-NAME)")
    p.add_argument("--count", type=int, default=3, help="examples to draw (default 3)")
    p.add_argument("--option", action="append", metavar="FIELD=VALUE", default=[],
                   help="change a task option, e.g. eval_size=200 (repeatable)")
    p.add_argument("--ticks", type=parse_int_tuple, metavar="INTS",
                   help="tick budgets to evaluate, e.g. 5,10,20 (default: 10%%..150%% of the "
                        "trained budget)")
    _add_threads(p)
    p = sub.add_parser("convert-original",
                       help="convert a checkpoint of the original research code")
    p.add_argument("weights", type=Path, help=".pt state dict or .safetensors")
    p.add_argument("config", type=Path, help="JSON of the original constructor's arguments")
    p.add_argument("out_dir", type=Path)
    p = sub.add_parser("bench", help="time training steps against the reference")
    p.add_argument("names", nargs="*",
                   help="parity16, maze15, cifar32 (the default), maze-large (only when named)")
    p.add_argument("--json", action="store_true", help="one JSON line per benchmark")
    p.add_argument("--steps", type=int, default=10, help="timed steps (default 10)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first (default 2)")
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--compile", action="store_true",
                   help="fast model: torch.compile each tick (first_step_s holds the compile)")
    p.add_argument("--checkpoint-ticks", action="store_true",
                   help="fast model: activation checkpointing per tick")
    p.add_argument("--compile-mode", default="default", metavar="MODE",
                   help="torch.compile mode (implies --compile): default, reduce-overhead (each "
                        "tick replayed as a CUDA graph), max-autotune, "
                        "max-autotune-no-cudagraphs")
    p.add_argument("--precision", choices=("float32", "bf16"), default="float32",
                   help="bf16: autocast on CUDA, both implementations (default float32)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] == "train":
            return cmd_train(argv[1:])
        args = _main_parser().parse_args(argv)
        commands = {"tasks": cmd_tasks, "eval": cmd_eval, "viz": cmd_viz,
                    "convert-original": cmd_convert, "bench": cmd_bench}
        if args.command is None:
            _main_parser().print_help()
            return 2
        return commands[args.command](args)
    except UserError as error:
        print(f"ctm: error: {error}", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError, FileExistsError) as error:
        print(f"ctm: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ctm: interrupted; resume a training run with `ctm train --resume RUN_DIR`",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
