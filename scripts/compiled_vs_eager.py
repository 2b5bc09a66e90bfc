"""The fast model's training step eager and with the whole thought compiled, in one process,
alternating in rounds, so that the machine's drift between commands does not enter the ratio.

    python scripts/compiled_vs_eager.py [parity16|maze15|cifar32] [--rounds N] [--threads N]

The compile is paid before timing (minutes with an empty cache, `~/.cache/ctm/inductor`).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from ctm.bench import SPECS, Options, _configure_fast, _train_step, make_batch
from ctm.model import CTM
from ctm.optimizer import adamw

SCOPES = ("off", "thought")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", default="cifar32", choices=sorted(SPECS))
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--steps-per-round", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    spec = SPECS[args.config]
    prepared = {}
    for scope in SCOPES:
        torch.manual_seed(0)
        model = CTM(spec.model)
        prepared[scope] = (model, adamw(model.parameters(), lr=1e-4),
                           _configure_fast(model, spec, Options(compile=scope)))
    x, y = make_batch(spec, torch.Generator().manual_seed(0))

    def step(scope: str) -> float:
        model, optimizer, loss_fn = prepared[scope]
        start = time.perf_counter()
        _train_step(model, optimizer, spec, x, y, None, loss_fn)
        return time.perf_counter() - start

    for scope in SCOPES:
        print(f"{scope}: first step {step(scope):.1f} s", flush=True)
        step(scope)
        step(scope)
    times: dict[str, list[float]] = {scope: [] for scope in SCOPES}
    for r in range(args.rounds):
        for scope in SCOPES if r % 2 == 0 else SCOPES[::-1]:
            times[scope] += [step(scope) for _ in range(args.steps_per_round)]
    median = {scope: statistics.median(t) for scope, t in times.items()}
    print(f"{args.config}, {args.threads} threads, median of {len(times['off'])} steps each: "
          f"eager {median['off']:.3f} s, compiled thought {median['thought']:.3f} s, "
          f"{median['off'] / median['thought']:.2f}x")


if __name__ == "__main__":
    main()
