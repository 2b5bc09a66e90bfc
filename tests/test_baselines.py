"""Baselines share tasks, backbones, losses and metrics with the CTM, and can match its size."""

import pytest
import torch

from ctm.model import CTM, CTMConfig, build_model, load_model
from ctm.model.baselines import (
    FeedForwardBaseline,
    LSTMBaseline,
    RecursiveBaseline,
    match_parameters,
    parameter_count,
)
from ctm.run import RunConfig
from ctm.train import Trainer

SMALL = dict(d_model=32, d_input=8, heads=2, ticks=4, n_sync_out=8, n_sync_action=8,
             out_dims=10, out_shape=(-1,), backbone="resnet18-1", in_channels=1)


@pytest.mark.parametrize("architecture", ["lstm", "feedforward", "recursive"])
def test_baselines_give_ctm_shaped_outputs(architecture):
    model = build_model(CTMConfig(**SMALL, architecture=architecture))
    out = model(torch.randn(3, 1, 8, 8), trace=True)
    ticks = 1 if architecture == "feedforward" else 4
    assert out.logits.shape == (3, ticks, 10) and out.certainty.shape == (3, ticks)
    if architecture == "lstm":
        assert isinstance(model, LSTMBaseline)
        assert out.attention.shape == (3, 4, 2, 16)
    if architecture == "feedforward":
        assert isinstance(model, FeedForwardBaseline)
    else:
        assert model(torch.randn(2, 1, 8, 8), ticks=7).logits.shape == (2, 7, 10)
    if architecture == "recursive":
        assert isinstance(model, RecursiveBaseline)
        assert out.post_activations.shape == (3, 4, 32)


def test_the_recursive_baseline_answers_each_token_for_itself():
    """With out_shape (tokens, classes) each token gets its own answer from a state that
    attention mixes: permuting the tokens (which carry their own positions) permutes the
    answers, and changing one token changes the others' answers too. After an image backbone,
    learned queries read the answers."""
    config = CTMConfig(**{**SMALL, "out_dims": 6 * 3, "out_shape": (6, 3), "backbone": "none",
                          "in_channels": 5}, architecture="recursive")
    model = build_model(config).eval()
    x = torch.randn(2, 6, 5)
    out = model(x).logits.view(2, 4, 6, 3)
    order = torch.tensor([3, 0, 5, 1, 4, 2])
    permuted = model(x[:, order]).logits.view(2, 4, 6, 3)
    torch.testing.assert_close(permuted, out[:, :, order], atol=1e-5, rtol=1e-5)
    changed = x.clone()
    changed[:, 0] += 1.0
    moved = (model(changed).logits.view(2, 4, 6, 3) - out)[:, :, 1:].abs().amax()
    assert moved > 1e-3
    with pytest.raises(ValueError, match="wants 6 tokens, the input gives 4"):
        model(torch.randn(2, 4, 5))
    # after an image backbone, the six answers come from six learned queries over the patches
    image = build_model(CTMConfig(**{**SMALL, "out_dims": 18, "out_shape": (6, 3)},
                                  architecture="recursive"))
    assert image.group_queries.shape == (6, 32) and model.group_queries is None
    assert image(torch.randn(2, 1, 8, 8)).logits.shape == (2, 4, 18)


def test_the_ctm_class_refuses_a_baseline_config():
    with pytest.raises(ValueError, match="build_model"):
        CTM(CTMConfig(**SMALL, architecture="lstm"))


def test_parameter_count_and_matching():
    ctm_config = CTMConfig(**SMALL)
    target = sum(p.numel() for p in CTM(ctm_config).parameters())
    assert parameter_count(ctm_config) == target
    for architecture in ("lstm", "feedforward", "recursive"):
        matched = match_parameters(CTMConfig(**SMALL, architecture=architecture), target)
        got = parameter_count(matched)
        step = 2 if architecture == "recursive" else 1  # attention's heads divide its width
        assert matched.d_model % step == 0
        for other in (matched.d_model - step, matched.d_model + step):
            # no closer width one step away
            assert abs(got - target) <= abs(parameter_count(CTMConfig(
                **{**SMALL, "d_model": other}, architecture=architecture)) - target)
        assert abs(got - target) / target < 0.05


@pytest.mark.parametrize("architecture", ["lstm", "feedforward", "recursive"])
def test_baselines_train_save_and_load_through_the_shared_trainer(tmp_path, architecture):
    run = RunConfig.create("images", {}, {"d_model": 16, "d_input": 8, "heads": 2, "ticks": 3,
                                          "architecture": architecture},
                           {"steps": 3, "batch_size": 8, "eval_every": 3,
                            "checkpoint_every": 3})
    metrics = Trainer(run, tmp_path, progress=False).fit()
    assert 0 <= metrics["accuracy"] <= 1
    loaded = load_model(tmp_path / "model")
    assert loaded.config.architecture == architecture
    Trainer(run, tmp_path, resume=True, progress=False)  # resumes from its checkpoint


def test_train_command_matches_a_baseline_to_the_ctm(tmp_path, capsys):
    import json

    from ctm.cli import main

    argv = ["train", "images", "--architecture", "lstm", "--match-ctm", "--steps", "1",
            "--batch-size", "4", "--no-progress", "--out", str(tmp_path / "lstm")]
    assert main(argv) == 0
    assert "the CTM has" in capsys.readouterr().err
    config = json.loads((tmp_path / "lstm" / "config.json").read_text())["model"]
    ctm_config = RunConfig.create("images", {}, {}, {}).model
    matched = CTMConfig.from_dict(config)
    assert abs(parameter_count(matched) - parameter_count(ctm_config)) / parameter_count(
        ctm_config) < 0.05


def test_every_architecture_says_what_tasks_ask_of_it():
    # tasks check capabilities, not names: a new architecture declares both
    from ctm.model import ARCHITECTURES

    said = {name: (ARCHITECTURES.get(name).answers_over_ticks,
                   ARCHITECTURES.get(name).carries_state) for name in ARCHITECTURES.names()}
    assert said == {"ctm": (True, True), "lstm": (True, True), "feedforward": (False, False),
                    "recursive": (True, False), "original-rl": (True, True)}
    for name in ARCHITECTURES.names():  # a state carried means a start state to carry from
        model = ARCHITECTURES.get(name)
        assert model.carries_state == hasattr(model, "initial_state"), name
    assert {n for n in ARCHITECTURES.names() if ARCHITECTURES.get(n).traces} == {
        "ctm", "original-rl"}  # their traced output holds activations and synchronisation
