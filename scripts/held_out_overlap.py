"""How many held-out examples a training stream also produces (for mazes, up to rotation and
mirroring, since training augments them).

    python scripts/held_out_overlap.py parity --length 8 --train 0,64,1500
    python scripts/held_out_overlap.py maze --size 7 --route-length 8 --eval-size 256 \
        --train 0,32,600
    # the bundled maze model's whole training (three runs) against seed 2's held-out mazes:
    python scripts/held_out_overlap.py maze --size 15 --eval-size 1000 --seed 2 \
        --train 0,32,50000 --train 1,64,28000 --train 2,64,28000 --old-training --workers 15

`--train SEED,BATCH,STEPS` names a training stream (steps 0 to STEPS-1); repeat it for runs
that followed each other. `--old-held-out` and `--old-training` draw the held-out set or the
training stream as they were before the held-out partition (tasks/held_out.py): from the whole
space, apart only by seed. The numbers go into docs/results.md.
"""

from __future__ import annotations

import argparse
import random
import sys
from multiprocessing import Pool

from ctm.run import RunConfig, build_task
from ctm.tasks.held_out import maze_key
from ctm.tasks.maze import MazeTask
from ctm.tasks.parity import ParityTask

_plain_generated = MazeTask._generated
_plain_split = ParityTask._split


def use_old_scheme(old: bool) -> None:
    """Switch the tasks' generators to draw from the whole space (the scheme before the
    partition), or back to the partitioned one."""
    if old:
        ParityTask._split = lambda self: False  # type: ignore[method-assign]
        MazeTask._generated = (  # type: ignore[method-assign]
            lambda self, count, rng, size=None, held_out=None:
            _plain_generated(self, count, rng, size))
    else:
        ParityTask._split = _plain_split  # type: ignore[method-assign]
        MazeTask._generated = _plain_generated  # type: ignore[method-assign]


def keys(task_name: str, batch) -> list[bytes]:  # noqa: ANN001
    if task_name == "maze":
        return [maze_key(m.open, m.start, m.goal) for m in batch.mazes]
    return [row.numpy().tobytes() for row in (batch.inputs > 0)]


_job: dict = {}


def _init(task_name: str, options: dict, held_out: set[bytes], old: bool) -> None:
    import torch

    torch.set_num_threads(1)
    use_old_scheme(old)
    _job.update(task_name=task_name, held_out=held_out,
                task=build_task(RunConfig.create(task_name, options, {}, {})))


def training_keys(task, task_name: str, step: int, batch_size: int, seed: int) -> list[bytes]:  # noqa: ANN001
    """The keys of one training batch. For mazes, only the mazes are drawn (the batch's first
    use of its generator), not their rendering and augmentation, which keys ignore."""
    if task_name == "maze":
        rng = random.Random(seed * 1_000_003 + step)  # MazeTask.train_batch's generator
        return [maze_key(m.open, m.start, m.goal)
                for m, _ in task._generated(batch_size, rng, held_out=False)]
    return keys(task_name, task.train_batch(step, batch_size, seed))


def _scan(chunk: tuple[int, int, int, int]) -> set[bytes]:
    seed, batch_size, first, last = chunk
    found = set()
    for step in range(first, last):
        found.update(k for k in training_keys(_job["task"], _job["task_name"], step,
                                              batch_size, seed) if k in _job["held_out"])
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", choices=("parity", "maze"))
    parser.add_argument("--train", action="append", required=True, metavar="SEED,BATCH,STEPS")
    parser.add_argument("--seed", type=int, default=0, help="the held-out set's seed")
    parser.add_argument("--length", type=int, help="parity: sequence length")
    parser.add_argument("--size", type=int, help="maze: image side in pixels")
    parser.add_argument("--route-length", type=int, help="maze: moves predicted")
    parser.add_argument("--eval-size", type=int, help="held-out examples")
    parser.add_argument("--old-held-out", action="store_true")
    parser.add_argument("--old-training", action="store_true")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    options = {k: v for k, v in (("length", args.length), ("size", args.size),
                                 ("route_length", args.route_length),
                                 ("eval_size", args.eval_size)) if v is not None}
    use_old_scheme(args.old_held_out)
    task = build_task(RunConfig.create(args.task, options, {}, {}))
    held_out: dict[bytes, int] = {}
    for batch in task.eval_batches(256, args.seed):
        for key in keys(args.task, batch):
            held_out[key] = held_out.get(key, 0) + 1
    streams = [tuple(int(v) for v in spec.split(",")) for spec in args.train]
    use_old_scheme(args.old_training)
    for seed, batch_size, _ in streams:  # the shortcut draws what train_batch draws
        assert training_keys(task, args.task, 0, batch_size, seed) == keys(
            args.task, task.train_batch(0, batch_size, seed))
    chunks = [(seed, batch, first, min(first + 500, steps))
              for seed, batch, steps in streams for first in range(0, steps, 500)]
    with Pool(args.workers, _init, (args.task, options, set(held_out),
                                    args.old_training)) as pool:
        seen = set().union(*pool.imap_unordered(_scan, chunks))
    hits = sum(held_out[k] for k in seen)
    examples = sum(held_out.values())
    total = sum(batch * steps for _, batch, steps in streams)
    print(f"{args.task} {options}, held-out seed {args.seed} "
          f"({'old' if args.old_held_out else 'partitioned'} held-out, "
          f"{'old' if args.old_training else 'partitioned'} training): {hits} of {examples} "
          f"held-out examples ({100 * hits / examples:.1f}%; {len(seen)} of {len(held_out)} "
          f"distinct) appear among {total:,} training examples "
          f"(streams seed,batch,steps: {' '.join(args.train)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
