"""How training speed scales with processes: the same run timed on 1, 2, ... processes.

Each count trains the task's default model for a few steps with the same global batch (strong
scaling): one process runs `python -m ctm train`, several run it under torchrun. The cores
given are shared out evenly, so on a 2-core machine one process with 2 threads is compared
with two processes of 1 thread each. Steps per second come from the run's own metrics log,
leaving out the first steps (start-up, first-touch allocations).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from ..run.layout import METRICS


def time_training(task: str, processes: int, threads: int, steps: int, batch_size: int,
                  skip: int, strategy: str = "ddp", extra: list[str] | None = None
                  ) -> dict[str, Any]:
    """Train `task` for `steps` steps on `processes` processes sharing `threads` cores;
    returns steps/s and samples/s over the steps after the first `skip`."""
    if processes < 1 or threads < processes:
        raise ValueError(f"{processes} processes need at least as many --threads, got {threads}")
    each = threads // processes
    with tempfile.TemporaryDirectory(prefix="ctm-scaling-") as workdir:
        run = Path(workdir) / "run"
        args = ["train", task, "--out", str(run), "--steps", str(steps), "--batch-size",
                str(batch_size), "--threads", str(each), "--no-progress", "--log-every", "1",
                "--eval-every", str(steps), "--checkpoint-every", str(steps),
                "--strategy", strategy, *(extra or [])]
        if processes == 1:
            command = [sys.executable, "-m", "ctm", *args]
        else:
            command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                       "--nproc-per-node", str(processes), "-m", "ctm", *args]
        env = {k: v for k, v in os.environ.items()
               if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
        env["OMP_NUM_THREADS"] = str(each)
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode != 0 and processes > 1:
            # torchrun --standalone picks a free port that another process may take before
            # the workers bind it; a busy machine loses that race now and then: try once more
            shutil.rmtree(run, ignore_errors=True)
            done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            lines = [line for line in done.stderr.splitlines() if line.strip()
                     and not set(line.strip()) <= set("=-")]
            said = [line for line in lines if "error" in line.lower()] or lines or ["no output"]
            raise RuntimeError(f"training on {processes} process(es) failed (exit status "
                               f"{done.returncode}): {said[-1].strip()[:300]}")
        rows = [json.loads(line) for line in (run / METRICS).read_text().splitlines()]
    seconds = {r["step"]: r["seconds"] for r in rows if r["split"] == "train"}
    elapsed = seconds[steps] - seconds[skip]
    rate = (steps - skip) / elapsed
    return {"task": task, "processes": processes, "threads_each": each,
            "strategy": strategy if processes > 1 else "-", "steps_per_s": rate,
            "samples_per_s": rate * batch_size, "batch_size": batch_size,
            "timed_steps": steps - skip}
