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


# run directories this process holds: within one process trainers take turns (a trainer
# stepped by hand and then left for a resumed one is a fine use of the library), so a second
# lock on a directory this process holds already is granted and holds nothing
_HELD_HERE: set[Path] = set()


class RunLock:
    """An exclusive lock on a run directory against other processes, taken at construction;
    `release()` (or the process's end) gives it up."""

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / LOCK_FILE
        self._file = None
        self._key = self.path.resolve()
        if fcntl is None or self._key in _HELD_HERE:
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
        _HELD_HERE.add(self._key)

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the descriptor drops the flock
            self._file = None
            _HELD_HERE.discard(self._key)
