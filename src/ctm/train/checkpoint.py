"""Checkpoints: one directory per saved step, published by an atomic pointer file.

    RUN/config.json                                 the run's config (RunConfig)
    RUN/model/                                      the final model, once training finishes
    RUN/checkpoints/step-000250/model.safetensors   weights (safetensors: no pickle)
                               /config.json         model config
                               /trainer_state.pt    optimiser, RNG state, step
    RUN/checkpoints/latest.json                     {"step": 250, "directory": "step-000250"}

A checkpoint directory is complete before `latest.json` names it, so a crash at any moment
leaves the previous checkpoint usable.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..files import write_json, write_torch
from ..model import save_model

RUN_CONFIG = "config.json"
FINAL_MODEL = "model"
STATE_FILE = "trainer_state.pt"
LATEST = "latest.json"


@dataclass
class TrainerState:
    step: int
    optimizer: dict[str, Any]
    rng: torch.Tensor  # torch's global CPU generator (dropout)


def save_checkpoint(run_dir: Path, model: torch.nn.Module, state: TrainerState, keep: int
                    ) -> Path:
    root = run_dir / "checkpoints"
    name = f"step-{state.step:06d}"
    target = root / name
    if target.exists():
        shutil.rmtree(target)
    save_model(model, target)
    write_torch(target / STATE_FILE, {"step": state.step, "optimizer": state.optimizer,
                                      "rng": state.rng})
    write_json(root / LATEST, {"step": state.step, "directory": name})
    finished = sorted(p for p in root.glob("step-*") if p.is_dir())
    for old in finished[:-keep]:
        if old != target:
            shutil.rmtree(old, ignore_errors=True)
    return target


def latest_checkpoint(run_dir: Path) -> Path | None:
    pointer = run_dir / "checkpoints" / LATEST
    if not pointer.is_file():
        return None
    return run_dir / "checkpoints" / json.loads(pointer.read_text())["directory"]


def load_trainer_state(checkpoint: Path) -> TrainerState:
    data = torch.load(checkpoint / STATE_FILE, map_location="cpu", weights_only=True)
    return TrainerState(step=int(data["step"]), optimizer=data["optimizer"], rng=data["rng"])
