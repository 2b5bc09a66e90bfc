"""Build, save and load any of the package's models from its config."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from ..files import read_json, write_json, write_safetensors
from .config import CTMConfig
from .registry import ARCHITECTURES

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"


def build_model(config: CTMConfig) -> nn.Module:
    """The model `config.architecture` names in the ARCHITECTURES registry: the CTM or a
    baseline."""
    return ARCHITECTURES.get(config.architecture)(config)


def save_model(model: nn.Module, directory: str | os.PathLike) -> None:
    """Write `model.safetensors` and `config.json` into `directory` (atomically)."""
    directory = Path(directory)
    write_safetensors(directory / WEIGHTS_FILE, model.state_dict())
    write_json(directory / CONFIG_FILE, model.config.to_dict())


def load_config(directory: str | os.PathLike) -> CTMConfig:
    """The model config of a saved model, without its weights; a damaged or hand-edited file
    is a ValueError that names it."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: not a saved model")
    data = read_json(path, "model config")
    try:
        return CTMConfig.from_dict(data)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{path}: {error}") from None


def load_weights(model: nn.Module, path: str | os.PathLike, map_location: str = "cpu") -> None:
    """Copy the tensors of the safetensors file `path` into `model` (converting dtype, as
    `load_state_dict` does); a damaged file or one that does not fit the model is a ValueError
    naming the file and what is wrong."""
    path = Path(path)
    try:
        state = load_file(path, device=map_location)
    except SafetensorError as error:
        raise ValueError(f"{path} is damaged or not a safetensors file ({error})") from None
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} not found: not a saved model") from None
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [f"{k} {tuple(state[k].shape)} in the file, {tuple(v.shape)} in the model"
             for k, v in expected.items() if k in state and state[k].shape != v.shape]
    problems = []
    for label, names in (("missing tensors", missing), ("unknown tensors", unexpected),
                         ("wrong shapes", wrong)):
        if names:
            more = f" and {len(names) - 3} more" if len(names) > 3 else ""
            problems.append(f"{label}: {', '.join(names[:3])}{more}")
    if problems:
        raise ValueError(f"{path} does not fit its model config: {'; '.join(problems)}")
    # a model that scores NaN would still print an accuracy: refuse it where it is read
    broken = [k for k, v in state.items() if v.is_floating_point() and not v.isfinite().all()]
    if broken:
        more = f" and {len(broken) - 1} more" if len(broken) > 1 else ""
        raise ValueError(f"{path} holds non-finite weights ({broken[0]}{more}): the run that "
                         f"saved them diverged; train again, or take an earlier checkpoint")
    model.load_state_dict(state)


def load_model(directory: str | os.PathLike, map_location: str = "cpu") -> nn.Module:
    directory = Path(directory)
    if not (directory / WEIGHTS_FILE).is_file():
        raise FileNotFoundError(f"{directory / WEIGHTS_FILE} not found: not a saved model")
    model = build_model(load_config(directory))
    load_weights(model, directory / WEIGHTS_FILE, map_location)
    return model.to(torch.device(map_location))
