"""Where torch.compile keeps what it compiled.

Inductor caches compiled kernels and graphs under `TORCHINDUCTOR_CACHE_DIR`, by default a
folder in /tmp, which a reboot empties; compiling a whole CTM thought takes minutes on a CPU,
so ctm keeps the cache in the user's cache folder instead, where a later run of the same
configuration finds it.
"""

from __future__ import annotations

import os
from pathlib import Path

# torch.compile's modes, as `ctm train --compile-mode` and `ctm bench --compile-mode` take them
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


def use_persistent_cache() -> Path:
    """Point inductor's cache at `~/.cache/ctm/inductor` (under `XDG_CACHE_HOME` when set)
    unless the user chose a folder with `TORCHINDUCTOR_CACHE_DIR`; returns the folder."""
    if "TORCHINDUCTOR_CACHE_DIR" not in os.environ:
        home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(home / "ctm" / "inductor")
    return Path(os.environ["TORCHINDUCTOR_CACHE_DIR"])
