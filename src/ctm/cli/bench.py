"""`ctm bench`: training-step time of the model against the reference implementation."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from ..flags import add_dataclass_flags, collect
from .common import Parser, UserError

HELP = "time training steps against the reference, or on 1 and 2 processes (--distributed)"


def build_parser() -> Parser:
    from ..bench import Options

    p = Parser(prog="ctm bench", description=HELP)
    p.add_argument("names", nargs="*",
                   help="parity16, maze15, cifar32 (the default), maze-large (only when named)")
    p.add_argument("--json", action="store_true", help="one JSON line per benchmark")
    add_dataclass_flags(p, Options, "bench", "how to measure", Options(compile="auto"))
    g = p.add_argument_group("--growth: step time against ticks, batch, d_model and memory "
                             "length, each varied alone from one configuration")
    g.add_argument("--growth", action="store_true",
                   help="time the first named configuration (default parity16) with each "
                        "factor varied; print fitted exponents and the per-step overhead")
    g.add_argument("--factors", default="ticks,batch,d_model,memory_length", metavar="F,F",
                   help="with --growth: which factors to vary (default all four: ticks, batch, "
                        "d_model, memory_length)")
    g.add_argument("--plot", metavar="FILE.png", default="",
                   help="with --growth: also draw the step times and fits to this file")
    d = p.add_argument_group("--distributed: training steps/s on 1, 2, ... processes "
                             "(torchrun), the same global batch, the --threads shared out")
    d.add_argument("--distributed", action="store_true",
                   help="time `ctm train TASK` on each --processes count")
    d.add_argument("--processes", default="1,2", metavar="N,N",
                   help="process counts (default 1,2)")
    d.add_argument("--task", default="parity", help="task to train (default parity)")
    d.add_argument("--batch-size", type=int, default=64, help="global batch (default 64)")
    d.add_argument("--strategy", choices=("ddp", "fsdp"), default="ddp",
                   help="how processes share the model (default ddp)")
    return p


def distributed(args: object, o: object) -> int:
    from ..tasks import TASKS
    from ..train.scaling import time_training

    try:
        counts = [int(c) for c in args.processes.split(",")]
    except ValueError:
        raise UserError(f"--processes takes counts like 1,2, got {args.processes!r}") from None
    if not counts or min(counts) < 1 or max(counts) > o.threads:
        raise UserError(f"--processes must be between 1 and --threads ({o.threads}): each "
                        f"process gets at least one core")
    if args.task not in TASKS:
        raise UserError(f"unknown task {args.task!r}; available: {', '.join(sorted(TASKS))}")
    skip = o.warmup
    if o.device != "cpu":
        raise UserError("--distributed times CPU processes here; on GPUs run torchrun yourself")
    rows = []
    for count in counts:
        rows.append(time_training(args.task, count, o.threads, o.steps + skip,
                                  args.batch_size, skip, args.strategy))
        if args.json:
            print(json.dumps({**rows[-1], "speedup": rows[-1]["steps_per_s"]
                              / rows[0]["steps_per_s"]}), flush=True)
    if not args.json:
        print(f"{'processes':>9} {'threads each':>12} {'steps/s':>8} {'samples/s':>9} "
              f"{'speed-up':>8}")
        for row in rows:
            print(f"{row['processes']:>9} {row['threads_each']:>12} {row['steps_per_s']:>8.2f} "
                  f"{row['samples_per_s']:>9.1f} "
                  f"{row['steps_per_s'] / rows[0]['steps_per_s']:>7.2f}x")
        print(f"{args.task}, global batch {args.batch_size}, {o.steps} timed steps after "
              f"{skip}; speed-up against {counts[0]} process(es)")
    return 0


def growth(args: object, options: object) -> int:
    import sys

    from ..bench.growth import FACTORS, plot, table
    from ..bench.growth import growth as measure

    if len(args.names) > 1:
        raise UserError("--growth varies one configuration: name at most one")
    if args.plot and not args.plot.endswith(".png"):
        raise UserError(f"--plot writes a PNG file: give a name ending in .png, got "
                        f"{args.plot!r}")
    if args.plot and Path(args.plot).is_dir():
        raise UserError(f"--plot {args.plot} is a folder: give a file name")
    factors = [f.strip() for f in args.factors.split(",") if f.strip()]
    unknown = [f for f in factors if f not in FACTORS]
    if not factors or unknown:
        raise UserError(f"--factors takes names from {', '.join(FACTORS)}, got "
                        f"{args.factors!r}")
    result = measure(args.names[0] if args.names else "parity16", options,
                     factors={f: FACTORS[f] for f in factors},
                     report=lambda line: print(line, file=sys.stderr, flush=True))
    if args.plot:
        result["plot"] = str(plot(result, args.plot))
    print(json.dumps(result) if args.json else table(result), flush=True)
    if args.plot and not args.json:
        print(f"plot: {result['plot']}")
    return 0


def _scope(given: dict, growth: bool, device: str) -> str:
    """What --compile means for this benchmark: `auto` made concrete as `ctm train` would for
    a run long enough to repay compiling (said on stderr), eager for --growth."""
    import sys

    import torch

    from ..train.compiled import AUTO_THOUGHT_MIN_STEPS, resolve_compile

    if given.get("compile", "auto") != "auto":
        return given["compile"]
    if given.get("compile_mode", "default") != "default":  # a compile mode alone: compiled ticks
        return "tick"
    if growth:
        return "off"
    scope, _ = resolve_compile("auto", "ctm", torch.device(device), AUTO_THOUGHT_MIN_STEPS)
    if scope != "off":
        print(f"ctm bench: --compile auto times the path long training runs take here: "
              f"--compile {scope} (the first step compiles; --compile off times eager)",
              file=sys.stderr, flush=True)
    return scope


def main(argv: list[str]) -> int:
    from ..bench import DEFAULT, SPECS, Options, matmul_peak_gflops, peak_source, run_bench
    from ..device import check_device

    args = build_parser().parse_args(argv)
    given = collect(args, "bench")
    try:
        measured = Options(**{**given, "compile": given.get("compile", "auto")})
    except ValueError as error:
        raise UserError(str(error)) from None
    check_device(measured.device)
    if args.distributed:
        return distributed(args, measured)

    names = args.names or list(DEFAULT)
    unknown = [n for n in names if n not in SPECS]
    if unknown:
        raise UserError(f"unknown benchmark(s) {', '.join(unknown)}; available: "
                        f"{', '.join(SPECS)}")
    if args.plot and not args.growth:
        raise UserError("--plot draws the --growth sweep: add --growth")
    options = dataclasses.replace(measured, compile=_scope(given, args.growth,
                                                            measured.device))
    if args.growth:
        return growth(args, options)
    peak = matmul_peak_gflops(options.threads, device=options.device,
                              precision=options.precision)
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
