"""Trained models shipped inside the package, each a small run directory.

This package is data: it imports nothing from ctm. A bundled model is a run directory like any
other (the run's `config.json` and its final `model/`), so everything that takes a run takes
one: `ctm eval bundled:maze15`, `ctm viz bundled:maze15 --out DIR`, or
`ctm.run.load_run("bundled:maze15")` in Python. Its `MODEL.md` says how it was trained (command
and seed) and what it scores, with the command that measures it. Weights are stored in float16
to keep the wheel small; they load as float32.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

PREFIX = "bundled:"


def root() -> Path:
    """The folder that holds the bundled models."""
    return Path(str(resources.files(__name__)))


def available() -> list[str]:
    """Names of the bundled models."""
    return sorted(p.name for p in root().iterdir() if (p / "config.json").is_file())


def bundled_dir(name: str) -> Path:
    """The run directory of bundled model `name` (read-only: write outputs elsewhere)."""
    if name.startswith(PREFIX):
        name = name[len(PREFIX):]
    names = available()
    if name not in names:
        raise ValueError(f"no bundled model {name!r}; bundled: {', '.join(names) or 'none'}")
    return root() / name
