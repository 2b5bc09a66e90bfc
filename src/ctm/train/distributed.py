"""Training on several processes: one per GPU (or per CPU socket), started by `torchrun`.

`torchrun --nproc-per-node N -m ctm train TASK ...` starts N copies of `ctm train`; each reads
its rank from the environment torchrun sets. Every process builds the same model from the same
seed and trains on its own slice of each step's global batch (`--batch-size` is the global
batch, split evenly), so a run on N processes computes what one process would with the same
`--batch-size`, up to the order of floating-point sums. Two ways to share the work:

- `ddp` (the default): every process holds the whole model and optimiser; gradients are averaged
  during the backward pass (DistributedDataParallel). Use it whenever the model and its AdamW
  state fit on one device: it is the faster one.
- `fsdp`: parameters, gradients and optimiser state are sharded over the processes
  (`fully_shard`, FSDP2) and gathered for each forward and backward pass. Use it when the model
  with its optimiser state does not fit on one device. The whole model is sharded as one unit:
  a CTM reuses its weights at every tick, so gathering per layer would repeat the gathering
  once per tick.

Only rank 0 writes the run directory (config, metrics, TensorBoard, checkpoints, models).
Checkpoints hold whole (unsharded) weights and optimiser state, so a run may resume on a
different number of processes when its global batch still splits evenly.
"""

from __future__ import annotations

import datetime
import os
import time
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from ..optimizer import kernel_kept
from ..run.config import STRATEGIES

# long enough for a descheduled worker thread on a busy machine, short beside any run
_WORKERS_SETTLE_S = 0.2


class PeerLost(RuntimeError):
    """Another process of a distributed run failed or was killed; this one stops too."""


@dataclass(frozen=True)
class Processes:
    """Where this process stands in its run: rank `rank` of `world` (1: not distributed)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_environment(cls) -> Processes:
        """The ranks torchrun (or any launcher using its variables) set; one process without."""
        try:
            world = int(os.environ.get("WORLD_SIZE", "1"))
            rank = int(os.environ.get("RANK", "0"))
            local = int(os.environ.get("LOCAL_RANK", str(rank)))
        except ValueError:
            raise ValueError("WORLD_SIZE, RANK and LOCAL_RANK must be whole numbers (they are "
                             "set by torchrun)") from None
        if world < 1 or not 0 <= rank < world:
            raise ValueError(f"rank {rank} of world size {world} is not a valid process")
        return cls(rank, world, local)

    def start(self, device: torch.device, timeout_minutes: float = 60.0) -> torch.device:
        """Join the process group (NCCL on CUDA, gloo otherwise); returns this process's
        device (CUDA: the GPU numbered by the local rank)."""
        if not self.distributed:
            return device
        if device.type == "cuda":
            device = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(device)
        if not dist.is_initialized():
            backend = "nccl" if device.type == "cuda" else "gloo"
            dist.init_process_group(backend, timeout=datetime.timedelta(
                minutes=timeout_minutes), device_id=device if device.type == "cuda" else None)
        return device

    def stop(self) -> None:
        if self.distributed and dist.is_initialized():
            dist.destroy_process_group()
            # gloo's worker threads drop a finished collective's tensors a moment after the
            # caller has been told it finished, and dropping one needs the interpreter; a
            # process that exits within that moment aborts ("terminate called without an
            # active exception") when a worker reaches for the interpreter while Python shuts
            # down. The threads outlive destroy_process_group, so give them that moment.
            time.sleep(_WORKERS_SETTLE_S)

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def mean(self, values: list[float], device: torch.device) -> list[float]:
        """Each value averaged over the processes (all of them must call this)."""
        if not self.distributed or not values:
            return values
        # gloo reduces CPU tensors; NCCL only CUDA ones
        where = device if device.type == "cuda" else torch.device("cpu")
        total = torch.tensor(values, dtype=torch.float64, device=where)
        dist.all_reduce(total)
        return (total / self.world).tolist()

    def any(self, flag: bool, device: torch.device) -> bool:
        """True on every process when `flag` is true on any (all of them must call this)."""
        if not self.distributed:
            return flag
        where = device if device.type == "cuda" else torch.device("cpu")
        count = torch.tensor([1.0 if flag else 0.0], device=where)
        dist.all_reduce(count)
        return bool(count.item() > 0)

    def split(self, batch_size: int) -> int:
        """This process's share of a global batch; refuses a batch that does not split."""
        if batch_size % self.world:
            raise ValueError(f"--batch-size {batch_size} does not split evenly over "
                             f"{self.world} processes: use a multiple of {self.world}")
        return batch_size // self.world


