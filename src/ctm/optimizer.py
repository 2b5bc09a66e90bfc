"""The AdamW that training and `ctm bench` step with.

torch's AdamW defaults to a Python loop over the parameters on a CPU, one small kernel per
tensor and operation; its fused kernel updates every tensor in one pass and is several times
faster there (and on CUDA), with the same state, so checkpoints move freely between the two.
The fused kernel takes plain tensors only: sharded parameters (FSDP's DTensors) keep torch's
own choice. Training on several processes keeps it too: there DDP hands the optimiser
gradients that are views into its communication buckets, and the fused CPU kernel rounds
differently with their memory offsets: a last-bit difference each step, which accumulates
until a run on two processes no longer matches one on a single process as closely as
tests/test_distributed.py asks, where torch's loop does.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

import torch

FUSED_DEVICES = ("cpu", "cuda")


def can_fuse(params: list[torch.Tensor]) -> bool:
    """Whether AdamW's fused kernel takes these parameters."""
    return bool(params) and all(
        type(p) in (torch.Tensor, torch.nn.Parameter) and p.device.type in FUSED_DEVICES
        and p.dtype.is_floating_point for p in params)


def adamw(params: Iterable[torch.Tensor], lr: float, weight_decay: float = 1e-2,
          fused: bool | None = None) -> torch.optim.AdamW:
    """AdamW, fused where the parameters allow (`fused=None`), or as `fused` says."""
    params = list(params)
    if fused is None:
        fused = can_fuse(params)
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay,
                             fused=True if fused else None)


@contextlib.contextmanager
def kernel_kept(optimizer: torch.optim.Optimizer) -> Iterator[None]:
    """Load a saved state inside this block: the optimiser keeps the kernel it was built with.

    A saved state carries the kernel choice of the run that saved it (runs from before the
    fused kernel carry none), and loading it would otherwise switch the kernel back. Fused
    steps need their step counters on the parameters' device, where the unfused CUDA AdamW
    keeps them on the CPU."""
    kernels = [group.get("fused") for group in optimizer.param_groups]
    yield
    for group, fused in zip(optimizer.param_groups, kernels, strict=True):
        group["fused"] = fused
        if not fused:
            continue
        for param in group["params"]:
            state = optimizer.state.get(param, {})
            if torch.is_tensor(state.get("step")):
                state["step"] = state["step"].to(param.device, torch.float32)
