"""Starting a new run from another model's weights (fine-tuning, warm restarts).

The source may be a run directory (its final model, else its latest checkpoint), a saved model
directory, or `bundled:NAME`. Only the weights are taken: the new run has its own optimiser,
learning-rate schedule and step count, so it can restart a finished run's schedule, which
`--resume` (which continues the old schedule) cannot.
"""

from __future__ import annotations

import json
from pathlib import Path

from torch import nn

from ..model import CTMConfig, load_model
from ..model.build import CONFIG_FILE, WEIGHTS_FILE
from .checkpoint import FINAL_MODEL, RUN_CONFIG, latest_checkpoint


def source_model_dir(source: str | Path) -> Path:
    """The saved-model directory that `source` (run, saved model or bundled:NAME) names."""
    from ..bundled import PREFIX, bundled_dir

    text = str(source)
    path = bundled_dir(text) if text.startswith(PREFIX) else Path(text)
    if (path / WEIGHTS_FILE).is_file():
        return path
    if (path / RUN_CONFIG).is_file():
        if (path / FINAL_MODEL / WEIGHTS_FILE).is_file():
            return path / FINAL_MODEL
        checkpoint = latest_checkpoint(path)
        if checkpoint is not None:
            return checkpoint
        raise FileNotFoundError(f"{path} has no trained model or checkpoint yet")
    raise FileNotFoundError(f"{text} is neither a run directory, a saved model nor "
                            f"bundled:NAME")


def source_model_config(source: str | Path) -> CTMConfig:
    """The model config of `source`, read without loading its weights."""
    text = (source_model_dir(source) / CONFIG_FILE).read_text()
    return CTMConfig.from_dict(json.loads(text))


def load_initial_weights(model: nn.Module, source: str | Path) -> None:
    """Copy `source`'s weights into `model`; their model configs must be identical."""
    donor = load_model(source_model_dir(source))
    mine, theirs = model.config.to_dict(), donor.config.to_dict()
    differing = sorted(k for k in mine if mine[k] != theirs.get(k))
    if differing:
        detail = ", ".join(f"{k}: {theirs.get(k)!r} there, {mine[k]!r} here" for k in differing)
        raise ValueError(f"cannot start from {source}: its model differs ({detail})")
    model.load_state_dict(donor.state_dict())
