"""Conversion between our CTM and checkpoints of the original research code
(SakanaAI/continuous-thought-machines, `models/ctm.py`).

Most modules keep their names; the differences are renamed here, and the two layouts that differ
are converted: neuron-level weights ((in, out, D) there, (D, in, out) here) and synchronisation
neurons (n neurons per side there, an explicit list of P pairs here).
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..files import read_json
from .config import CTMConfig
from .sync import expand_pairs

_PAIRINGS = {"first-last": "dense", "random": "semi-dense", "random-pairing": "random-pairing"}
_BACKBONES = {"parity_backbone": "parity"}
_POSITIONAL = {"none": "none", "custom-rotational-1d": "rotational-1d"}

# (our prefix, original prefix); the first match wins, so specific prefixes come first.
_RENAMES = [
    ("start_post", "start_activated_state"),
    ("start_history", "start_trace"),
    ("inputs.backbone.initial_rgb.", "initial_rgb."),
    ("inputs.backbone.", "backbone."),  # image backbones: see _renames
    ("inputs.positional.", "positional_embedding."),
    ("inputs.kv_proj.", "kv_proj."),
    ("inputs.q_proj.", "q_proj."),
    ("inputs.attention.", "attention."),
    ("synapse.linear.", "synapses.1."),
    ("synapse.norm.", "synapses.3."),
    ("synapse.", "synapses."),
    ("output.", "output_projector.0."),
    ("sync_out.decay", "decay_params_out"),
    ("sync_action.decay", "decay_params_action"),
]


def _renames(config: CTMConfig) -> list[tuple[str, str]]:
    if config.backbone == "parity":
        return _RENAMES
    # the original's `backbone` is the ResNet alone; ours wraps it with initial_rgb
    return [("inputs.backbone.resnet.", "backbone.") if ours == "inputs.backbone." else (ours, t)
            for ours, t in _RENAMES]


_NLM_NAMES = {"weight": "w1", "bias": "b1", "temperature": "T"}


def config_from_original(kwargs: dict, state_dict: dict[str, torch.Tensor] | None = None
                         ) -> CTMConfig:
    """Our config for the original constructor's keyword arguments."""

    def get(name: str, default: object = None) -> object:
        if name not in kwargs and default is None:
            raise ValueError(f"original config lacks {name!r}")
        return kwargs.get(name, default)

    if get("do_layernorm_nlm", False):
        raise ValueError("do_layernorm_nlm=True (unused in the paper) is not supported")
    for flag in ("use_thought_attention", "use_static_thought_trace"):
        if kwargs.get(flag):
            raise ValueError(f"{flag}=True comes from a later fork and is not supported")
    select = get("neuron_select_type", "random-pairing")
    backbone = get("backbone_type")
    positional = get("positional_embedding_type", "none")
    for value, table, what in ((select, _PAIRINGS, "neuron_select_type"),
                               (positional, _POSITIONAL, "positional_embedding_type")):
        if value not in table:
            raise ValueError(f"unsupported {what} {value!r}; supported: {sorted(table)}")
    if not get("heads"):
        raise ValueError("heads=0 (no attention) is not supported")
    in_channels = 3
    if state_dict is not None and "initial_rgb.weight" in state_dict:
        in_channels = int(state_dict["initial_rgb.weight"].shape[1])
    dropout = float(get("dropout", 0.0))
    dropout_nlm = kwargs.get("dropout_nlm")
    return CTMConfig(
        d_model=int(get("d_model")), d_input=int(get("d_input")), heads=int(get("heads")),
        ticks=int(get("iterations")), memory_length=int(get("memory_length")),
        synapse_depth=int(get("synapse_depth")), deep_nlm=bool(get("deep_nlms")),
        nlm_hidden=int(get("memory_hidden_dims")), pairing=_PAIRINGS[select],
        n_sync_out=int(get("n_synch_out")), n_sync_action=int(get("n_synch_action")),
        n_self=int(kwargs.get("n_random_pairing_self", 0)) if select == "random-pairing" else 0,
        out_dims=int(get("out_dims")), out_shape=tuple(get("prediction_reshaper", [-1])),
        dropout=dropout, dropout_nlm=dropout if dropout_nlm is None else float(dropout_nlm),
        backbone=_BACKBONES.get(backbone, backbone), in_channels=in_channels,
        positional_embedding=_POSITIONAL[positional],
    )


