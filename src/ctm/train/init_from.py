"""Starting a new run from another model's weights (fine-tuning, warm restarts).

The source may be a run directory (its final model, else its latest checkpoint), a saved model
directory, or `bundled:NAME`. Only the weights are taken: the new run has its own optimiser,
learning-rate schedule and step count, so it can restart a finished run's schedule, which
`--resume` (which continues the old schedule) cannot.
"""

from __future__ import annotations

from pathlib import Path

from safetensors.torch import load_file
from torch import nn

from ..model import CTMConfig
from ..model.build import WEIGHTS_FILE, load_config
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
    return load_config(source_model_dir(source))


def load_initial_weights(model: nn.Module, source: str | Path) -> None:
    """Copy `source`'s weights into `model`; their model configs must be identical."""
    directory = source_model_dir(source)
    mine = model.config.to_dict()
    theirs = load_config(directory).to_dict()
    differing = sorted(k for k in mine if mine[k] != theirs[k])
    if differing:
        detail = ", ".join(f"{k}: {theirs[k]!r} there, {mine[k]!r} here" for k in differing)
        raise ValueError(f"cannot start from {source}: its model differs ({detail})")
    # load_state_dict copies into the model's own tensors, so float16 weights become float32
    model.load_state_dict(load_file(directory / WEIGHTS_FILE))
