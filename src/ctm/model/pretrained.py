"""Sharing trained models the Hugging Face way: a folder with `config.json` (the model
config), `model.safetensors` (the weights) and `README.md` (the model card).

`save_pretrained` writes such a folder; `from_pretrained` reads one from a local folder or
the Hugging Face Hub (`owner/name`, with the optional `huggingface_hub` package and a
network). Every architecture (the CTM and the baselines) saves and loads alike. The card's
metrics are whatever the caller measured, with the command that measured them. Runs and the
models bundled with ctm are not this package's business: `ctm.load` (run/lookup.py) reads
those, and any of these sources too.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from ..files import atomic_write
from .build import CONFIG_FILE, WEIGHTS_FILE, load_model, save_model

CARD_FILE = "README.md"


@dataclass
class ModelCard:
    """What a shared model's README says about it."""

    task: str = ""  # the ctm task it was trained on (`ctm tasks`)
    options: dict[str, Any] = field(default_factory=dict)  # the task's options
    metrics: dict[str, float] = field(default_factory=dict)  # held-out scalars
    metrics_command: str = ""  # the command that measured them
    train_command: str = ""  # the command that trained it
    notes: str = ""

    def render(self, model: nn.Module) -> str:
        config = model.config
        parameters = sum(p.numel() for p in model.parameters())
        tags = ["continuous-thought-machine", "ctm"]
        if config.architecture != "ctm":
            tags.append(config.architecture)
        if self.task:
            tags.append(self.task)
        lines = ["---", "library_name: ctm", "license: apache-2.0", "tags:"]
        lines += [f"- {t}" for t in tags]
        lines += ["---", "", f"# {self.task or 'CTM'} model ({config.architecture}, "
                  f"{parameters:,} parameters)", ""]
        kind = ("Continuous Thought Machine" if config.architecture == "ctm"
                else f"{config.architecture} baseline")
        lines += [f"A {kind} with {config.d_model} neurons thinking for {config.ticks} ticks "
                  f"(input mode `{config.input_mode}`, backbone `{config.backbone}`), saved "
                  f"by the `ctm` library.", ""]
        if self.task:
            lines += ["## Task", "", f"`{self.task}` with options:", "", "```json",
                      json.dumps(self.options, indent=1, sort_keys=True), "```", ""]
        if self.metrics:
            lines += ["## Held-out metrics", "", "| metric | value |", "|---|---|"]
            lines += [f"| {k} | {v:.4f} |" for k, v in self.metrics.items()]
            lines += [""]
            if self.metrics_command:
                lines += [f"Measured with `{self.metrics_command}`.", ""]
        if self.train_command:
            lines += ["## Training", "", f"`{self.train_command}`", ""]
        if self.notes:
            lines += [self.notes.strip(), ""]
        lines += ["## Use", "", "```python", "from ctm.model.pretrained import from_pretrained",
                  "", 'model = from_pretrained("THIS_FOLDER_OR_REPO_ID")  # eval mode', "```",
                  ""]
        return "\n".join(lines)


def save_pretrained(model: nn.Module, directory: str | os.PathLike,
                    card: ModelCard | None = None) -> Path:
    """Write `config.json`, `model.safetensors` and a model card `README.md` into
    `directory`; returns it."""
    directory = Path(directory)
    save_model(model, directory)
    atomic_write(directory / CARD_FILE, (card or ModelCard()).render(model).encode())
    return directory


def pretrained_dir(source: str | os.PathLike, revision: str | None = None) -> Path:
    """The local folder holding `source`'s config.json and model.safetensors, downloading a
    Hub repository first."""
    text = str(source)
    path = Path(text)
    if path.is_file():
        raise ValueError(f"{path} is a file; give the folder that holds it with its "
                         f"{CONFIG_FILE} ({path.parent})")
    if path.is_dir():
        if (path / WEIGHTS_FILE).is_file() and _is_model_config(path / CONFIG_FILE):
            return path
        if (path / CONFIG_FILE).is_file() and not _is_model_config(path / CONFIG_FILE):
            raise ValueError(f"{path} is a training run, not a saved model: ctm.load({text!r}) "
                             f"loads a run's model")
        raise FileNotFoundError(f"{path} holds no {WEIGHTS_FILE} with its {CONFIG_FILE}: not a "
                                f"saved model")
    if ":" in text:  # bundled:NAME, or another scheme this function does not know
        raise ValueError(f"{text!r} is not a folder or a Hub repository id: ctm.load({text!r}) "
                         f"reads runs and bundled models")
    if text.count("/") != 1 or text.startswith((".", "/")) or path.exists():
        raise FileNotFoundError(f"{source} not found: give a saved model's folder or a Hub "
                                f"repository id (owner/name)")
    return _download(text, revision)


def _is_model_config(path: Path) -> bool:
    """A saved model's config.json (a run's config.json names a task instead)."""
    try:
        return path.is_file() and "task" not in json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError):
        return True  # damaged: load_model says what is wrong with it


def _download(repo_id: str, revision: str | None) -> Path:
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise ValueError(f"{repo_id!r} is not a local folder; to download it from the Hugging "
                         f"Face Hub, `pip install huggingface_hub`") from None
    try:
        return Path(snapshot_download(repo_id, revision=revision,
                                      allow_patterns=[CONFIG_FILE, WEIGHTS_FILE, CARD_FILE]))
    except Exception as error:  # no network, no such repository, no permission: one line
        raise ValueError(f"could not download {repo_id!r} from the Hugging Face Hub: "
                         f"{str(error).splitlines()[0] if str(error) else type(error).__name__}"
                         ) from None


def from_pretrained(source: str | os.PathLike, *, revision: str | None = None,
                    map_location: str = "cpu") -> nn.Module:
    """The model saved in `source` (a folder or a Hub repository id), of whatever
    architecture it is, in eval mode. `ctm.load` also reads runs and bundled models."""
    return load_model(pretrained_dir(source, revision), map_location).eval()


class Pretrained:
    """`save_pretrained` and `from_pretrained` as methods of a model class."""

    def save_pretrained(self, directory: str | os.PathLike, card: ModelCard | None = None
                        ) -> Path:
        assert isinstance(self, nn.Module)
        return save_pretrained(self, directory, card)

    @classmethod
    def from_pretrained(cls, source: str | os.PathLike, *, revision: str | None = None,
                        map_location: str = "cpu") -> Any:
        model = from_pretrained(source, revision=revision, map_location=map_location)
        if not isinstance(model, cls):
            raise ValueError(f"{source} holds a {model.config.architecture} model, not a "
                             f"{cls.__name__}; ctm.model.pretrained.from_pretrained loads "
                             f"any architecture")
        return model