def _rename(key: str, table: list[tuple[str, str]]) -> str | None:
    for ours, theirs in table:
        if key == ours or (ours.endswith(".") and key.startswith(ours)):
            return theirs + key[len(ours):]
    return None


def _nlm_key_pairs(config: CTMConfig) -> list[tuple[str, str, str]]:
    """(our key, original key, kind) for every neuron-level-model tensor."""
    rows = []
    for layer in range(2 if config.deep_nlm else 1):
        for ours, theirs in _NLM_NAMES.items():
            rows.append((f"nlm.layers.{layer}.{ours}", f"trace_processor.0.{2 * layer}.{theirs}",
                         ours))
    return rows


def _nlm_from_original(kind: str, value: torch.Tensor) -> torch.Tensor:
    """A neuron-level-model tensor ("weight", "bias" or "temperature") in our layout."""
    if kind == "weight":
        value = value.permute(2, 1, 0)  # (in, out, D) -> (D, out, in)
    elif kind == "bias":
        value = value.squeeze(0).unsqueeze(-1)  # (1, D, out) -> (D, out, 1)
    return value.contiguous()


def state_dict_from_original(original: dict[str, torch.Tensor], config: CTMConfig
                             ) -> dict[str, torch.Tensor]:
    """Map an original state dict onto our keys and layouts; every original tensor is used."""
    ours: dict[str, torch.Tensor] = {}
    used: set[str] = set()

    def take(key: str) -> torch.Tensor:
        if key not in original:
            raise KeyError(f"original state dict lacks {key!r}")
        used.add(key)
        return original[key]

    for kind in ("out", "action"):
        left = take(f"{kind}_neuron_indices_left").long()
        right = take(f"{kind}_neuron_indices_right").long()
        if config.pairing == "dense":  # the original slices instead of using these buffers
            n = len(left)
            start = 0 if kind == "out" else config.d_model - n
            left = right = torch.arange(start, start + n)
        ours[f"sync_{kind}.pair_left"], ours[f"sync_{kind}.pair_right"] = expand_pairs(
            config.pairing, left, right)
    for key, theirs, kind in _nlm_key_pairs(config):
        ours[key] = _nlm_from_original(kind, take(theirs))
    inverse = [(theirs, mine) for mine, theirs in _renames(config)]
    for key in original:
        if key in used:
            continue
        mine = _rename(key, inverse)
        if mine is None:
            raise KeyError(f"no counterpart for original key {key!r}")
        ours[mine] = original[key]
        used.add(key)
    return ours


def state_dict_to_original(state: dict[str, torch.Tensor], config: CTMConfig
                           ) -> dict[str, torch.Tensor]:
    """Our state dict in the original's keys and layouts (used by the reference model, which
    is a literal transcription of the original algorithm). Tensors missing from `state` (e.g.
    buffers, when converting gradients) are skipped."""
    theirs: dict[str, torch.Tensor] = {}
    for kind in ("out", "action"):
        if f"sync_{kind}.pair_left" not in state:
            continue
        left, right = state[f"sync_{kind}.pair_left"], state[f"sync_{kind}.pair_right"]
        if config.pairing != "random-pairing":
            n = config.n_sync_out if kind == "out" else config.n_sync_action
            i, j = torch.triu_indices(n, n)
            diagonal = i == j  # pair (k, k) holds left[k] and right[k]
            left, right = left[diagonal], right[diagonal]
        theirs[f"{kind}_neuron_indices_left"] = left.clone()
        theirs[f"{kind}_neuron_indices_right"] = right.clone()
    for key, original_key, kind in _nlm_key_pairs(config):
        if key not in state:
            continue
        value = state[key]
        if kind == "weight":
            value = value.permute(2, 1, 0)
        elif kind == "bias":
            value = value.squeeze(-1).unsqueeze(0)
        theirs[original_key] = value.contiguous()
    for key, value in state.items():
        if key.startswith(("sync_", "nlm.")) and not key.endswith(".decay"):
            continue
        mapped = _rename(key, _renames(config))
        if mapped is None:
            raise KeyError(f"no original counterpart for {key!r}")
        theirs[mapped] = value
    return theirs


