"""Numeric precision modes shared by training and benchmarks: float32, tf32 (CUDA matrix
products in TensorFloat-32) and bf16 (autocast)."""

from __future__ import annotations

import contextlib

import torch

PRECISIONS = ("float32", "tf32", "bf16")


def check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")


def apply_precision(precision: str) -> None:
    """Process-wide settings a mode needs (tf32 switches CUDA matmuls and convolutions)."""
    check_precision(precision)
    if precision == "tf32":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


def precision_context(precision: str, device: torch.device | str
                      ) -> contextlib.AbstractContextManager:
    """The autocast context a forward pass runs in (bf16), or none."""
    if precision == "bf16":
        return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
