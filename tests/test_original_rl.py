"""The `original-rl` architecture against golden outputs of the original research code's RL
agent (tests/fixtures/original_rl, written by scripts/original_rl_fixtures.py from the
original's commit aecfb63), and its life inside `ctm train rl`."""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from ctm.model import build_model
from ctm.model.original import rl_config_from_original, rl_state_dict_from_original
from ctm.model.original_rl import OriginalRLAgent
from ctm.run.config import RunConfig, build_task

FIXTURES = Path(__file__).parent / "fixtures" / "original_rl"
NAMES = ["cartpole_glu", "acrobot_unet"]
TOL = 1e-5


def converted(name):
    meta = json.loads((FIXTURES / f"{name}.json").read_text())
    io = load_file(FIXTURES / f"{name}.io.safetensors")
    config = rl_config_from_original(meta["args"], meta["observation_size"], meta["actions"])
    model = build_model(config)
    model.load_state_dict(rl_state_dict_from_original(
        load_file(FIXTURES / f"{name}.weights.safetensors"), config))
    return model.eval(), io


@pytest.mark.parametrize("name", NAMES)
def test_the_agent_computes_what_the_original_computes(name):
    """Step by step over three environments, two of which restart mid-way: the windowed
    synchronisation, the actor's logits, the critic's value and the carried windows."""
    model, io = converted(name)
    assert isinstance(model, OriginalRLAgent)
    envs = io["observations"].shape[1]
    initial = model.initial_state(envs)
    state = initial
    with torch.no_grad():
        for t, (x, done) in enumerate(zip(io["observations"], io["dones"], strict=True)):
            state = state.where(done.bool(), initial)
            out = model(x, state=state)
            for what, ours, theirs in (("synchronisation", out.sync_out, io["synchronisation"]),
                                       ("logits", out.logits[:, -1], io["logits"]),
                                       ("values", out.value, io["values"])):
                assert ours.shape == theirs[t].shape, what
                assert (ours - theirs[t]).abs().max().item() <= TOL, f"{what} at step {t}"
            state = out.state
    assert (state.pre - io["final_pre"]).abs().max().item() <= TOL
    assert (state.post - io["final_post"]).abs().max().item() <= TOL


def test_the_window_forgets_what_our_ctm_would_remember():
    """A hand-made window: synchronisation is the decay-weighted mean over the last M ticks
    only, divided by the root of the weights' sum, with decays clamped to [0, 4]."""
    model, _ = converted("cartpole_glu")
    d, m = model.config.d_model, model.config.memory_length
    post = torch.zeros(1, d, m)
    post[0, -1] = torch.arange(1.0, m + 1)  # the last neuron: 1, 2, ..., M (newest last)
    with torch.no_grad():
        model.decay.fill_(9.0)  # clamped to 4
        model.decay[-1] = 0.5
    sync = model.synchronisation(post)[0]
    weights = torch.exp(-0.5 * torch.arange(m - 1, -1, -1.0))
    expected = (weights * torch.arange(1.0, m + 1) ** 2).sum() / weights.sum().sqrt()
    assert torch.allclose(sync[-1], expected)  # the last pair is (last, last)
    assert torch.count_nonzero(sync[:-1]) == 0  # every other pair holds a zero neuron


def test_conversion_refuses_what_the_original_agent_cannot_be():
    args = json.loads((FIXTURES / "cartpole_glu.json").read_text())["args"]
    for change, words in (({"neuron_select_type": "random"}, "first-last"),
                          ({"model_type": "lstm"}, "only the CTM agent")):
        with pytest.raises(ValueError, match=words):
            rl_config_from_original({**args, **change}, 4, 2)
    _, _ = converted("cartpole_glu")
    weights = load_file(FIXTURES / "cartpole_glu.weights.safetensors")
    weights["recurrent_model.something_new"] = torch.zeros(1)
    with pytest.raises(KeyError, match="something_new"):
        rl_state_dict_from_original(weights, rl_config_from_original(args, 4, 2))


def test_rl_trains_the_original_agent_and_implies_its_pairing():
    run = RunConfig.create("rl", {"rollout_steps": 16, "chunk": 8, "epochs": 1,
                                  "minibatches": 2, "eval_episodes": 2},
                           {"architecture": "original-rl", "d_model": 16, "d_input": 8,
                            "n_sync_out": 4, "memory_length": 3, "ticks": 2},
                           {"steps": 1, "batch_size": 2})
    assert run.model.pairing == "dense"  # implied by the architecture, not the task's default
    model = build_model(run.model)
    task = build_task(run)
    batch = next(task.step_batches(model, 0, 2, 0, "cpu"))
    loss = task.loss(task.forward(model, batch), batch, run.model).loss
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    with pytest.raises(ValueError, match="pairing"):
        RunConfig.create("rl", {}, {"architecture": "original-rl", "pairing": "semi-dense"})


def test_the_original_agent_exports_one_environment_step_per_call(tmp_path):
    """Its value is an output like any value head's, and its carried windows go in and out."""
    from ctm.run.export import export_model

    run = RunConfig.create("rl", {}, {"architecture": "original-rl", "d_model": 16,
                                      "d_input": 8, "n_sync_out": 4, "memory_length": 3,
                                      "ticks": 2})
    model = build_model(run.model)
    exported = export_model(model, build_task(run), tmp_path, "torch-export")
    assert exported.outputs == ["logits", "certainty", "value", "pre", "post"]
    assert exported.max_difference is not None and exported.max_difference < 1e-5