def check_state_dict(expected: dict[str, torch.Tensor], given: dict[str, torch.Tensor]) -> None:
    """Raise one ValueError naming the first few missing, unexpected or mis-shaped tensors."""
    problems = [f"missing {k}" for k in expected if k not in given]
    problems += [f"unexpected {k}" for k in given if k not in expected]
    problems += [f"{k} has shape {tuple(given[k].shape)}, expected {tuple(v.shape)}"
                 for k, v in expected.items() if k in given and given[k].shape != v.shape]
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise ValueError("weights do not fit the configuration: " + "; ".join(problems[:3])
                         + more)


def constructor_from_training_args(args: dict) -> dict:
    """The constructor arguments the original code's analysis scripts build from the training
    arguments saved in its checkpoints (`checkpoint["args"]`), legacy names included: mazes
    reshape the output to (route length, 5) moves, everything else to one class vector."""

    def need(name: str) -> object:
        if name not in args:
            raise ValueError(f"the checkpoint's training arguments lack {name!r}")
        return args[name]

    backbone = args.get("backbone_type")
    if backbone is None and "resnet_type" in args:  # checkpoints from before backbone_type
        backbone = f"{args['resnet_type']}-{list(args.get('resnet_feature_scales', [4]))[-1]}"
    out_dims = int(need("out_dims"))
    maze = "maze_route_length" in args or "maze" in str(args.get("dataset", ""))
    return {
        "iterations": need("iterations"), "d_model": need("d_model"),
        "d_input": need("d_input"), "heads": need("heads"),
        "n_synch_out": need("n_synch_out"), "n_synch_action": need("n_synch_action"),
        "synapse_depth": need("synapse_depth"), "memory_length": need("memory_length"),
        "deep_nlms": need("deep_memory"), "memory_hidden_dims": need("memory_hidden_dims"),
        "do_layernorm_nlm": args.get("do_normalisation", False), "backbone_type": backbone,
        "positional_embedding_type": args.get("positional_embedding_type", "none"),
        "out_dims": out_dims, "prediction_reshaper": [out_dims // 5, 5] if maze else [-1],
        "dropout": 0.0, "neuron_select_type": args.get("neuron_select_type", "first-last"),
        "n_random_pairing_self": args.get("n_random_pairing_self", 0),
    }


def read_original_checkpoint(weights: Path, config: Path | None = None
                             ) -> tuple[dict[str, torch.Tensor], dict]:
    """(state dict, constructor arguments) from files of the original code: a `.pt` checkpoint
    (plain tensors, containers and the training arguments' argparse.Namespace only: loaded
    with `weights_only=True`, so no pickled code runs) or a `.safetensors` file, and a JSON
    of the constructor's arguments. Without `config`, the arguments come from the training
    arguments saved in the `.pt` checkpoint, as the original's released checkpoints hold them.
    Every problem is one ValueError or FileNotFoundError naming the file."""
    import argparse
    import warnings

    from safetensors import SafetensorError
    from safetensors.torch import load_file

    for path in (weights, config):
        if path is not None and not path.is_file():
            raise FileNotFoundError(f"{path} not found")
    kwargs: dict | None = None
    if config is not None:
        kwargs = read_json(config, "constructor arguments")
        if not isinstance(kwargs, dict):
            raise ValueError(f"{config} must hold a JSON object of constructor arguments")
        kwargs = kwargs.get("constructor", kwargs)  # our fixtures' layout too
    elif weights.suffix == ".safetensors":
        raise ValueError(f"{weights} holds no training arguments: give the constructor's "
                         f"arguments as a JSON file too")
    if weights.suffix == ".safetensors":
        try:
            state = load_file(weights)
        except SafetensorError as error:
            raise ValueError(f"{weights} is damaged or not a safetensors file ({error})"
                             ) from None
    else:
        try:
            # argparse.Namespace only stores attributes: safe to allow, and the released
            # checkpoints keep their training arguments in one
            with warnings.catch_warnings(), torch.serialization.safe_globals(
                    [argparse.Namespace]):  # torch warns about pickle protocols, in paragraphs
                warnings.simplefilter("ignore")
                state = torch.load(weights, map_location="cpu", weights_only=True)
        except Exception as error:  # torch raises several kinds, each with pages of advice
            text = str(error)
            detail = text.split("WeightsUnpickler error:", 1)[-1].strip().splitlines()[0]
            raise ValueError(f"refused to load {weights}: it is not a plain checkpoint of "
                             f"tensors that loads without running code ({detail[:80]}); "
                             f"nothing in it was executed") from None
        if isinstance(state, dict) and kwargs is None:
            if not isinstance(state.get("args"), argparse.Namespace | dict):
                raise ValueError(f"{weights} holds no training arguments ('args'): give the "
                                 f"constructor's arguments as a JSON file too")
            saved = state["args"]
            kwargs = constructor_from_training_args(
                vars(saved) if isinstance(saved, argparse.Namespace) else saved)
        if isinstance(state, dict):
            for key in ("model_state_dict", "state_dict"):  # ImageNet's, the mazes'
                if isinstance(state.get(key), dict):
                    state = state[key]
                    break
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor)
                                              for v in state.values()):
        raise ValueError(f"{weights} does not hold a state dict of tensors")
    return state, kwargs


