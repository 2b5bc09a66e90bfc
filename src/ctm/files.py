"""Atomic file writes: a crash mid-write leaves the previous file, never half of a new one.

Every file is serialised in memory first and written with plain file I/O, so that a full or
read-only disk always surfaces as an OSError (torch's and safetensors' own writers report a
full disk as a RuntimeError, or not at all).
"""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
from pathlib import Path

import torch
from safetensors.torch import save


class WriteError(OSError):
    """A file could not be written (disk full, read-only, no permission); the message names the
    file and what is left of it."""

    def __init__(self, path: str | os.PathLike, cause: OSError, state: str) -> None:
        super().__init__(f"cannot write {path}: {cause.strerror or cause} ({state})")
        self.errno = cause.errno


def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to a temporary file beside `path`, fsync it, then rename it over `path`."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)
        if isinstance(error, OSError) and not isinstance(error, WriteError):
            raise WriteError(path, error, f"files are written whole or not at all: {path} is "
                                          f"as it was") from None
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def finite(data: object) -> object:
    """`data` with every NaN or infinite float replaced by None, so that it is strict JSON
    (JSON has no NaN; Python's json module would write a token other readers reject)."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: finite(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [finite(v) for v in data]
    return data


def read_json(path: str | os.PathLike, what: str) -> object:
    """Parsed JSON of `path`, or one error naming the file (and the position, for bad JSON);
    `what` names the kind of file in messages ("run config")."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a folder, not a {what} file")
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found")
    try:
        return json.loads(path.read_text())
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not a text file, so not a {what}") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON: {error.msg} at line {error.lineno}, "
                         f"column {error.colno}") from None


def json_line(data: object) -> str:
    """One strict-JSON line (non-finite numbers written as null)."""
    return json.dumps(finite(data), allow_nan=False)


def write_json(path: str | os.PathLike, data: object) -> None:
    text = json.dumps(finite(data), indent=2, allow_nan=False) + "\n"
    atomic_write(path, text.encode())


def write_safetensors(path: str | os.PathLike, tensors: dict[str, torch.Tensor],
                      metadata: dict[str, str] | None = None) -> None:
    contiguous = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    atomic_write(path, save(contiguous, metadata=metadata))


def write_torch(path: str | os.PathLike, obj: object) -> None:
    """For optimiser and RNG state: tensors and plain containers only, read back with
    `torch.load(..., weights_only=True)` so loading never runs pickled code."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write(path, buffer.getvalue())


def write_npz(path: str | os.PathLike, **arrays: object) -> None:
    """NumPy arrays into one .npz file, atomically."""
    import numpy as np

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, buffer.getvalue())


def cache_dir() -> Path:
    """Where ctm keeps what it made or fetched once (generated puzzle sets, onnxruntime-web):
    $CTM_CACHE, else ~/.cache/ctm."""
    return Path(os.environ.get("CTM_CACHE") or Path.home() / ".cache" / "ctm")
