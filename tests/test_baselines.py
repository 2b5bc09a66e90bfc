"""Baselines share tasks, backbones, losses and metrics with the CTM, and can match its size."""

import pytest
import torch

from ctm.model import CTM, CTMConfig, build_model, load_model
from ctm.model.baselines import FeedForwardBaseline, LSTMBaseline, match_parameters, parameter_count
from ctm.run import RunConfig
from ctm.train import Trainer

SMALL = dict(d_model=32, d_input=8, heads=2, ticks=4, n_sync_out=8, n_sync_action=8,
             out_dims=10, out_shape=(-1,), backbone="resnet18-1", in_channels=1)


@pytest.mark.parametrize("architecture", ["lstm", "feedforward"])
def test_baselines_give_ctm_shaped_outputs(architecture):
    model = build_model(CTMConfig(**SMALL, architecture=architecture))
    out = model(torch.randn(3, 1, 8, 8), trace=True)
    ticks = 4 if architecture == "lstm" else 1
    assert out.logits.shape == (3, ticks, 10) and out.certainty.shape == (3, ticks)
    if architecture == "lstm":
        assert isinstance(model, LSTMBaseline)
        assert out.attention.shape == (3, 4, 2, 16)
        assert model(torch.randn(2, 1, 8, 8), ticks=7).logits.shape == (2, 7, 10)
    else:
        assert isinstance(model, FeedForwardBaseline)


def test_the_ctm_class_refuses_a_baseline_config():
    with pytest.raises(ValueError, match="build_model"):
        CTM(CTMConfig(**SMALL, architecture="lstm"))


def test_parameter_count_and_matching():
    ctm_config = CTMConfig(**SMALL)
    target = sum(p.numel() for p in CTM(ctm_config).parameters())
    assert parameter_count(ctm_config) == target
    for architecture in ("lstm", "feedforward"):
        matched = match_parameters(CTMConfig(**SMALL, architecture=architecture), target)
        got = parameter_count(matched)
        one_more = parameter_count(CTMConfig(**{**SMALL, "d_model": matched.d_model + 1},
                                             architecture=architecture))
        assert abs(got - target) <= abs(one_more - got)  # no closer width one step away
        assert abs(got - target) / target < 0.05


@pytest.mark.parametrize("architecture", ["lstm", "feedforward"])
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
