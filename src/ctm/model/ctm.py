"""The Continuous Thought Machine: the tick loop of DESIGN.md section 1."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
import torch.utils.checkpoint
from torch import nn

from ..compilation import use_persistent_cache
from .build import load_model, save_model
from .config import CTMConfig, CTMOutput
from .inputs import build_input
from .memory import MemoryFields, Recall
from .neurons import NeuronLevelModels
from .pretrained import Pretrained
from .readout import build_readout
from .registry import ARCHITECTURES
from .state import CarriedBatch, Supervised
from .synapse import build_synapse
from .sync import DECAY_MAX, Synchronisation


def normalised_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Entropy of softmax over the last dim, divided by log(classes): 0 = one-hot, 1 = uniform.

    Written with the original's operations in the original's order: certainties decide the
    most-certain tick, and near-ties must break the same way as in the original."""
    entropy = -torch.sum(F.softmax(logits, dim=-1) * F.log_softmax(logits, dim=-1), dim=-1)
    return entropy / torch.log(torch.tensor(logits.shape[-1], dtype=torch.float32))


def _group_entropies(logits: torch.Tensor, groups_shape: tuple[int, ...]) -> torch.Tensor:
    """(B, T, out_dims) logits -> (B, T, groups) normalised entropies."""
    b, t, _ = logits.shape
    return normalised_entropy(logits.reshape(b, t, -1, groups_shape[-1]))


def certainty(logits: torch.Tensor, groups_shape: tuple[int, ...]) -> torch.Tensor:
    """(B, T, out_dims) logits -> (B, T) certainty, 1 - normalised entropy averaged over groups."""
    return 1 - _group_entropies(logits, groups_shape).mean(-1)


def least_certainty(logits: torch.Tensor, groups_shape: tuple[int, ...]) -> torch.Tensor:
    """(B, T, out_dims) logits -> (B, T): the certainty of the least certain group. Where an
    answer is right only if every group is (a parity sequence, a Sudoku grid), one unsure
    group should keep the model thinking, which the mean over groups can hide."""
    return 1 - _group_entropies(logits, groups_shape).amax(-1)


@dataclass
class CarriedState(CarriedBatch):
    """What a CTM carries from one call to the next (`model(x, state=s)` -> `out.state`): its
    thinking continues where it stopped, on the next input (an agent's next observation).
    Unlike within one call, the synchronisation's beta is per sample, because samples reset at
    different times."""

    batch_dims: ClassVar[dict[str, int]] = {"history": 2}

    z: torch.Tensor  # (B, D) post-activations
    history: torch.Tensor  # (D, M, B) pre-activation history
    alpha_action: torch.Tensor  # (B, P_action)
    beta_action: torch.Tensor  # (B, P_action)
    alpha_out: torch.Tensor  # (B, P_out)
    beta_out: torch.Tensor  # (B, P_out)


@dataclass
class CarriedMemoryState(CarriedState, MemoryFields):
    """A CTM's carried state with its explicit memory (`memory_slots` > 0)."""


@dataclass
class ThinkingState:
    """What the tick loop carries from one tick to the next."""

    z: torch.Tensor  # (B, D) post-activations
    history: torch.Tensor  # (D, M, B) pre-activation history
    alpha_action: torch.Tensor  # (B, P_action)
    beta_action: torch.Tensor  # (P_action,), the same for every sample
    alpha_out: torch.Tensor  # (B, P_out)
    beta_out: torch.Tensor  # (P_out,)
    encoded: tuple[torch.Tensor, ...]  # the input mode's encoding, batch first
    r_action: torch.Tensor  # (P_action,) retention factors
    r_out: torch.Tensor  # (P_out,)
    nlm_weights: tuple[torch.Tensor, ...]  # neuron-level models' weights, temperature folded in
    ticks_done: int = 0
    memory: tuple[torch.Tensor, ...] = ()  # with memory: (entries, present, written), batch first
    recalled: tuple[torch.Tensor, ...] = ()  # with memory: its (keys, values, present)

    def select(self, index: torch.Tensor) -> ThinkingState:
        """The state of the samples at `index` (a 1-D index or boolean mask over B)."""
        return dataclasses.replace(
            self, z=self.z[index], history=self.history[:, :, index],
            alpha_action=self.alpha_action[index], alpha_out=self.alpha_out[index],
            encoded=tuple(e[index] for e in self.encoded),
            memory=tuple(m[index] for m in self.memory),
            recalled=tuple(r[index] for r in self.recalled))


