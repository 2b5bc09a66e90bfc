"""Every task's compiled thought against eager: the tiny model of each task in
tests/test_every_task.py trains 4 steps with `--compile off` and with `--compile thought`, and
the logged losses are compared; the graph breaks of the compiled thought are counted.

    python scripts/compiled_tasks_check.py [TASK ...]      (default: every task)

About a minute a task on 2 CPU cores with an empty compile cache.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from ctm.run.config import build_task  # noqa: E402
from ctm.train import Trainer  # noqa: E402
from test_every_task import TINY, tiny_run  # noqa: E402


def losses(task: str, scope: str, folder: str) -> tuple[list[float], float, str | None]:
    run = tiny_run(task, "ctm")
    run.train = dataclasses.replace(run.train, compile=scope, steps=4, log_every=1,
                                    eval_every=4, checkpoint_every=4)
    started = time.perf_counter()
    with contextlib.redirect_stderr(io.StringIO()):
        trainer = Trainer(run, Path(folder) / scope, progress=False)
        trainer.fit()
    rows = [json.loads(line) for line in (Path(folder) / scope / "metrics.jsonl").open()]
    failed = trainer._thought.failed if trainer._thought is not None else None
    return ([r["loss"] for r in rows if r["split"] == "train"], time.perf_counter() - started,
            failed)


def graph_breaks(task: str) -> int:
    import torch._dynamo

    from ctm.model import build_model
    from ctm.train.compiled import forward_and_loss

    run = tiny_run(task, "ctm")
    the_task, model = build_task(run), build_model(run.model)
    batch = the_task.train_batch(0, 4, 0)
    return torch._dynamo.explain(
        lambda m, b: forward_and_loss(the_task, run.model, m, b).loss)(model, batch
                                                                      ).graph_break_count


def main() -> None:
    for task in sys.argv[1:] or sorted(TINY):
        with tempfile.TemporaryDirectory() as folder:
            eager, _, _ = losses(task, "off", folder)
            compiled, seconds, failed = losses(task, "thought", folder)
        worst = max(abs(a - b) / max(abs(b), 1e-12) for a, b in zip(compiled, eager,
                                                                      strict=True))
        breaks = graph_breaks(task) if task != "rl" else "-"  # rl's batches come from rollouts
        print(f"{task:8} losses within {worst:.1e} relative; graph breaks {breaks}; "
              f"compiled run {seconds:.0f} s; fallback: {failed or 'none'}", flush=True)


if __name__ == "__main__":
    main()
