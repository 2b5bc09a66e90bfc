"""The fast model's training step eager and with the whole thought compiled, in one process,
alternating in rounds, so that the machine's drift between commands does not enter the ratio.

    python scripts/compiled_vs_eager.py [parity16|maze15|cifar32] [--rounds N] [--threads N]

The compile is paid before timing (minutes with an empty cache, `~/.cache/ctm/inductor`).
"""

from __future__ import annotations

import argparse
import statistics

import torch

from ctm.bench import (
    SPECS,
    Options,
    _configure_fast,
    _timed,
    _train_step,
    make_batch,
    optimizer_for,
)
from ctm.model import CTM

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
        prepared[scope] = (model, optimizer_for("fast", model),
                           _configure_fast(model, spec, Options(compile=scope)))
    x, y = make_batch(spec, torch.Generator().manual_seed(0))

    def steps(scope: str, count: int) -> list[float]:
        model, optimizer, loss_fn = prepared[scope]
        return _timed(lambda: _train_step(model, optimizer, spec, x, y, None, loss_fn), count,
                      "cpu")

    for scope in SCOPES:
        print(f"{scope}: first step {steps(scope, 1)[0]:.1f} s", flush=True)
        steps(scope, 2)
    times: dict[str, list[float]] = {scope: [] for scope in SCOPES}
    for r in range(args.rounds):
        for scope in SCOPES if r % 2 == 0 else SCOPES[::-1]:
            times[scope] += steps(scope, args.steps_per_round)
    median = {scope: statistics.median(t) for scope, t in times.items()}
    print(f"{args.config}, {args.threads} threads, median of {len(times['off'])} steps each: "
          f"eager {median['off']:.3f} s, compiled thought {median['thought']:.3f} s, "
          f"{median['off'] / median['thought']:.2f}x")


if __name__ == "__main__":
    main()
