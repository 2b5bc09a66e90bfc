"""What `--compile` covers, how `auto` decides, and the compiled thought against eager."""

import json
import shutil
import subprocess
import sys

import pytest
import torch

from bad_inputs import TINY_MODEL
from ctm.model import CTM, CTMConfig
from ctm.run.config import RunConfig
from ctm.train.compiled import (
    AUTO_THOUGHT_MIN_STEPS,
    ThoughtStep,
    forward_and_loss,
    resolve_compile,
)

TINY = CTMConfig(d_model=16, d_input=8, heads=2, ticks=3, n_sync_out=8, n_sync_action=8,
                 n_self=0, out_dims=8, out_shape=(4, 2), backbone="parity",
                 positional_embedding="rotational-1d")
CPU = torch.device("cpu")


def test_auto_compiles_the_thought_only_for_long_single_process_cpu_runs():
    long, short = AUTO_THOUGHT_MIN_STEPS, AUTO_THOUGHT_MIN_STEPS - 1
    assert resolve_compile("auto", "ctm", CPU, long)[0] == "thought"
    scope, why = resolve_compile("auto", "ctm", CPU, short)
    assert scope == "off" and "too few" in why
    assert resolve_compile("auto", "ctm", torch.device("cuda"), long)[0] == "off"
    assert resolve_compile("auto", "ctm", CPU, long, processes=2)[0] == "off"
    assert resolve_compile("auto", "ctm", CPU, long, deep_supervision=True)[0] == "off"
    assert resolve_compile("auto", "lstm", CPU, long)[0] == "off"
    scope, why = resolve_compile("auto", "ctm", CPU, long, shapes_vary=True)
    assert scope == "off" and "change shape" in why
    for asked in ("off", "tick", "thought"):  # what is asked is what runs
        assert resolve_compile(asked, "ctm", torch.device("cuda"), 10)[0] == asked


def test_configs_from_before_compile_scopes_read_back_as_they_trained():
    run = RunConfig.create("parity", {"length": 4}, TINY.to_dict())
    assert run.train.compile == "auto"
    for old, now in ((True, "tick"), (False, "off")):
        data = run.to_dict()
        data["train"]["compile"] = old
        assert RunConfig.from_dict(data).train.compile == now
    data = run.to_dict()
    data["train"]["compile"] = "fast"
    with pytest.raises(ValueError, match="compile must be one of off, tick, thought, auto"):
        RunConfig.from_dict(data)


def _parity_batch():
    from ctm.run.config import build_task

    run = RunConfig.create("parity", {"length": 4}, TINY.to_dict())
    task = build_task(run)
    return run, task, task.train_batch(0, 8, 0)


def test_a_compiler_fault_falls_back_to_eager_with_one_warning():
    run, task, batch = _parity_batch()
    torch.manual_seed(0)
    model = CTM(run.model)
    warnings: list[str] = []
    step = ThoughtStep(task, run.model, warn=warnings.append)

    def broken(*args):
        raise RuntimeError("the C++ compiler is missing\nsecond line")

    step._compiled = broken
    expected = forward_and_loss(task, run.model, model, batch).loss
    for _ in range(2):
        assert torch.equal(step(model, batch).loss, expected)
    assert warnings == ["compiling the thought failed (RuntimeError: the C++ compiler is "
                        "missing second line); training eager"]


def test_a_mistake_in_the_batch_is_the_eager_error_not_a_compiler_warning():
    run, task, batch = _parity_batch()
    model = CTM(run.model)
    step = ThoughtStep(task, run.model, warn=lambda line: pytest.fail(line))
    step._compiled = lambda *args: (_ for _ in ()).throw(RuntimeError("compiler"))
    batch.targets = batch.targets[:, :3]  # targets one bit short of the outputs
    with pytest.raises(ValueError, match="do not match logits"):
        step(model, batch)


@pytest.mark.slow
def test_the_compiled_thought_equals_eager_in_loss_certainty_and_gradients():
    """float32 on the CPU: the compiled forward + loss and its backward against eager."""
    run, task, batch = _parity_batch()
    torch.manual_seed(3)
    eager = CTM(run.model)
    compiled = CTM(run.model)
    compiled.load_state_dict(eager.state_dict())
    want = forward_and_loss(task, run.model, eager, batch)
    got = ThoughtStep(task, run.model, warn=lambda line: pytest.fail(line))(compiled, batch)
    # the same ticks chosen, so the same terms of the loss
    assert torch.equal(want.lowest_loss_tick, got.lowest_loss_tick)
    assert torch.equal(want.most_certain_tick, got.most_certain_tick)
    torch.testing.assert_close(got.per_tick, want.per_tick, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(got.loss, want.loss, rtol=1e-5, atol=1e-7)
    want.loss.backward()
    got.loss.backward()
    for (name, a), b in zip(eager.named_parameters(), compiled.parameters(), strict=True):
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-5, atol=1e-7, msg=name)


@pytest.mark.slow
def test_a_compiled_run_resumes_bit_for_bit(tmp_path):
    """Six steps in one go against the same run cut back to its step-3 checkpoint and
    resumed: the same losses and weights."""
    common = [sys.executable, "-m", "ctm", "train", "parity", "--length", "4", *TINY_MODEL,
              "--batch-size", "8", "--steps", "6", "--eval-size", "32", "--log-every", "1",
              "--checkpoint-every", "3", "--eval-every", "3", "--threads", "2",
              "--compile", "thought", "--no-progress"]

    def run(*extra: str) -> subprocess.CompletedProcess:
        done = subprocess.run([*common, *extra], capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        return done

    whole = run("--out", str(tmp_path / "whole"))
    assert "compiling the whole thought" in whole.stderr
    cut = tmp_path / "cut"
    shutil.copytree(tmp_path / "whole", cut)
    # undo the last three steps: keep the step-3 checkpoint only, then resume from it
    for checkpoint in (cut / "checkpoints").iterdir():
        if not checkpoint.name.endswith("000003"):
            subprocess.run(["rm", "-r", str(checkpoint)], check=True)
    subprocess.run(["rm", "-r", str(cut / "model")], check=True)
    resumed = subprocess.run([sys.executable, "-m", "ctm", "train", "--resume", str(cut),
                              "--no-progress"], capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]

    def losses(path):
        rows = [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines()]
        return [r["loss"] for r in rows if r.get("split") == "train"]

    assert losses(tmp_path / "whole") == losses(cut) and len(losses(cut)) == 6
    from ctm.model.build import load_model

    a, b = load_model(tmp_path / "whole" / "model"), load_model(cut / "model")
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(x, y), name


@pytest.mark.slow
def test_bf16_with_the_compiled_thought_learns_as_float32_does(tmp_path):
    """bf16 autocast pays on a CPU only with the thought compiled (`docs/results.md`); it
    clears the bar of the eager bf16 test in tests/test_train.py (parity of 4 bits, 85% of
    positions after 300 steps; float32 eager: 92%). Measured: 92.1% (seed 0)."""
    from ctm.train import Trainer

    run = RunConfig.create(
        "parity", {"length": 4, "eval_size": 256},
        dict(d_model=32, d_input=16, heads=2, ticks=6, memory_length=4, nlm_hidden=8,
             n_sync_out=16, n_sync_action=16),
        dict(steps=300, batch_size=32, warmup_steps=20, eval_every=300, checkpoint_every=300,
             log_every=50, seed=0, precision="bf16", compile="thought"))
    trainer = Trainer(run, tmp_path, progress=False)
    metrics = trainer.fit()
    assert trainer._thought is not None and trainer._thought.failed is None
    assert metrics["position_accuracy"] >= 0.85, metrics
