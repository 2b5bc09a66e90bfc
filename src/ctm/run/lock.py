"""One training process per run directory at a time.

Two `ctm train --resume RUN` at once would both append to `metrics.jsonl` and overwrite each
other's checkpoints. The process that trains a run holds an exclusive `flock` on `RUN/.lock`
for as long as it trains; a second one is refused with the first one's pid. The operating
system drops the lock when its process ends, however it ends, so a crash leaves no stale lock
behind (the file itself stays, empty of meaning).
"""

from __future__ import annotations

import os
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no flock; the lock is then a no-op
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = ".lock"


class RunInUse(ValueError):
    """Another process is training this run."""


class RunLock:
    """An exclusive lock on a run directory, taken at construction; `release()` (or the
    process's end) gives it up."""

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / LOCK_FILE
        self._file = None
        if fcntl is None:
            return
        file = open(self.path, "a+")  # noqa: SIM115 - held open for the lock's lifetime
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.seek(0)
            holder = file.read().strip() or "unknown"
            file.close()
            raise RunInUse(f"{run_dir} is being trained by another process (pid {holder}): "
                           f"wait for it to finish, or stop it (its checkpoint lets you "
                           f"resume)") from None
        file.seek(0)
        file.truncate()
        file.write(f"{os.getpid()}\n")
        file.flush()
        self._file = file

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the descriptor drops the flock
            self._file = None
