"""Models shipped inside the package load, run and are competent."""

import json

import pytest
import torch

from ctm.bundled import available, bundled_dir
from ctm.cli import main
from ctm.run import build_task, load_run


def test_the_maze_model_is_bundled_and_loads_as_float32():
    assert "maze15" in available()
    run, model = load_run("bundled:maze15")
    assert run.task == "maze" and run.options.size == 15
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert not model.training
    assert bundled_dir("bundled:maze15") == bundled_dir("maze15")


def test_bundled_maze_model_solves_held_out_mazes():
    run, model = load_run("bundled:maze15")
    run.options.eval_size = 48
    task = build_task(run)
    metrics = task.evaluate(model, task.eval_batches(48, 123), "cpu")
    # an untrained model solves none; these 48 held-out mazes: 31 solved, 89.4% of route
    # steps right (MODEL.md has the figures on 1,000)
    assert metrics["per_step_accuracy"] > 0.85
    assert metrics["solve_rate"] >= 0.5


def test_cli_evaluates_a_bundled_model(capsys):
    assert main(["eval", "bundled:maze15", "--quick", "--json", "--eval-size", "16",
                 "--threads", "1"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert 0 <= metrics["solve_rate"] <= 1 and metrics["per_step_accuracy"] > 0.5


@pytest.mark.parametrize("name, architecture", [("parity16", "ctm"),
                                                ("parity16-recursive", "recursive")])
def test_bundled_parity_models_answer_held_out_sequences_whole(name, architecture):
    """Both are deep-supervised (their MODEL.md): an untrained model gets about 0 of 256
    sequences whole (chance is 1 in 65,536)."""
    run, model = load_run(f"bundled:{name}")
    assert run.task == "parity" and run.options.length == 16
    assert run.model.architecture == architecture and run.model.deep_supervision
    run.options.eval_size = 256
    task = build_task(run)
    metrics = task.evaluate(model, task.eval_batches(256, 0), "cpu")
    assert metrics["sequence_accuracy"] >= 0.97, metrics


def test_unknown_bundled_model_is_a_clear_error(capsys):
    assert main(["eval", "bundled:nothing"]) == 2
    expected = "no bundled model 'nothing'; bundled: maze15, parity16, parity16-recursive"
    assert expected in capsys.readouterr().err
