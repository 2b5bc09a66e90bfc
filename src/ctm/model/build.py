"""Build, save and load any of the package's models from its config."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn

from ..files import write_json, write_safetensors
from .config import CTMConfig

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"


def build_model(config: CTMConfig) -> nn.Module:
    """The model `config.architecture` names: the CTM or a baseline."""
    from .baselines import FeedForwardBaseline, LSTMBaseline
    from .ctm import CTM

    kinds = {"ctm": CTM, "lstm": LSTMBaseline, "feedforward": FeedForwardBaseline}
    return kinds[config.architecture](config)


def save_model(model: nn.Module, directory: str | os.PathLike) -> None:
    """Write `model.safetensors` and `config.json` into `directory` (atomically)."""
    directory = Path(directory)
    write_safetensors(directory / WEIGHTS_FILE, model.state_dict())
    write_json(directory / CONFIG_FILE, model.config.to_dict())


def load_config(directory: str | os.PathLike) -> CTMConfig:
    """The model config of a saved model, without its weights."""
    return CTMConfig.from_dict(json.loads((Path(directory) / CONFIG_FILE).read_text()))


def load_model(directory: str | os.PathLike, map_location: str = "cpu") -> nn.Module:
    directory = Path(directory)
    for name in (WEIGHTS_FILE, CONFIG_FILE):
        if not (directory / name).is_file():
            raise FileNotFoundError(f"{directory / name} not found: not a saved model")
    model = build_model(load_config(directory))
    model.load_state_dict(load_file(directory / WEIGHTS_FILE, device=map_location))
    return model.to(torch.device(map_location))
