"""The whole thought compiled (forward over every tick, certainty and loss as one graph, and
its backward) against eager, on CUDA, for benchmark configurations:

    python scripts/gpu/compiled_check.py [--bf16] [--mode MODE] [CONFIG ...]

One JSON line per configuration: the largest relative difference of the logits, the
certainties, the loss and the worst parameter gradient, and whether both chose the same ticks
for the loss (where they do not, gradients differ by construction, not by error).
"""

from __future__ import annotations

import argparse
import contextlib
import json

import torch

from ctm.bench import SPECS, build_pair, make_batch, spec_loss
from ctm.losses import grouped_logits, per_tick_cross_entropy


def relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a.float() - b.float()).abs().max() / b.float().abs().max().clamp(min=1e-12)).item()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("configs", nargs="*", default=["parity16", "maze15", "cifar32"])
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--mode", default="default")
    args = parser.parse_args()
    for name in args.configs:
        spec = SPECS[name]
        torch.manual_seed(0)
        eager, _ = build_pair(spec.model)
        compiled, _ = build_pair(spec.model)
        eager, compiled = eager.cuda(), compiled.cuda()
        x, y = (t.cuda() for t in make_batch(spec, torch.Generator().manual_seed(0)))

        def forward(model, x, y, spec=spec):
            out = model(x)
            per_tick = per_tick_cross_entropy(
                grouped_logits(out.logits, spec.model.out_groups_shape), y)
            return out.logits, out.certainty, per_tick, spec_loss(spec, out, y)

        fast = torch.compile(forward, mode=args.mode, dynamic=False)
        autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if args.bf16
                    else contextlib.nullcontext())
        with autocast:
            want = forward(eager, x, y)
            got = fast(compiled, x, y)
        want[3].backward()
        got[3].backward()
        same_ticks = (torch.equal(want[2].argmin(1), got[2].argmin(1))
                      and torch.equal(want[1].argmax(1), got[1].argmax(1)))
        grads = max(relative(b.grad, a.grad) for a, b in
                    zip(eager.parameters(), compiled.parameters(), strict=True)
                    if a.grad is not None)
        print(json.dumps({"config": name, "precision": "bf16" if args.bf16 else "float32",
                          "mode": args.mode, "logits": relative(got[0], want[0]),
                          "certainty": relative(got[1], want[1]),
                          "loss": relative(got[3], want[3]), "grads": grads,
                          "same_ticks": same_ticks}), flush=True)


if __name__ == "__main__":
    main()
