"""The optimisers training steps with: AdamW, and Muon beside AdamW (`--optimizer muon`).

torch's AdamW defaults to a Python loop over the parameters on a CPU, one small kernel per
tensor and operation; its fused kernel updates every tensor in one pass and is several times
faster there (and on CUDA), with the same state, so checkpoints move freely between the two.
The fused kernel takes plain tensors only: sharded parameters (FSDP's DTensors) keep torch's
own choice. Training on several processes keeps it too: there DDP hands the optimiser
gradients that are views into its communication buckets, and the fused CPU kernel rounds
differently with their memory offsets: a last-bit difference each step, which accumulates
until a run on two processes no longer matches one on a single process as closely as
tests/test_distributed.py asks, where torch's loop does.

Muon (torch.optim.Muon) orthogonalises each update of a weight matrix, so it suits the
matrices of linear layers only; the model's read-out, embeddings, convolutions, biases, norms,
decays, start states and the neuron-level models' per-neuron weights (three-dimensional) step
with AdamW as before. Muon's steps are scaled to AdamW's update size (`match_rms_adamw`), so
one `--lr` and one schedule serve both.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

import torch

FUSED_DEVICES = ("cpu", "cuda")
OPTIMIZERS = ("adamw", "muon")


def check_optimizer(name: str) -> None:
    """ValueError unless `name` is one of OPTIMIZERS (a config's check and the builder's)."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {name!r}")


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


def muon_parameters(model: torch.nn.Module) -> list[str]:
    """Names of the parameters Muon updates: the weight matrices of linear layers (attention's
    projections included, LSTM cells' too), except the model's read-out, whose outputs are the
    logits and whose update Muon's equal singular values would distort: every layer of a
    module named `output` (the CTM's and the LSTM's read-out, plain or `cells`), or else the
    model's last linear layer."""
    modules = dict(model.named_modules())
    outputs = [name for name in modules if name.rpartition(".")[2] == "output"]
    linear = [name for name, module in modules.items() if isinstance(module, torch.nn.Linear)]
    readout = outputs[0] if outputs else (linear[-1] if linear else None)
    names = []
    for name, param in model.named_parameters():
        owner, _, leaf = name.rpartition(".")
        if param.ndim != 2 or not leaf.startswith(("weight", "in_proj_weight")):
            continue
        if isinstance(modules.get(owner), torch.nn.Embedding):
            continue
        if readout is not None and (owner == readout or owner.startswith(readout + ".")):
            continue
        names.append(name)
    return names


class MuonWithAdamW(torch.optim.Optimizer):
    """Muon for `muon_parameters(model)`, AdamW for the rest, as one optimiser.

    Both inner optimisers keep their state in this one's `state` and their groups in its
    `param_groups` (Muon's first), so the schedule, gradient clipping, checkpoints and
    `load_state_dict` see a single optimiser."""

    def __init__(self, model: torch.nn.Module, lr: float, weight_decay: float,
                 fused: bool | None = None) -> None:
        chosen = set(muon_parameters(model))
        if not chosen:
            raise ValueError(f"--optimizer muon: this model ({type(model).__name__}) has no "
                             f"linear weight matrix besides its read-out for Muon to update")
        params = dict(model.named_parameters())
        rest = [p for name, p in params.items() if name not in chosen]
        self._muon = torch.optim.Muon([params[name] for name in params if name in chosen],
                                      lr=lr, weight_decay=weight_decay,
                                      adjust_lr_fn="match_rms_adamw")
        self._adamw = adamw(rest, lr=lr, weight_decay=weight_decay, fused=fused)
        super().__init__(self._muon.param_groups + self._adamw.param_groups, {})
        self._share()

    def _share(self) -> None:
        """Point both inner optimisers at this one's groups and state (again after a load,
        which replaces them)."""
        muon_groups = len(self._muon.param_groups)
        self._muon.param_groups = self.param_groups[:muon_groups]
        self._adamw.param_groups = self.param_groups[muon_groups:]
        self._muon.state = self._adamw.state = self.state

    @torch.no_grad()
    def step(self, closure: Any = None) -> None:  # type: ignore[override]
        if closure is not None:
            raise ValueError("MuonWithAdamW.step takes no closure")
        self._muon.step()
        self._adamw.step()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if len(state_dict.get("param_groups", [])) != len(self.param_groups):
            raise ValueError("this optimiser state is not Muon's beside AdamW's (it has "
                             f"{len(state_dict.get('param_groups', []))} parameter groups)")
        super().load_state_dict(state_dict)
        self._share()


def build_optimizer(name: str, model: torch.nn.Module, lr: float, weight_decay: float,
                    fused: bool | None = None) -> torch.optim.Optimizer:
    """The optimiser `--optimizer NAME` trains `model` with."""
    check_optimizer(name)
    if name == "muon":
        return MuonWithAdamW(model, lr=lr, weight_decay=weight_decay, fused=fused)
    return adamw(model.parameters(), lr=lr, weight_decay=weight_decay, fused=fused)
