"""Export (ONNX, torch.export) and sharing (save_pretrained / from_pretrained, model cards).

Every task's default model is exported to ONNX and run in onnxruntime: its outputs must match
PyTorch's within 1e-5. The shared folder round-trips every architecture."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch

import ctm
from ctm.cli import main as cli
from ctm.model import CTM, CTMConfig, build_model
from ctm.model.baselines import LSTMBaseline
from ctm.model.pretrained import ModelCard, from_pretrained, save_pretrained
from ctm.run.config import RunConfig, build_task
from ctm.run.export import export_model
from ctm.run.lookup import load_run
from ctm.tasks import TASKS, get_task
from ctm.train import Trainer

TINY_QA = {"digits": 2, "operations": 2, "ticks_per_observation": 1, "answer_ticks": 1,
           "eval_size": 8}
SMALL = {"d_model": 32, "d_input": 16, "heads": 2, "n_sync_out": 8, "n_sync_action": 8,
         "ticks": 7}


def default_model(name: str) -> tuple[torch.nn.Module, object]:
    task = get_task(name)(get_task(name).Options())
    torch.manual_seed(0)
    return build_model(task.model_defaults()), task


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_tasks_default_model_runs_the_same_in_onnxruntime(tmp_path: Path,
                                                                name: str) -> None:
    model, task = default_model(name)
    # the default architecture exported over 4 ticks: the same operators as over all of them
    # (an agent's export steps one tick at a time anyway), at a fraction of the export's time
    ticks = None if task.needs_model_for_batches else 4
    result = export_model(model, task, tmp_path, "onnx", ticks=ticks,
                          x=task.example_inputs(2, 0))
    print(f"{name}: largest |onnxruntime - PyTorch| {result.max_difference:.2e}")
    assert result.max_difference is not None and result.max_difference < 1e-5
    assert all(p.is_file() for p in result.files)


@pytest.mark.slow
def test_a_stepping_export_carries_its_state_like_pytorch(tmp_path: Path) -> None:
    """start.onnx then step.onnx tick by tick equals one PyTorch call of as many ticks."""
    model, task = default_model("parity")
    x = task.example_inputs(2, 0)
    result = export_model(model, task, tmp_path, "onnx", per_tick=True, x=x)
    assert result.max_difference < 1e-5
    start = onnxruntime.InferenceSession(str(tmp_path / "start.onnx"))
    step = onnxruntime.InferenceSession(str(tmp_path / "step.onnx"))
    names = [i.name for i in step.get_inputs()]
    state = start.run(None, {"x": x.numpy()})
    certainties = []
    for _ in range(5):
        outputs = step.run(None, {"x": x.numpy(), **dict(zip(names[1:], state, strict=True))})
        certainties.append(outputs[1][:, 0])
        state = outputs[2:]
    with torch.no_grad():
        expected = model(x, ticks=5).certainty.numpy()
    assert np.abs(np.stack(certainties, 1) - expected).max() < 1e-5


def tiny_qa_run(tmp_path: Path) -> Path:
    run = RunConfig.create("qa", TINY_QA, SMALL, {"steps": 2, "eval_every": 2,
                                                  "batch_size": 8, "threads": 1})
    Trainer(run, tmp_path / "run", progress=False).fit()
    return tmp_path / "run"


def test_a_runs_export_matches_pytorch_and_its_card_says_how_it_was_measured(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tiny_qa_run(tmp_path)
    assert cli(["export", str(run), "--out", str(tmp_path / "onnx"), "--batch", "2"]) == 0
    printed = capsys.readouterr().out
    assert "largest difference from PyTorch in onnxruntime" in printed
    session = onnxruntime.InferenceSession(str(tmp_path / "onnx" / "model.onnx"))
    assert [o.name for o in session.get_outputs()] == ["logits", "certainty"]
    assert session.get_inputs()[0].shape[0] == 2

    assert cli(["export", str(run), "--format", "torch-export", "--out",
                str(tmp_path / "pt2")]) == 0
    program = torch.export.load(tmp_path / "pt2" / "model.pt2").module()
    loaded = ctm.load(run)
    x = build_task(RunConfig.read(run / "config.json")).example_inputs(1, 0)
    with torch.no_grad():
        assert torch.allclose(program(x)[0], loaded(x, ticks=x.shape[1] + 1).logits)

    assert cli(["export", str(run), "--format", "pretrained", "--out",
                str(tmp_path / "shared")]) == 0
    shared = tmp_path / "shared"
    assert sorted(p.name for p in shared.iterdir()) == ["README.md", "config.json",
                                                        "model.safetensors"]
    card = (shared / "README.md").read_text()
    last_eval = [json.loads(r) for r in (run / "metrics.jsonl").read_text().splitlines()
                 if '"eval"' in r][-1]
    assert f"| answer_accuracy | {last_eval['answer_accuracy']:.4f} |" in card
    assert f"Measured with `ctm eval {run} --json`" in card
    assert "library_name: ctm" in card and "- qa" in card
    again = CTM.from_pretrained(shared)
    for key, value in loaded.state_dict().items():
        assert torch.equal(again.state_dict()[key], value)


@pytest.mark.parametrize("architecture", ["ctm", "lstm", "feedforward"])
def test_every_architecture_round_trips_through_a_shared_folder(tmp_path: Path,
                                                                architecture: str) -> None:
    config = CTMConfig(d_model=16, d_input=8, heads=2, ticks=3, out_dims=4,
                       n_sync_out=8, n_sync_action=8, architecture=architecture)
    torch.manual_seed(0)
    model = build_model(config).eval()
    card = ModelCard(task="parity", metrics={"accuracy": 0.5}, metrics_command="ctm eval X")
    model.save_pretrained(tmp_path / "m", card)
    loaded = type(model).from_pretrained(tmp_path / "m")
    assert type(loaded) is type(model) and not loaded.training
    x = torch.randint(0, 2, (2, 16)).float() * 2 - 1
    with torch.no_grad():
        assert torch.equal(model(x).logits, loaded(x).logits)
    assert "| accuracy | 0.5000 |" in (tmp_path / "m" / "README.md").read_text()


def test_loading_the_wrong_class_or_nothing_is_one_clear_error(tmp_path: Path) -> None:
    config = CTMConfig(d_model=16, ticks=2, out_dims=4, architecture="lstm")
    save_pretrained(build_model(config), tmp_path / "lstm")
    with pytest.raises(ValueError, match="holds a lstm model, not a CTM"):
        CTM.from_pretrained(tmp_path / "lstm")
    assert isinstance(LSTMBaseline.from_pretrained(tmp_path / "lstm"), LSTMBaseline)
    weights = tmp_path / "lstm" / "model.safetensors"
    with pytest.raises(ValueError, match=f"{weights} is a file; give the folder that holds "
                                         f"it with its config.json \\({tmp_path / 'lstm'}\\)"):
        LSTMBaseline.from_pretrained(weights)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="not a saved model"):
        from_pretrained(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="saved model's folder or a Hub repository id"):
        from_pretrained(tmp_path / "nowhere" / "at" / "all")


def test_a_hub_id_without_huggingface_hub_says_what_to_install(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # as if not installed
    with pytest.raises(ValueError, match="pip install huggingface_hub"):
        from_pretrained("someone/some-ctm")


def test_one_load_reads_every_source_and_from_pretrained_points_to_it(tmp_path: Path) -> None:
    """ctm.load reads a bundled model, a run (final or best) and a saved folder;
    from_pretrained, in the model package, knows folders and Hub ids only and says where runs
    and bundled models are read."""
    model = ctm.load("bundled:maze15")
    assert model.config.architecture == "ctm" and not model.training
    run = tiny_qa_run(tmp_path)
    final, best = ctm.load(run), ctm.load(run, best=True)
    for key, value in load_run(run)[1].state_dict().items():
        assert torch.equal(final.state_dict()[key], value)
    assert torch.equal(next(iter(best.state_dict().values())),
                       next(iter(load_run(run, best=True)[1].state_dict().values())))
    assert isinstance(ctm.load(run / "model"), CTM)
    for source, words in (("bundled:maze15", r"ctm.load\('bundled:maze15'\)"),
                          (run, "is a training run, not a saved model: ctm.load")):
        with pytest.raises(ValueError, match=words):
            CTM.from_pretrained(source)
    with pytest.raises(ValueError, match="not a run"):
        ctm.load(run / "model", best=True)


def test_export_mistakes_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                      ) -> None:
    run = tiny_qa_run(tmp_path)
    cases = [
        (["--per-tick"], "qa task's ticks follow its input schedule"),
        (["--ticks", "0"], "--ticks must be >= 1"),
        (["--batch", "0"], "--batch must be >= 1"),
        (["--attention", "--per-tick"], "qa task's ticks follow"),
    ]
    for flags, message in cases:
        assert cli(["export", str(run), "--out", str(tmp_path / "x"), *flags]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], (flags, err)
    assert cli(["export", str(tmp_path / "missing"), "--out", str(tmp_path / "x")]) == 2
    assert "not found" in capsys.readouterr().err


def test_a_model_without_carried_state_cannot_be_exported_stepping(tmp_path: Path) -> None:
    model, task = default_model("images")
    feedforward = build_model(CTMConfig(**{**model.config.to_dict(),
                                           "architecture": "feedforward"}))
    with pytest.raises(ValueError, match="carries no state between calls"):
        export_model(feedforward, task, tmp_path, per_tick=True)
