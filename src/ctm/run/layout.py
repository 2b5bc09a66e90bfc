"""The names inside a run directory, in one place.

    RUN/config.json                  the run's config (RunConfig): replays the run
    RUN/metrics.jsonl                one strict-JSON row per log or evaluation
    RUN/records.jsonl                what the task keeps at each evaluation beyond its metrics
                                     (maze: the route predicted at every tick for 4 mazes)
    RUN/tensorboard/                 the same scalars for TensorBoard
    RUN/checkpoints/step-000250/     model.safetensors, config.json, trainer_state.pt and
                                     checksums.json (SHA-256 of the other three, written last)
    RUN/checkpoints/latest.json      {"step": 250, "directory": "step-000250"}
    RUN/model/                       the final model, once training finishes
    RUN/best/                        the model at the evaluation with the best headline metric
                                     so far (`ctm eval RUN --best`)
    RUN/best.json                    {"step", "metric", "value"} of that evaluation
    RUN/run-id                       a random name for this run, which every checkpoint's
                                     checksums.json repeats: a checkpoint copied in from another
                                     run is told apart

A saved model directory (`CTM.save`) holds only model.safetensors and config.json; its
config.json is a model config, which has no "task" key.
"""

from __future__ import annotations

import json
from pathlib import Path

RUN_CONFIG = "config.json"
METRICS = "metrics.jsonl"
RECORDS = "records.jsonl"  # what a task keeps at each evaluation beside its metrics
TENSORBOARD = "tensorboard"
CHECKPOINTS = "checkpoints"
FINAL_MODEL = "model"
BEST_MODEL = "best"
BEST_RECORD = "best.json"
STATE_FILE = "trainer_state.pt"
CHECKSUMS = "checksums.json"
LATEST = "latest.json"
RUN_ID = "run-id"


def run_id(run_dir: Path) -> str | None:
    """The run's random name, or None for a run made before runs had one."""
    path = run_dir / RUN_ID
    try:
        text = path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text or None


def is_run_dir(path: Path) -> bool:
    """A run directory's config.json names its task; a saved model's does not."""
    config = path / RUN_CONFIG
    if not config.is_file():
        return False
    try:
        data = json.loads(config.read_text())
    except (ValueError, UnicodeDecodeError):
        return not (path / "model.safetensors").is_file()  # damaged: let the reader say so
    return isinstance(data, dict) and "task" in data


def read_jsonl(path: Path) -> list[dict]:
    """The rows of a run's JSON-lines file. A last line cut short (a crash mid-write) is left
    out; any other row that is not a JSON object is an error naming the file and the line."""
    lines = path.read_text(errors="replace").splitlines()
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            row = None
        if not isinstance(row, dict):
            if number == len(lines):
                break
            raise ValueError(f"{path}, line {number}: not a JSON object")
        rows.append(row)
    return rows
