"""How many held-out examples the training stream also produces (up to rotation and mirroring,
for mazes, which training augments).

    python scripts/held_out_overlap.py parity --length 8 --steps 1500 --batch-size 64
    python scripts/held_out_overlap.py maze --size 7 --route-length 8 --steps 600 --batch-size 32
    python scripts/held_out_overlap.py maze --size 15 --steps 2000 --batch-size 64 --eval-size 1000

With --unpartitioned it measures the streams as they were before the held-out partition
(tasks/held_out.py): training and evaluation both drawn from the whole space, apart only by
seed. The numbers go into docs/results.md.
"""

from __future__ import annotations

import argparse
import sys

from ctm.run import RunConfig, build_task
from ctm.tasks.held_out import maze_key
from ctm.tasks.maze import MazeTask
from ctm.tasks.parity import ParityTask


def keys(task_name: str, batch) -> list[bytes]:  # noqa: ANN001
    if task_name == "maze":
        return [maze_key(m.open, m.start, m.goal) for m in batch.mazes]
    return [row.numpy().tobytes() for row in (batch.inputs > 0)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", choices=("parity", "maze"))
    parser.add_argument("--steps", type=int, required=True, help="training steps to scan")
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--length", type=int, help="parity: sequence length")
    parser.add_argument("--size", type=int, help="maze: image side in pixels")
    parser.add_argument("--route-length", type=int, help="maze: moves predicted")
    parser.add_argument("--eval-size", type=int, help="held-out examples")
    parser.add_argument("--unpartitioned", action="store_true",
                        help="the streams without the held-out partition (as before it)")
    args = parser.parse_args()
    if args.unpartitioned:
        ParityTask._split = lambda self: False  # type: ignore[method-assign]
        plain = MazeTask._generated
        MazeTask._generated = (  # type: ignore[method-assign]
            lambda self, count, rng, size=None, held_out=None: plain(self, count, rng, size))
    options = {k: v for k, v in (("length", args.length), ("size", args.size),
                                 ("route_length", args.route_length),
                                 ("eval_size", args.eval_size)) if v is not None}
    run = RunConfig.create(args.task, options, {}, {"seed": args.seed})
    task = build_task(run)
    held_out: dict[bytes, int] = {}
    for batch in task.eval_batches(256, args.seed):
        for key in keys(args.task, batch):
            held_out[key] = held_out.get(key, 0) + 1
    examples = sum(held_out.values())
    seen: set[bytes] = set()
    for step in range(args.steps):
        seen.update(k for k in keys(args.task, task.train_batch(step, args.batch_size,
                                                                 args.seed)) if k in held_out)
        if step % 200 == 0:
            print(f"step {step}: {len(seen)} of {len(held_out)} distinct held-out examples "
                  f"seen so far", file=sys.stderr)
    hits = sum(held_out[k] for k in seen)
    scheme = "unpartitioned" if args.unpartitioned else "partitioned"
    print(f"{args.task} {options} ({scheme}): {hits} of {examples} held-out examples "
          f"({100 * hits / examples:.1f}%; {len(seen)} of {len(held_out)} distinct) appear "
          f"among the {args.steps * args.batch_size:,} training examples of steps "
          f"0-{args.steps - 1} (seed {args.seed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