class SharedModule(torch.nn.parallel.DistributedDataParallel):
    """DistributedDataParallel that lets tasks use the model's own attributes and methods
    (its config, `initial_state`) as they would on the bare model."""

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.module, name)


def share(model: torch.nn.Module, strategy: str, processes: Processes,
          device: torch.device) -> torch.nn.Module:
    """The module to train with: `model` itself on one process, wrapped for `strategy` on
    several. With `fsdp` the model is sharded in place and returned."""
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
    if not processes.distributed:
        return model
    if device.type == "cuda":
        # batch norm (the ResNet backbones) over the global batch, as one process would;
        # gloo has no SyncBatchNorm, so on the CPU each process normalises its own part
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    if strategy == "ddp":
        ids = [device.index] if device.type == "cuda" else None
        return SharedModule(model, device_ids=ids)
    from torch.distributed.fsdp import fully_shard, register_fsdp_forward_method

    fully_shard(model)
    if hasattr(model, "initial_state"):  # reads the start parameters outside forward
        register_fsdp_forward_method(model, "initial_state")
    return model


def full_state_dict(model: torch.nn.Module, strategy: str, processes: Processes
                    ) -> dict[str, torch.Tensor]:
    """The whole model's weights on CPU, for saving on rank 0. Under fsdp every process must
    call this (it gathers the shards); the other ranks get an empty dict."""
    if processes.distributed and strategy == "fsdp":
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        return get_model_state_dict(model, options=StateDictOptions(full_state_dict=True,
                                                                    cpu_offload=True))
    bare = model.module if isinstance(model, SharedModule) else model
    return {k: v.detach().cpu() for k, v in bare.state_dict().items()}


def full_optimizer_state(model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                         strategy: str, processes: Processes) -> dict[str, Any]:
    """The optimiser's state as `optimizer.state_dict()` of an unsharded model would give it
    (parameters numbered in `named_parameters` order), whatever the strategy."""
    if not (processes.distributed and strategy == "fsdp"):
        return optimizer.state_dict()
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        get_optimizer_state_dict,
    )

    named = get_optimizer_state_dict(model, optimizer, options=StateDictOptions(
        full_state_dict=True, cpu_offload=True))
    if not processes.main:
        return {}
    index = {name: i for i, (name, _) in enumerate(model.named_parameters())}
    groups = [{**g, "params": [index[n] for n in g["params"]]} for g in named["param_groups"]]
    return {"state": {index[n]: s for n, s in named["state"].items()}, "param_groups": groups}


def load_optimizer_state(model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                         state: dict[str, Any], strategy: str, processes: Processes) -> None:
    """Load what `full_optimizer_state` saved (every process reads the same file); the
    optimiser keeps its own kernel (fused or not), whatever the saving run used."""
    with kernel_kept(optimizer):
        _load_optimizer_state(model, optimizer, state, strategy, processes)


def _load_optimizer_state(model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                          state: dict[str, Any], strategy: str, processes: Processes) -> None:
    if not (processes.distributed and strategy == "fsdp"):
        optimizer.load_state_dict(state)
        return
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        set_optimizer_state_dict,
    )

    names = [name for name, _ in model.named_parameters()]
    groups = [{**g, "params": [names[i] for i in g["params"]]} for g in state["param_groups"]]
    named = {"state": {names[i]: s for i, s in state["state"].items()}, "param_groups": groups}
    set_optimizer_state_dict(model, optimizer, named,
                             options=StateDictOptions(full_state_dict=True))
