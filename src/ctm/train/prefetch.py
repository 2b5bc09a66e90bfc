"""Training batches built ahead of time in worker processes.

A task's `train_batch(step, batch_size, seed)` is a pure function of its arguments, so workers
can build the batches of the next few steps while the model trains on the current one, and a
resumed run still sees exactly the data an uninterrupted one would. This matters where data are
generated in Python (mazes) and the accelerator would otherwise wait for the CPU.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor

import torch

from ..tasks import Batch, Task

_worker_task: Task | None = None


def _init_worker(task: Task) -> None:
    global _worker_task
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the trainer, which stops cleanly
    torch.set_num_threads(1)  # workers share the cores with the training process
    _worker_task = task


def _build(step: int, batch_size: int, seed: int) -> Batch:
    assert _worker_task is not None
    return _worker_task.train_batch(step, batch_size, seed)


class BatchPrefetcher:
    """`get(step)` returns `task.train_batch(step, batch_size, seed)`, built by one of `workers`
    processes; steps must be asked for in order, one after another."""

    def __init__(self, task: Task, batch_size: int, seed: int, workers: int,
                 first_step: int, ahead: int | None = None) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        # spawn, not fork: the parent may already hold CUDA state or threads
        self._pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_init_worker, initargs=(task,))
        self._batch_size, self._seed = batch_size, seed
        self._ahead = ahead or 2 * workers
        self._next = first_step
        self._pending: deque[tuple[int, Future[Batch]]] = deque()
        self._fill()

    def _fill(self) -> None:
        while len(self._pending) < self._ahead:
            future = self._pool.submit(_build, self._next, self._batch_size, self._seed)
            self._pending.append((self._next, future))
            self._next += 1

    def get(self, step: int) -> Batch:
        expected, future = self._pending.popleft()
        if step != expected:
            raise RuntimeError(f"asked for step {step}, but step {expected} is next")
        self._fill()
        return future.result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> BatchPrefetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
