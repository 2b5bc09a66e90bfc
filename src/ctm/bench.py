"""`ctm bench`: time a training step (forward, backward, AdamW) of the fast model against the
literal reference implementation, with the same weights, in the same run.

Each measurement runs in a fresh process, so peak memory is that implementation's alone: on CPU
it is the growth of peak resident memory over the process's size before the model was built; on
CUDA it is `torch.cuda.max_memory_allocated`.
"""

from __future__ import annotations

import multiprocessing
import resource
import statistics
import time
from dataclasses import dataclass
from typing import Any

import torch

from .losses import curriculum_mask, grouped_logits, per_tick_cross_entropy, two_tick_loss
from .model import CTM, CTMConfig
from .model.original import state_dict_to_original
from .model.reference import ReferenceCTM


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
    return {
        "parity16": BenchSpec("parity16", 64, (16,), parity),
        "maze15": BenchSpec("maze15", 16, (3, 15, 15), maze, curriculum=True),
        "cifar32": BenchSpec("cifar32", 32, (3, 32, 32), cifar),
    }


SPECS = _specs()


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


def measure(spec: BenchSpec, implementation: str, steps: int = 10, warmup: int = 2,
            threads: int = 2, device: str = "cpu") -> dict[str, Any]:
    """Seconds per training step of one implementation ('fast' or 'reference')."""
    torch.set_num_threads(threads)
    before = _rss_mb()
    fast, reference = build_pair(spec.model)
    model = (fast if implementation == "fast" else reference).to(device)
    del fast, reference
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x, y = (t.to(device) for t in make_batch(spec, torch.Generator().manual_seed(0)))
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    times = []
    for i in range(warmup + steps):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        out = model(x)
        logits = grouped_logits(out.logits, spec.model.out_groups_shape)
        mask = curriculum_mask(logits, y) if spec.curriculum else None
        loss = two_tick_loss(per_tick_cross_entropy(logits, y, mask), out.certainty).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    if device.startswith("cuda"):
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times),
            "peak_mem_mb": round(peak, 1), "steps": steps}


def _child(spec_name: str, implementation: str, steps: int, warmup: int, threads: int,
           device: str, queue: Any) -> None:
    try:
        queue.put(measure(SPECS[spec_name], implementation, steps, warmup, threads, device))
    except BaseException as error:  # reported to the parent, which raises it
        queue.put({"error": f"{type(error).__name__}: {error}"})


def measure_isolated(spec_name: str, implementation: str, steps: int, warmup: int,
                     threads: int, device: str) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(spec_name, implementation, steps, warmup,
                                                   threads, device, queue))
    process.start()
    result = queue.get()
    process.join()
    if "error" in result:
        raise RuntimeError(f"{spec_name}/{implementation}: {result['error']}")
    return result


def run_bench(name: str, steps: int = 10, warmup: int = 2, threads: int = 2,
              device: str = "cpu") -> dict[str, Any]:
    """One JSON-ready row: the fast model's step times and memory, the reference's median,
    and the speed-up, all measured now."""
    if name not in SPECS:
        raise ValueError(f"unknown benchmark {name!r}; available: {', '.join(SPECS)}")
    fast = measure_isolated(name, "fast", steps, warmup, threads, device)
    reference = measure_isolated(name, "reference", steps, warmup, threads, device)
    return {"config": name, **fast,
            "reference_median_s": reference["median_s"],
            "reference_peak_mem_mb": reference["peak_mem_mb"],
            "speedup": reference["median_s"] / fast["median_s"],
            "threads": threads, "device": device, "dtype": "float32",
            "batch": SPECS[name].batch, "ticks": SPECS[name].model.ticks}
