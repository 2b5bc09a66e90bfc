"""Trained models shipped inside the package, each a small run directory.

A bundled model is a run directory like any other (the run's `config.json` and its final
`model/`), so everything that takes a run takes one: `ctm eval bundled:maze15`,
`ctm viz bundled:maze15 --out DIR`, or `load_bundled("maze15")` in Python. Its `MODEL.md` says
how it was trained (command and seed) and what it scores, with the command that measures it.
Weights are stored in float16 to keep the wheel small; they load as float32.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

PREFIX = "bundled:"


def available() -> list[str]:
    """Names of the bundled models."""
    root = Path(str(resources.files(__name__)))
    return sorted(p.name for p in root.iterdir() if (p / "config.json").is_file())


def bundled_dir(name: str) -> Path:
    """The run directory of bundled model `name` (read-only: write outputs elsewhere)."""
    if name.startswith(PREFIX):
        name = name[len(PREFIX):]
    names = available()
    if name not in names:
        raise ValueError(f"no bundled model {name!r}; bundled: {', '.join(names) or 'none'}")
    return Path(str(resources.files(__name__))) / name


def load_bundled(name: str) -> tuple[Any, Any]:
    """(RunConfig, model in eval mode) of bundled model `name`."""
    from ..model import load_model
    from ..train import RunConfig

    directory = bundled_dir(name)
    model = load_model(directory / "model")
    model.eval()
    return RunConfig.read(directory / "config.json"), model
