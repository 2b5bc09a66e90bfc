"""Checkpoints: one directory per saved step, each with SHA-256 checksums of its files.

A checkpoint directory is complete, checksums last, before `latest.json` names it, so a crash at
any moment leaves the previous checkpoint usable. Reading goes the other way: the newest
checkpoint whose files match their checksums wins, whatever `latest.json` says, so a truncated
file, a damaged pointer or a deleted folder costs the steps since the previous checkpoint and
nothing more.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..files import write_json, write_torch
from ..model import save_model
from ..model.build import CONFIG_FILE, WEIGHTS_FILE
from .layout import CHECKPOINTS, CHECKSUMS, LATEST, STATE_FILE, run_id

CHECKED_FILES = (WEIGHTS_FILE, CONFIG_FILE, STATE_FILE)
FOREIGN = "it belongs to another run"  # how check_checkpoint begins for another run's checkpoint


@dataclass
class TrainerState:
    step: int
    optimizer: dict[str, Any]
    rng: torch.Tensor  # torch's global CPU generator (dropout)
    carry: dict[str, Any] | None = None  # deep supervision's examples in training, if any


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_checkpoint(run_dir: Path, model: torch.nn.Module, state: TrainerState, keep: int
                    ) -> Path:
    """Write the checkpoint of `state.step`, publish it, and delete all but the newest `keep`
    intact ones (the new one always among them)."""
    root = run_dir / CHECKPOINTS
    name = f"step-{state.step:06d}"
    target = root / name
    if target.exists():
        shutil.rmtree(target)
    save_model(model, target)
    saved: dict[str, Any] = {"step": state.step, "optimizer": state.optimizer, "rng": state.rng}
    if state.carry is not None:
        saved["carry"] = state.carry
    write_torch(target / STATE_FILE, saved)
    listing: dict[str, Any] = {"step": state.step,
                               "sha256": {f: sha256(target / f) for f in CHECKED_FILES}}
    owner = run_id(run_dir)
    if owner is not None:
        listing["run"] = owner
    write_json(target / CHECKSUMS, listing)
    write_json(root / LATEST, {"step": state.step, "directory": name})
    intact = [p for p in _by_step(root) if check_checkpoint(p, owner) is None]
    for old in intact[keep:]:
        if old != target:
            shutil.rmtree(old, ignore_errors=True)
    return target


def check_checkpoint(directory: Path, owner: str | None = None) -> str | None:
    """None if `directory` is an intact checkpoint (of the run named `owner`, when given),
    else what is wrong with it."""
    listing = directory / CHECKSUMS
    if not listing.is_file():
        return _check_unlisted(directory)
    try:
        data = json.loads(listing.read_text())
        expected = data["sha256"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return f"its {CHECKSUMS} is damaged"
    theirs = data.get("run")
    if owner is not None and theirs is not None and theirs != owner:
        return f"{FOREIGN}: its {CHECKSUMS} names run {theirs}, and this run is {owner}"
    for name in CHECKED_FILES:
        path = directory / name
        if not path.is_file():
            return f"{name} is missing"
        if sha256(path) != expected.get(name):
            return f"{name} does not match its checksum"
    return None


def _check_unlisted(directory: Path) -> str | None:
    """A checkpoint without checksums (written before they existed, or interrupted before
    them): intact if every file is there and reads back. Each file is written atomically, so
    files that read back are whole."""
    from safetensors.torch import load_file

    for name in CHECKED_FILES:
        if not (directory / name).is_file():
            return f"{name} is missing (an interrupted write)"
    try:
        load_file(directory / WEIGHTS_FILE)
        json.loads((directory / CONFIG_FILE).read_text())
        load_trainer_state(directory)
    except Exception as error:  # whatever a damaged file raises, it does not read back
        return f"it does not read back: {str(error).splitlines()[0][:120]}"
    return None


def find_checkpoint(run_dir: Path) -> tuple[Path | None, list[str]]:
    """The newest intact checkpoint of the run (or None), and one line for each newer one that
    was passed over because it is damaged."""
    root = run_dir / CHECKPOINTS
    owner = run_id(run_dir)
    passed: list[str] = []
    for directory in _by_step(root):
        problem = check_checkpoint(directory, owner)
        if problem is None:
            if passed:
                passed[-1] += f"; using {directory.name}"
            return directory, passed
        verdict = "is not this run's" if problem.startswith(FOREIGN) else "is damaged"
        passed.append(f"checkpoint {directory} {verdict} ({problem})")
    return None, passed


def load_trainer_state(checkpoint: Path) -> TrainerState:
    data = torch.load(checkpoint / STATE_FILE, map_location="cpu", weights_only=True)
    return TrainerState(step=int(data["step"]), optimizer=data["optimizer"], rng=data["rng"],
                        carry=data.get("carry"))


def _by_step(root: Path) -> list[Path]:
    """Checkpoint directories, newest first (`latest.json` is only a hint: the folders and
    their checksums are the truth)."""
    if not root.is_dir():
        return []
    found = []
    for path in root.glob("step-*"):
        digits = path.name[len("step-"):]
        if path.is_dir() and digits.isdigit():
            found.append((int(digits), path))
    return [path for _, path in sorted(found, reverse=True)]