# --- the original's RL agent (models/ctm_rl.py inside tasks/rl/train.py's Agent) -------------

# (original prefix, our prefix) beyond the neuron-level models. Its backbone is Flatten,
# Linear, GLU, LayerNorm, Linear, GLU, LayerNorm; ours has no Flatten, so its layers shift by one
_RL_RENAMES = [
    ("recurrent_model.start_trace", "start_pre"),
    ("recurrent_model.start_activated_trace", "start_post"),
    ("recurrent_model.decay_params_out", "decay"),
    ("recurrent_model.synapses.", "synapse."),
    *((f"recurrent_model.backbone.input_projector.{theirs}.", f"backbone.{ours}.")
      for theirs, ours in ((1, 0), (3, 2), (4, 3), (6, 5))),
    ("actor.", "actor."),
    ("critic.", "critic."),
]
# buffers the original keeps but its RL agent never reads (it slices the last neurons itself)
_RL_UNUSED = ("recurrent_model.out_neuron_indices_left", "recurrent_model.out_neuron_indices_right",
              "recurrent_model.diagonal_mask_out")


def rl_config_from_original(args: dict, observation_size: int, actions: int) -> CTMConfig:
    """Our `original-rl` config for the original RL script's arguments (tasks/rl/train.py)."""
    if args.get("model_type", "ctm") != "ctm":
        raise ValueError(f"model_type {args['model_type']!r}: only the CTM agent converts")
    if args.get("neuron_select_type") != "first-last":
        raise ValueError("the original's RL agent synchronises only with neuron_select_type "
                         f"'first-last', got {args.get('neuron_select_type')!r}")
    if args.get("do_normalisation", False):
        raise ValueError("do_normalisation=True (unused in the paper) is not supported")
    return CTMConfig(architecture="original-rl", input_mode="direct", backbone="none",
                     pairing="dense", d_model=int(args["d_model"]),
                     d_input=int(args["d_input"]), heads=1, ticks=int(args["iterations"]),
                     memory_length=int(args["memory_length"]),
                     synapse_depth=int(args["synapse_depth"]),
                     deep_nlm=bool(args["deep_memory"]),
                     nlm_hidden=int(args["memory_hidden_dims"]),
                     n_sync_out=int(args["n_synch_out"]), n_sync_action=1,
                     out_dims=actions, out_shape=(-1,), input_size=observation_size,
                     dropout=float(args.get("dropout", 0.0)), value_head=True)


def rl_state_dict_from_original(original: dict[str, torch.Tensor], config: CTMConfig
                                ) -> dict[str, torch.Tensor]:
    """The original RL Agent's state dict in our `original-rl` keys and layouts; every tensor
    it holds is used or known to be unused."""
    nlm = {f"recurrent_model.{theirs}": (ours, kind)
           for ours, theirs, kind in _nlm_key_pairs(config)}
    ours: dict[str, torch.Tensor] = {}
    for key, value in original.items():
        if key in _RL_UNUSED:
            continue
        if key in nlm:
            mine, kind = nlm[key]
            ours[mine] = _nlm_from_original(kind, value)
            continue
        mine = _rename(key, _RL_RENAMES)
        if mine is None:
            raise KeyError(f"no counterpart for original key {key!r}")
        ours[mine] = value
    return ours
