"""One lookup for trained models: a run directory, a saved model directory, `bundled:NAME`,
or a Hugging Face Hub id.

    load(source) -> model in eval mode (`ctm.load`)
    load_run(source, task=None) -> (RunConfig, model in eval mode)

A run directory gives its final model, else its newest intact checkpoint; a saved model has no
task of its own, so the caller names it; a bundled model is a run directory inside the package.
`--init-from` reads the same sources, but takes only the weights.
"""

from __future__ import annotations

import sys
from pathlib import Path

from torch import nn

from .. import bundled
from ..model import CTMConfig, load_model
from ..model.build import WEIGHTS_FILE, load_config, load_weights
from ..model.pretrained import from_pretrained
from ..tasks import get_task
from .checkpoint import find_checkpoint
from .config import RunConfig
from .layout import BEST_MODEL, FINAL_MODEL, RUN_CONFIG, is_run_dir


def resolve(source: str | Path) -> Path:
    """The directory `source` names (`bundled:NAME` is a folder inside the package)."""
    text = str(source)
    if text.startswith(bundled.PREFIX):
        return bundled.bundled_dir(text)
    return Path(text)


def is_bundled(path: Path) -> bool:
    return Path(path).resolve().parent == bundled.root().resolve()


def source_model_dir(source: str | Path, *, quiet: bool = False) -> Path:
    """The saved-model directory that `source` names: a saved model itself, a run's final
    model, or (for a run still training or stopped) its newest intact checkpoint."""
    path = resolve(source)
    if (path / WEIGHTS_FILE).is_file() and not is_run_dir(path):
        return path
    if is_run_dir(path):
        if (path / FINAL_MODEL / WEIGHTS_FILE).is_file():
            return path / FINAL_MODEL
        checkpoint, passed = find_checkpoint(path)
        if not quiet:
            for line in passed:
                print(f"ctm: warning: {line}", file=sys.stderr)
        if checkpoint is not None:
            return checkpoint
        raise FileNotFoundError(f"{path} has no trained model or intact checkpoint yet")
    if path.is_file():
        raise FileNotFoundError(f"{source} is a file; give the folder that holds it (a saved "
                                f"model's or a run's: {path.parent})")
    if path.is_dir():
        raise FileNotFoundError(f"{source} is neither a run directory (no {RUN_CONFIG} naming "
                                f"a task) nor a saved model (no {WEIGHTS_FILE})")
    raise FileNotFoundError(f"{source} not found: give a run directory, a saved model "
                            f"directory or bundled:NAME ({', '.join(bundled.available())})")


def source_task(source: str | Path) -> str | None:
    """The task of `source` when it is a run (bundled ones included); None for a saved model,
    which does not know its task."""
    path = resolve(source)
    return RunConfig.read(path / RUN_CONFIG).task if is_run_dir(path) else None


def source_model_config(source: str | Path) -> CTMConfig:
    """The model config of `source`, read without loading its weights."""
    return load_config(source_model_dir(source, quiet=True))


def load(source: str | Path, *, best: bool = False, revision: str | None = None,
         map_location: str = "cpu") -> nn.Module:
    """Any trained model, in eval mode: a run directory (its final model, else its newest
    intact checkpoint; with `best` its best evaluated one), a saved model's folder,
    `bundled:NAME`, or a Hugging Face Hub repository id (`owner/name`, at `revision`).

    >>> import ctm
    >>> model = ctm.load("bundled:maze15")
    """
    path = resolve(source)
    if not (str(source).startswith(bundled.PREFIX) or path.exists()):
        return from_pretrained(str(source), revision=revision, map_location=map_location)
    return load_model(_model_dir(source, path, best), map_location).eval()


def _model_dir(source: str | Path, path: Path, best: bool) -> Path:
    """The folder of `source`'s model: with `best`, a run's best evaluated one."""
    if not best:
        return source_model_dir(path)
    if not is_run_dir(path):
        raise ValueError(f"--best picks a run's best evaluated model; {source} is not a run")
    if not (path / BEST_MODEL / WEIGHTS_FILE).is_file():
        raise FileNotFoundError(f"{source} has no best model yet (it is written at the first "
                                f"evaluation)")
    return path / BEST_MODEL


def load_run(source: str | Path, task: str | None = None, best: bool = False
             ) -> tuple[RunConfig, nn.Module]:
    """(RunConfig, model in eval mode) of a run directory, a saved model (with `task`, which
    the model's output sizes complete into task options) or `bundled:NAME`. `best` takes a
    run's best evaluated model (RUN/best/) instead of its final one."""
    path = resolve(source)
    if is_run_dir(path):
        run = RunConfig.read(path / RUN_CONFIG)
        if task is not None and task != run.task:
            raise ValueError(f"{source} is a {run.task} run, not {task}: drop --task")
        directory = _model_dir(source, path, best)
        model = load_model(directory)
        _agree(run.model.to_dict(), model.config.to_dict(), path / RUN_CONFIG, directory)
        return run, model.eval()
    model = load_model(_model_dir(source, path, best))
    if task is None:
        raise ValueError(f"{source} is a saved model, not a run: say which task it solves "
                         f"with --task")
    options = get_task(task).options_for_model(model.config)
    return RunConfig.create(task, options, model.config.to_dict(), {}), model.eval()


def _agree(run_model: dict, saved: dict, run_config: Path, directory: Path) -> None:
    """A run's config and the config saved beside its weights describe one model; where they
    differ, one of them was edited or copied in, and neither may silently win."""
    differing = sorted(k for k in run_model.keys() | saved.keys()
                       if run_model.get(k) != saved.get(k))
    if differing:
        detail = ", ".join(f"{k}: {run_model.get(k)!r} there, {saved.get(k)!r} here"
                           for k in differing[:4])
        more = f" and {len(differing) - 4} more" if len(differing) > 4 else ""
        raise ValueError(f"{run_config} and {directory / 'config.json'} describe different "
                         f"models ({detail}{more}): put back the one that was changed")


def load_initial_weights(model: nn.Module, source: str | Path) -> None:
    """Copy `source`'s weights into `model`; their model configs must be identical."""
    directory = source_model_dir(source)
    mine = model.config.to_dict()
    theirs = load_config(directory).to_dict()
    differing = sorted(k for k in mine if mine[k] != theirs[k])
    if differing:
        detail = ", ".join(f"{k}: {theirs[k]!r} there, {mine[k]!r} here" for k in differing)
        raise ValueError(f"cannot start from {source}: its model differs ({detail})")
    # float16 weights (bundled models) become float32: load_state_dict copies into the model
    load_weights(model, directory / WEIGHTS_FILE)
