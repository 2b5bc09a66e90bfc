"""Time one AdamW update of a benchmark configuration's fast model with each of torch's
kernels: the default (a Python loop over parameters on a CPU), foreach and fused (what ctm
trains with on one process), and gradient clipping beside them for scale.

    python scripts/adamw_kernels.py [parity16|maze15|cifar32] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics

import torch

from ctm.bench import SPECS, _timed, eager_loss, make_batch
from ctm.model import CTM


def median_ms(fn, repeats: int = 30) -> float:
    _timed(fn, 3, "cpu")  # warm-up
    return 1000 * statistics.median(_timed(fn, repeats, "cpu"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", default="parity16", choices=sorted(SPECS))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    spec = SPECS[args.config]
    torch.manual_seed(0)
    model = CTM(spec.model)
    x, y = make_batch(spec, torch.Generator().manual_seed(0))
    eager_loss(spec)(model, x, y).backward()
    params = list(model.parameters())
    print(f"{args.config}: {sum(p.numel() for p in params):,} parameters in {len(params)} "
          f"tensors, {args.threads} threads")
    for kernel in ("default", "foreach", "fused"):
        options = {} if kernel == "default" else {kernel: True}
        optimizer = torch.optim.AdamW(params, lr=1e-4, **options)
        print(f"  AdamW {kernel:<8} {median_ms(optimizer.step):6.2f} ms")
    clip = median_ms(lambda: torch.nn.utils.clip_grad_norm_(params, 1.0))
    print(f"  clip_grad_norm_  {clip:6.2f} ms")


if __name__ == "__main__":
    main()