@ARCHITECTURES.register("ctm", summary="the Continuous Thought Machine")
class CTM(Pretrained, nn.Module):
    """A Continuous Thought Machine.

    >>> model = CTM(CTMConfig(d_model=64, ticks=10, out_dims=16 * 2, out_shape=(16, 2)))
    >>> out = model(torch.randint(0, 2, (8, 16)) * 2 - 1)   # logits (8, 10, 32)
    """

    # what tasks ask of an architecture (each one says it of itself): an answer per tick, and
    # a state carried from one call to the next (`initial_state`, `out.state`)
    answers_over_ticks: ClassVar[bool] = True
    carries_state: ClassVar[bool] = True
    # with trace=True its output holds each tick's post-activations and synchronisation
    traces: ClassVar[bool] = True
    # it can keep an explicit memory across calls (`memory_slots`)
    recalls: ClassVar[bool] = True
    # it can read many outputs through a shared per-cell network (`readout="cells"`)
    cell_readout: ClassVar[bool] = True

    def __init__(self, config: CTMConfig) -> None:
        super().__init__()
        config.validate()
        if config.architecture != "ctm":
            raise ValueError(f"config.architecture is {config.architecture!r}: build it with "
                             f"ctm.model.build_model")
        self.config = config
        d, m = config.d_model, config.memory_length
        generator = torch.Generator().manual_seed(config.pair_seed)
        self.sync_out = Synchronisation(config, "out", generator)
        query_size = config.sync_size("action")
        self.inputs = build_input(config, query_size)
        self.recall = (Recall(config, query_size, self.sync_out.size)
                       if config.memory_slots else None)
        # a model that reads no query (direct input, no memory) has no action synchronisation
        self.sync_action = (Synchronisation(config, "action", generator)
                            if self.inputs.uses_query or self.recall is not None else None)
        recalled = self.recall.out_features if self.recall is not None else 0
        self.synapse = build_synapse(config, self.inputs.out_features + recalled + d)
        self.nlm = NeuronLevelModels(config)
        self.output = build_readout(config, self.sync_out.size)
        self.value = nn.Linear(self.sync_out.size, 1) if config.value_head else None
        # deep supervision's halting head: does the synchronisation say the answer is exact?
        self.halt = nn.Linear(self.sync_out.size, 1) if config.deep_supervision else None
        self.start_post = nn.Parameter(torch.empty(d).uniform_(-(1 / d) ** 0.5, (1 / d) ** 0.5))
        bound = (1 / (d + m)) ** 0.5
        self.start_history = nn.Parameter(torch.empty(d, m).uniform_(-bound, bound))
        self._compiled_tick = None
        self._cuda_graphs = False
        self.checkpoint_ticks = False  # recompute each tick in backward to save memory

    def forward(self, x: torch.Tensor, ticks: int | None = None, trace: bool = False,
                state: CarriedState | None = None) -> CTMOutput:
        """Think for `ticks` ticks (default `config.ticks`) about input x.

        With trace=True the output also holds per-tick attention, pre-/post-activations and both
        synchronisations, kept on the model's device. With `state` (from `initial_state` or an
        earlier call's `out.state`) the thinking continues from it instead of the learned start.
        """
        n_ticks = self.config.ticks if ticks is None else int(ticks)
        if n_ticks < 1:
            raise ValueError(f"ticks must be >= 1, got {n_ticks}")
        if self._cuda_graphs and x.is_cuda:
            torch.compiler.cudagraph_mark_step_begin()  # each forward starts a new generation
        state = self.begin(x, state)
        logits, traces = [], {k: [] for k in ("attn", "pre", "post", "s_out", "s_act", "recall")}
        for _ in range(n_ticks):
            state, y, extras = self.tick(state)
            logits.append(y)
            if trace:
                s_out, s_action, attn, pre, recall = extras
                for key, value in zip(traces, (attn, pre, state.z, s_out, s_action, recall),
                                      strict=True):
                    if value is not None:
                        traces[key].append(value.detach())
        s_out = extras[0]
        if self.recall is not None:  # what this call saw goes into the memory for the next
            state = dataclasses.replace(state, memory=self.recall.store(*state.memory, s_out))

        stacked = torch.stack(logits, dim=1)  # (B, T, out_dims)
        out = CTMOutput(logits=stacked,
                        certainty=certainty(stacked, self.config.out_groups_shape),
                        sync_out=s_out, state=self._carried(state))
        if self.value is not None:
            with torch.autocast(s_out.device.type, enabled=False):
                out.value = self.value(s_out.float()).squeeze(-1)  # (B,)
        if trace:
            if traces["attn"]:
                out.attention = torch.stack(traces["attn"], 1)  # (B, T, heads, N)
            out.pre_activations = torch.stack(traces["pre"], 1)  # (B, T, D)
            out.post_activations = torch.stack(traces["post"], 1)  # (B, T, D)
            out.sync_out_trace = torch.stack(traces["s_out"], 1)  # (B, T, P_out)
            if traces["s_act"]:
                out.sync_action_trace = torch.stack(traces["s_act"], 1)  # (B, T, P_action)
            if traces["recall"]:
                out.memory_attention = torch.stack(traces["recall"], 1)  # (B, T, heads, K)
        return out

    @property
    def carry_type(self) -> type[CarriedState]:
        """What `supervise` carries (a checkpoint rebuilds it)."""
        return CarriedMemoryState if self.recall is not None else CarriedState

    def supervise(self, x: torch.Tensor, carry: CarriedState | None = None,
                  restart: torch.Tensor | None = None) -> Supervised:
        """One step as deep supervision trains a CTM: `cycles` ticks with gradients through
        them all, continuing from `carry` (None, or the rows where `restart` (B,) is true:
        from the learned start). The ticks' logits (B, cycles, out_dims), the halting logit
        (B,) read from the last tick's synchronisation, and the state to carry, detached."""
        if self.halt is None:
            raise ValueError("this CTM has no halting head: build it with deep_supervision")
        start = self.initial_state(x.shape[0])
        if carry is None:
            carry = start
        elif restart is not None:
            carry = carry.where(restart, start)
        out = self.forward(x, ticks=self.config.cycles, state=carry)
        # the halting head is a probe: its loss would otherwise pull on the synchronisation
        # that the answer is read from
        with torch.autocast(out.sync_out.device.type, enabled=False):
            halt = self.halt(out.sync_out.detach().float()).squeeze(-1)
        carried, out.state = out.state.detach(), None
        return Supervised(out, halt, carried)

    def begin(self, x: torch.Tensor, carried: CarriedState | None = None) -> ThinkingState:
        """Encode the input and set up the state before the first tick: the learned start, or
        `carried` from an earlier call."""
        encoded = self.inputs.encode(x)
        start = carried if carried is not None else self._start(x.shape[0], shared_beta=True)
        if start.z.shape[0] != x.shape[0]:
            raise ValueError(f"a carried state of {start.z.shape[0]} samples for an input of "
                             f"{x.shape[0]}")
        memory: tuple[torch.Tensor, ...] = ()
        if self.recall is not None:
            memory = ((start.entries, start.present, start.written)
                      if isinstance(start, MemoryFields)
                      else self.recall.empty(x.shape[0], start.z))
        return ThinkingState(
            z=start.z, history=start.history, alpha_action=start.alpha_action,
            beta_action=start.beta_action, alpha_out=start.alpha_out, beta_out=start.beta_out,
            encoded=encoded,
            r_action=(self.sync_action.retention() if self.sync_action is not None
                      else start.z.new_zeros(0)),
            r_out=self.sync_out.retention(), nlm_weights=self.nlm.scaled_weights(),
            memory=memory,
            recalled=self.recall.encode(*memory[:2]) if self.recall is not None else ())

    def initial_state(self, batch_size: int) -> CarriedState:
        """The learned start state for `batch_size` samples, to pass as `state=` (with an
        empty memory, if the model has one)."""
        start = self._start(batch_size, shared_beta=False)
        if self.recall is None:
            return start
        entries, present, written = self.recall.empty(batch_size, start.z)
        return CarriedMemoryState(**vars(start), entries=entries, present=present,
                                  written=written)

    def _start(self, b: int, shared_beta: bool) -> CarriedState:
        z = self.start_post.expand(b, -1)  # (B, D)
        alpha_out, beta_out = self.sync_out.start(z)
        action = self.sync_action.size if self.sync_action is not None else 0
        # zero action state: the first update then gives exactly the first tick's (products, 1)
        beta_action = z.new_zeros(action)
        if not shared_beta:  # within one call every sample's beta is the same: keep one row
            beta_out, beta_action = beta_out.expand(b, -1), beta_action.expand(b, -1)
        return CarriedState(z=z, history=self.start_history.unsqueeze(-1).expand(-1, -1, b),
                            alpha_action=z.new_zeros(b, action), beta_action=beta_action,
                            alpha_out=alpha_out, beta_out=beta_out)

    @staticmethod
    def _carried(state: ThinkingState) -> CarriedState:
        b = state.z.shape[0]
        fields = dict(z=state.z, history=state.history, alpha_action=state.alpha_action,
                      beta_action=state.beta_action.expand(b, -1),
                      alpha_out=state.alpha_out, beta_out=state.beta_out.expand(b, -1))
        if state.memory:
            entries, present, written = state.memory
            return CarriedMemoryState(**fields, entries=entries, present=present,
                                      written=written)
        return CarriedState(**fields)

    def tick(self, state: ThinkingState
             ) -> tuple[ThinkingState, torch.Tensor, tuple[torch.Tensor, ...]]:
        """One tick: (next state, logits (B, out_dims), (sync_out, sync_action, attention,
        pre-activations, memory attention))."""
        s = state
        step = self._compiled_tick or self._tick
        tick_inputs = self.inputs.at_tick(s.encoded, s.ticks_done) + s.recalled
        inputs = (s.z, s.history, s.alpha_action, s.beta_action, s.alpha_out, s.beta_out,
                  s.r_action, s.r_out, len(tick_inputs), *tick_inputs, *s.nlm_weights)
        if self.checkpoint_ticks and torch.is_grad_enabled():
            # keep only each tick's inputs for backward and recompute the rest: activation
            # memory no longer grows with a tick's internals, at the price of a second forward
            outputs = torch.utils.checkpoint.checkpoint(step, *inputs, use_reentrant=False)
        else:
            outputs = step(*inputs)
        if self._cuda_graphs and s.z.is_cuda:
            # a graph's outputs live in memory its next replay overwrites
            outputs = tuple(o if o is None else o.clone() for o in outputs)
        (z, history, alpha_action, beta_action, alpha_out, beta_out, logits, s_out, s_action,
         attn, pre, recall) = outputs
        new = dataclasses.replace(s, z=z, history=history, alpha_action=alpha_action,
                                  beta_action=beta_action, alpha_out=alpha_out,
                                  beta_out=beta_out, ticks_done=s.ticks_done + 1)
        return new, logits, (s_out, s_action, attn, pre, recall)

    def _tick(self, z: torch.Tensor, history: torch.Tensor, alpha_action: torch.Tensor,
              beta_action: torch.Tensor, alpha_out: torch.Tensor, beta_out: torch.Tensor,
              r_action: torch.Tensor, r_out: torch.Tensor, n_tick_inputs: int,
              *rest: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        """One tick, DESIGN.md section 1 steps 1-6; tensors in, tensors out, so that
        `torch.compile` can fuse it. `rest` is the input mode's tensors for this tick, then the
        memory's three (keys, values, present) if it has one, `n_tick_inputs` in all, then the
        neuron-level models' weights."""
        tick_inputs, nlm_weights = rest[:n_tick_inputs], rest[n_tick_inputs:]
        s_action = None
        if self.sync_action is not None:
            alpha_action, beta_action = self.sync_action.update(z, alpha_action, beta_action,
                                                                r_action)
            s_action = Synchronisation.read(alpha_action, beta_action)  # (B, P_action)
        recall = None
        if self.recall is not None:
            tick_inputs, remembered = tick_inputs[:-3], tick_inputs[-3:]
            recalled, recall = self.recall(s_action, *remembered)  # (B, d_in), (B, h, K)
        attended, attn = self.inputs(s_action, *tick_inputs)  # (B, d_in), (B, h, N) or None
        joined = [attended, recalled, z] if self.recall is not None else [attended, z]
        pre = self.synapse(torch.cat(joined, dim=-1))  # (B, D)
        history = torch.cat([history[:, 1:], pre.t().unsqueeze(1)], dim=1)  # (D, M, B)
        z = self.nlm(history, nlm_weights)  # (B, D)
        alpha_out, beta_out = self.sync_out.update(z, alpha_out, beta_out, r_out)
        s_out = Synchronisation.read(alpha_out, beta_out)  # (B, P_out)
        # the read-out stays in float32 under autocast: certainty is 1 - entropy of these
        # logits, and bf16 logits make near-tied ticks swap places
        with torch.autocast(s_out.device.type, enabled=False):
            logits = self.output(s_out.float())
        return (z, history, alpha_action, beta_action, alpha_out, beta_out, logits,
                s_out, s_action, attn, pre, recall)

    def compile_ticks(self, **options: Any) -> None:
        """Run each tick through `torch.compile` (slow first call; faster steps after).
        `mode="reduce-overhead"` also replays each tick as a CUDA graph on GPUs, where a tick's
        many small kernels otherwise wait on their launches."""
        use_persistent_cache()
        self._compiled_tick = torch.compile(self._tick, **options)
        self._cuda_graphs = options.get("mode") in ("reduce-overhead", "max-autotune")

    @torch.no_grad()
    def clamp_decays_(self) -> None:
        """Project decay parameters into [0, 15]; the trainer calls this after each step."""
        for sync in (self.sync_out, self.sync_action):
            if sync is not None:
                sync.decay.clamp_(0.0, DECAY_MAX)

    # --- files -------------------------------------------------------------------------------

    def save(self, directory: str | os.PathLike) -> None:
        """Write `model.safetensors` and `config.json` into `directory` (atomically)."""
        save_model(self, directory)

    @classmethod
    def load(cls, directory: str | os.PathLike, map_location: str = "cpu") -> CTM:
        model = load_model(directory, map_location)
        if not isinstance(model, cls):
            raise ValueError(f"{directory} holds a {model.config.architecture} model, not a CTM")
        return model

    @classmethod
    def from_original(cls, state_dict: dict[str, torch.Tensor], original_kwargs: dict) -> CTM:
        """Build a CTM from a state dict saved by the original research code and the keyword
        arguments its `ContinuousThoughtMachine` was constructed with."""
        from .original import check_state_dict, config_from_original, state_dict_from_original

        config = config_from_original(original_kwargs, state_dict)
        model = cls(config)
        converted = state_dict_from_original(state_dict, config)
        check_state_dict(model.state_dict(), converted)
        model.load_state_dict(converted)
        return model
