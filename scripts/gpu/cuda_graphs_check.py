"""Ticks compiled with CUDA graphs (torch.compile mode="reduce-overhead") against eager ticks.

    python scripts/gpu/cuda_graphs_check.py [CONFIG ...]    (default: maze15 parity16 cifar32)

For each benchmark configuration, on CUDA in float32: relative error of the logits and the worst
parameter gradient against the eager fast model on the same weights and batch, then the median
training step (forward, backward, AdamW) over 10 steps and the median inference time. Run one
configuration per process when timing all three: dynamo's recompile limit (8) is shared by
every model in a process, and past it the tick silently falls back to eager.
"""

from __future__ import annotations

import statistics
import sys

import torch

from ctm.bench import SPECS, _timed, _train_step, build_pair, make_batch, spec_loss


def logits_and_grads(model, spec, x, y):
    model.zero_grad(set_to_none=True)
    out = model(x)
    spec_loss(spec, out, y).backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return out.logits.detach().clone(), grads


def relative(a, b):
    return ((a - b).norm() / b.norm().clamp_min(1e-30)).item()


def timed(fn, repeats):
    return statistics.median(_timed(fn, repeats, "cuda"))


def check(name: str) -> None:
    spec = SPECS[name]
    eager, _ = build_pair(spec.model)
    graphed, _ = build_pair(spec.model)
    eager.cuda()
    graphed.cuda()
    graphed.compile_ticks(mode="reduce-overhead")
    x, y = (t.cuda() for t in make_batch(spec, torch.Generator().manual_seed(1)))
    eager_logits, eager_grads = logits_and_grads(eager, spec, x, y)
    for _ in range(3):  # compile, record, replay
        logits, grads = logits_and_grads(graphed, spec, x, y)
    worst = max(relative(grads[n], g) for n, g in eager_grads.items())
    print(f"{name}: training logits rel. error {relative(logits, eager_logits):.1e}, "
          f"worst gradient {worst:.1e}", flush=True)
    optimizer = torch.optim.AdamW(graphed.parameters(), lr=1e-4)
    timed(lambda: _train_step(graphed, optimizer, spec, x, y), 2)
    step = timed(lambda: _train_step(graphed, optimizer, spec, x, y), 10)
    graphed.eval()
    eager.load_state_dict(graphed.state_dict())
    eager.eval()
    with torch.no_grad():
        for _ in range(3):
            logits = graphed(x).logits
        error = relative(logits, eager(x).logits)
        inference = timed(lambda: graphed(x), 6)
    print(f"{name}: inference logits rel. error {error:.1e}; step {step:.4f} s, "
          f"inference {inference:.4f} s", flush=True)


if __name__ == "__main__":
    for config in sys.argv[1:] or ["maze15", "parity16", "cifar32"]:
        check(config)
