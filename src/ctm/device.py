"""Which device a run may use: a clear error before any work for one this machine lacks."""

from __future__ import annotations

import torch


def check_device(name: str) -> torch.device:
    """`torch.device(name)`, refused with one sentence when torch cannot parse it or this
    machine's torch build cannot use it (`cuda` on a CPU-only build, a GPU index too high)."""
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ValueError(f"device must be cpu, cuda, cuda:N or mps, got {name!r}") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            build = "a CPU-only build" if torch.version.cuda is None else "a CUDA build"
            raise ValueError(f"device {name!r}: this torch ({torch.__version__}, {build}) sees "
                             f"no CUDA GPU; use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"device {name!r}: only {torch.cuda.device_count()} CUDA GPU(s) "
                             f"here")
    elif device.type == "mps":
        if not torch.backends.mps.is_available():
            raise ValueError(f"device {name!r}: Apple's MPS is not available here; use "
                             f"--device cpu")
    elif device.type != "cpu":
        raise ValueError(f"device must be cpu, cuda, cuda:N or mps, got {name!r}")
    return device
