"""`ctm bench`: time a training step (forward, backward, AdamW) of the fast model against the
literal reference implementation, with the same weights, in the same run. Each steps with
the AdamW its own code trains with: ctm's fused one (`ctm.optimizer`) and torch's default for
the reference, as the original research code uses.

Times come from one process holding both models, timing them in alternating rounds, so a slow
spell of a shared machine falls on both alike; the speed-up is the median of the rounds'
ratios. Peak memory and the first step (which holds any compile) come from a fresh process per
implementation, so each is that implementation's alone: on CPU the growth of peak resident
memory over the process's size before the model was built; on CUDA
`torch.cuda.max_memory_allocated`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from ..compilation import COMPILE_MODES, use_persistent_cache
from ..losses import curriculum_mask, grouped_logits, per_tick_cross_entropy, two_tick_loss
from ..model import CTM, CTMConfig, CTMOutput
from ..model.original import state_dict_to_original
from ..model.reference import ReferenceCTM
from ..optimizer import adamw
from ..precision import precision_context


@dataclass
class BenchSpec:
    name: str
    batch: int
    input_shape: tuple[int, ...]  # one sample's input
    model: CTMConfig
    curriculum: bool = False  # maze-style loss


def _specs() -> dict[str, BenchSpec]:
    parity = CTMConfig(d_model=256, d_input=64, heads=4, ticks=25, memory_length=10,
                       synapse_depth=1, deep_nlm=True, nlm_hidden=16, pairing="semi-dense",
                       n_sync_out=32, n_sync_action=32, out_dims=32, out_shape=(16, 2),
                       backbone="parity", positional_embedding="rotational-1d")
    maze = CTMConfig(d_model=512, d_input=128, heads=4, ticks=50, memory_length=25,
                     synapse_depth=4, deep_nlm=True, nlm_hidden=32, pairing="random-pairing",
                     n_sync_out=128, n_sync_action=128, out_dims=250, out_shape=(50, 5),
                     backbone="resnet18-1")
    cifar = CTMConfig(d_model=256, d_input=64, heads=16, ticks=50, memory_length=15,
                      synapse_depth=5, deep_nlm=True, nlm_hidden=64, pairing="random-pairing",
                      n_sync_out=256, n_sync_action=512, out_dims=10, out_shape=(-1,),
                      backbone="resnet18-1")
    # approximates the paper's maze model: 39×39 mazes, routes of 100 moves
    large = CTMConfig(d_model=2048, d_input=512, heads=16, ticks=75, memory_length=25,
                      synapse_depth=8, deep_nlm=True, nlm_hidden=32, pairing="random-pairing",
                      n_sync_out=32, n_sync_action=32, out_dims=500, out_shape=(100, 5),
                      backbone="resnet34-2")
    return {
        "parity16": BenchSpec("parity16", 64, (16,), parity),
        "maze15": BenchSpec("maze15", 16, (3, 15, 15), maze, curriculum=True),
        "cifar32": BenchSpec("cifar32", 32, (3, 32, 32), cifar),
        "maze-large": BenchSpec("maze-large", 16, (3, 39, 39), large, curriculum=True),
    }


SPECS = _specs()
DEFAULT = ("parity16", "maze15", "cifar32")  # maze-large runs only when named


def make_batch(spec: BenchSpec, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    groups = spec.model.out_groups_shape
    n_groups = spec.model.out_dims // groups[-1]
    if spec.model.backbone == "parity":
        x = (torch.randint(0, 2, (spec.batch, *spec.input_shape), generator=generator) * 2 - 1)
        x = x.float()
    else:
        x = torch.rand((spec.batch, *spec.input_shape), generator=generator)
    y = torch.randint(0, groups[-1], (spec.batch, n_groups), generator=generator)
    return x, y


def build_pair(config: CTMConfig, seed: int = 0) -> tuple[CTM, ReferenceCTM]:
    """The fast model and the reference holding the same weights."""
    torch.manual_seed(seed)
    fast = CTM(config)
    reference = ReferenceCTM(config)
    reference.load_state_dict(state_dict_to_original(fast.state_dict(), config))
    return fast, reference


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() / 2**20


@dataclass
class Options:
    """How to measure: the same for both implementations except where noted. `ctm bench`'s
    flags are these fields (their comments are the help)."""

    steps: int = 10  # timed steps
    warmup: int = 2  # untimed steps first
    threads: int = 2  # torch threads
    device: str = "cpu"  # cpu or cuda
    # the fast model: eager (off), torch.compile each tick (tick), or the whole thought with
    # its loss (thought); first_step_s holds the compile. `ctm bench` defaults to auto: the
    # path `ctm train` takes for a long run on this device (thought on a CPU, off on a GPU;
    # --growth, which would compile every swept shape anew, times eager)
    compile: str = "off"
    # torch.compile mode (reduce-overhead: each tick replayed as a CUDA graph); on its own it
    # means --compile tick
    compile_mode: str = "default"
    checkpoint_ticks: bool = False  # the fast model: activation checkpointing per tick
    # bf16: autocast, both implementations; on a CPU it pays only with --compile thought
    precision: str = "float32"

    @staticmethod
    def choices() -> dict[str, tuple[str, ...]]:
        return {"compile": (*COMPILE_SCOPES, "auto"), "precision": ("float32", "bf16"),
                "compile_mode": COMPILE_MODES}

    @classmethod
    def field_choices(cls) -> dict[str, str]:
        return {name: ", ".join(allowed) for name, allowed in cls.choices().items()}

    def __post_init__(self) -> None:
        for name in ("steps", "warmup", "threads"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name} must be >= 1, got {getattr(self, name)}")
        for name, allowed in self.choices().items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"--{name.replace('_', '-')} must be one of "
                                 f"{', '.join(allowed)}, got {getattr(self, name)!r}")


def _autocast(o: Options) -> Any:
    return precision_context(o.precision, o.device)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def spec_loss(spec: BenchSpec, out: CTMOutput, y: torch.Tensor) -> torch.Tensor:
    """The training loss of a benchmark configuration: per-tick cross-entropy (with the maze
    curriculum where the task has one) at the lowest-loss and the most-certain tick."""
    logits = grouped_logits(out.logits, spec.model.out_groups_shape)
    mask = curriculum_mask(logits, y) if spec.curriculum else None
    return two_tick_loss(per_tick_cross_entropy(logits, y, mask), out.certainty).loss


LossFn = Callable[[torch.nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


def eager_loss(spec: BenchSpec) -> LossFn:
    def loss(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return spec_loss(spec, model(x), y)
    return loss


def _train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, spec: BenchSpec,
                x: torch.Tensor, y: torch.Tensor, autocast: Any = None,
                loss_fn: LossFn | None = None) -> None:
    with autocast or contextlib.nullcontext():
        loss = (loss_fn or eager_loss(spec))(model, x, y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def _timed(fn: Any, repeats: int, device: str) -> list[float]:
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return times


def step_flops(spec: BenchSpec) -> int:
    """Floating-point operations of one training step of the fast model (forward + backward;
    counted by torch's FlopCounterMode, which counts matrix products and convolutions)."""
    from torch.utils.flop_counter import FlopCounterMode

    torch.manual_seed(0)
    fast = CTM(spec.model)
    optimizer = optimizer_for("fast", fast)
    x, y = make_batch(spec, torch.Generator().manual_seed(0))
    counter = FlopCounterMode(display=False)
    with counter:
        _train_step(fast, optimizer, spec, x, y)
    return int(counter.get_total_flops())


def peak_matrix_size(device: str) -> int:
    """Side of the square matrices the peak is measured with: large enough to fill the
    device, small enough to be quick on a CPU."""
    return 2048 if device == "cpu" else 8192


PEAK_REPEATS = 5


def matmul_peak_gflops(threads: int, repeats: int = PEAK_REPEATS, device: str = "cpu",
                       precision: str = "float32") -> float:
    """The machine's peak as this benchmark takes it: the best of `repeats` square matrix
    products on random data, with the same thread count (CPU) or on the GPU, in float32 or
    bf16 (the dtype the benchmark's matrix products run in)."""
    torch.set_num_threads(threads)
    size = peak_matrix_size(device)
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    best = min(_timed(lambda: a @ b, repeats, device))
    return 2 * size**3 / best / 1e9


def peak_source(o: Options) -> str:
    size = peak_matrix_size(o.device)
    where = f"{o.threads} threads" if o.device == "cpu" else o.device
    return (f"best of {PEAK_REPEATS} {o.precision} {size}x{size} matrix products on random "
            f"data, {where}")


COMPILE_SCOPES = ("off", "tick", "thought")


def _configure_fast(model: CTM, spec: BenchSpec, o: Options) -> LossFn:
    """Checkpointed or compiled ticks, or the whole thought and its loss compiled, as the
    options ask (the fast model only); returns the training loss function to step with."""
    if o.compile not in COMPILE_SCOPES:
        raise ValueError(f"compile must be one of {', '.join(COMPILE_SCOPES)}, "
                         f"got {o.compile!r}")
    model.checkpoint_ticks = o.checkpoint_ticks
    if o.compile == "tick":
        model.compile_ticks(mode=o.compile_mode)
    if o.compile == "thought":
        use_persistent_cache()
        return torch.compile(eager_loss(spec), mode=o.compile_mode, dynamic=False)
    return eager_loss(spec)


def optimizer_for(implementation: str, model: torch.nn.Module) -> torch.optim.Optimizer:
    """The AdamW each implementation's own code trains with: ctm's fused one for the fast
    model, torch's default for the reference, as the original research code uses."""
    if implementation == "fast":
        return adamw(model.parameters(), lr=1e-4)
    return torch.optim.AdamW(model.parameters(), lr=1e-4)


def footprint(spec: BenchSpec, implementation: str, options: Options | None = None
              ) -> dict[str, float]:
    """The first training step's seconds (which include compiling, when asked) and the peak
    memory of training one implementation ('fast' or 'reference') for `warmup` steps. Only that
    implementation is built, so the peak holds no other model's weights."""
    o = options or Options()
    if implementation not in ("fast", "reference"):
        raise ValueError(f"implementation must be 'fast' or 'reference', got {implementation!r}")
    torch.set_num_threads(o.threads)
    before = _rss_mb()
    torch.manual_seed(0)
    model: torch.nn.Module
    if implementation == "fast":
        model = CTM(spec.model).to(o.device)
        loss_fn = _configure_fast(model, spec, o)
    else:
        model = ReferenceCTM(spec.model).to(o.device)
        loss_fn = eager_loss(spec)
    optimizer = optimizer_for(implementation, model)
    x, y = (t.to(o.device) for t in make_batch(spec, torch.Generator().manual_seed(0)))
    if o.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()

    def step() -> None:
        _train_step(model, optimizer, spec, x, y, _autocast(o), loss_fn)

    first = _timed(step, 1, o.device)[0]
    _timed(step, max(0, o.warmup - 1), o.device)
    if o.device.startswith("cuda"):
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        # peak resident memory ever, less the size before the model: meaningful in a fresh
        # process (as run_bench uses); clamped because the two readings round differently
        peak = max(0.0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before)
    return {"first_step_s": first, "peak_mem_mb": round(peak, 1)}


def _prepared(spec: BenchSpec, o: Options) -> dict[str, Any]:
    """Both models on the device with their optimisers, the fast one compiled or checkpointed
    as asked."""
    fast, reference = build_pair(spec.model)
    fast, reference = fast.to(o.device), reference.to(o.device)
    losses = {"fast": _configure_fast(fast, spec, o), "reference": eager_loss(spec)}
    return {name: (model, optimizer_for(name, model), losses[name])
            for name, model in (("fast", fast), ("reference", reference))}


def interleaved(spec: BenchSpec, options: Options | None = None, rounds: int = 5
                ) -> dict[str, Any]:
    """Training-step and inference seconds of both implementations, timed in `rounds`
    alternating rounds (fast first in even rounds, reference first in odd ones) after
    `warmup` untimed steps each; `steps` timed steps per implementation in all."""
    o = options or Options()
    torch.set_num_threads(o.threads)
    models = _prepared(spec, o)
    x, y = (t.to(o.device) for t in make_batch(spec, torch.Generator().manual_seed(0)))

    def step(name: str) -> None:
        model, optimizer, loss_fn = models[name]
        _train_step(model, optimizer, spec, x, y, _autocast(o), loss_fn)

    def infer(name: str) -> None:
        with torch.no_grad(), _autocast(o):
            models[name][0](x)

    for name in models:
        _timed(lambda n=name: step(n), o.warmup, o.device)
    rounds = max(1, min(rounds, o.steps))
    per_round = [o.steps // rounds + (r < o.steps % rounds) for r in range(rounds)]
    train: dict[str, list[list[float]]] = {"fast": [], "reference": []}
    infer_times: dict[str, list[list[float]]] = {"fast": [], "reference": []}
    for r, count in enumerate(per_round):
        order = ["fast", "reference"] if r % 2 == 0 else ["reference", "fast"]
        for name in order:
            models[name][0].train()
            train[name].append(_timed(lambda n=name: step(n), count, o.device))
        for name in order:
            models[name][0].eval()
            if r == 0:
                infer(name)  # untimed: the first no-grad call may compile
            infer_times[name].append(_timed(lambda n=name: infer(n), max(1, count // 2),
                                            o.device))
    ratios = [statistics.median(ref) / statistics.median(fast)
              for fast, ref in zip(train["fast"], train["reference"], strict=True)]
    inference_ratios = [statistics.median(ref) / statistics.median(fast)
                        for fast, ref in zip(infer_times["fast"], infer_times["reference"],
                                             strict=True)]
    flat = {name: [t for times in train[name] for t in times] for name in train}
    return {"median_s": statistics.median(flat["fast"]), "min_s": min(flat["fast"]),
            "max_s": max(flat["fast"]),
            "inference_median_s": statistics.median(
                [t for times in infer_times["fast"] for t in times]),
            "reference_median_s": statistics.median(flat["reference"]),
            "reference_inference_median_s": statistics.median(
                [t for times in infer_times["reference"] for t in times]),
            "speedup": statistics.median(ratios), "speedup_min": min(ratios),
            "speedup_max": max(ratios), "inference_speedup": statistics.median(inference_ratios),
            "rounds": rounds, "steps": o.steps}


def _child(function: Any, args: tuple, queue: Any) -> None:
    try:
        queue.put(function(*args))
    except BaseException as error:  # reported to the parent, which raises it
        queue.put({"error": f"{type(error).__name__}: {error}"})


def _in_fresh_process(function: Any, *args: Any) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(function, args, queue))
    process.start()
    result = queue.get()
    process.join()
    if "error" in result:
        raise RuntimeError(f"{args[0]}: {result['error']}")
    return result


def _footprint_named(name: str, implementation: str, options: Options) -> dict[str, Any]:
    return footprint(SPECS[name], implementation, options)


def _interleaved_named(name: str, options: Options) -> dict[str, Any]:
    return interleaved(SPECS[name], options)


def footprint_isolated(spec_name: str, implementation: str, options: Options) -> dict[str, Any]:
    return _in_fresh_process(_footprint_named, spec_name, implementation, options)


def run_bench(name: str, options: Options | None = None,
              peak_gflops: float | None = None) -> dict[str, Any]:
    """One JSON-ready row: the fast model's step, first-step (compile) and inference times,
    throughput, memory and achieved FLOP rate; the reference's; and the speed-up, all
    measured now (times interleaved in one process, memory in a fresh process each)."""
    o = options or Options()
    if name not in SPECS:
        raise ValueError(f"unknown benchmark {name!r}; available: {', '.join(SPECS)}")
    memory = dataclasses.replace(o, warmup=2)  # a second step: the optimiser's state exists
    fast = footprint_isolated(name, "fast", memory)
    reference = footprint_isolated(name, "reference", dataclasses.replace(
        memory, compile="off", checkpoint_ticks=False))
    times = _in_fresh_process(_interleaved_named, name, o)
    flops = step_flops(SPECS[name])
    row = {"config": name, **times, "first_step_s": fast["first_step_s"],
           "samples_per_s": SPECS[name].batch / times["median_s"],
           "peak_mem_mb": fast["peak_mem_mb"], "reference_peak_mem_mb": reference["peak_mem_mb"],
           "flops_per_step": flops, "achieved_gflops": flops / times["median_s"] / 1e9,
           "threads": o.threads, "device": o.device, "dtype": o.precision,
           "compile": o.compile,
           "compile_mode": o.compile_mode if o.compile != "off" else None,
           "checkpoint_ticks": o.checkpoint_ticks,
           "batch": SPECS[name].batch, "ticks": SPECS[name].model.ticks}
    if peak_gflops:
        row["peak_gflops"] = peak_gflops
        row["peak_source"] = peak_source(o)
        row["fraction_of_peak"] = row["achieved_gflops"] / peak_gflops
    return row
