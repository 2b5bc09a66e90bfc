"""Models trained as the Tiny Recursive Model is: the recursive baseline's ticks, or blocks of a
CTM's ticks, carried from step to step without gradients between them, no-gradient cycles, a
halting head, and a carry that survives a checkpoint."""

from dataclasses import dataclass

import pytest
import torch

from ctm.model import CTMConfig, build_model
from ctm.run import RunConfig
from ctm.tasks.base import Batch
from ctm.train import Trainer
from ctm.train.deep_supervision import merge_rows
from test_runs import whole_and_resumed
from test_train import parity4_learning_run

TOKENS = dict(d_model=16, d_input=8, heads=2, ticks=3, n_sync_out=8, n_sync_action=8,
              out_dims=6 * 3, out_shape=(6, 3), backbone="none", in_channels=5,
              architecture="recursive")


def recursive(**overrides):
    torch.manual_seed(0)
    return build_model(CTMConfig(**{**TOKENS, **overrides})).eval()


def test_supervised_ticks_chained_are_the_forward_pass_tick_by_tick():
    """Carrying the answer from one `supervise` call to the next gives, call k, the logits of
    tick k of one forward pass: deep supervision trains the model that evaluation runs."""
    model = recursive(cycles=2, deep_supervision=True)
    x = torch.randn(4, 6, 5)
    whole = model(x).logits
    carry = None
    for tick in range(3):
        step = model.supervise(x, carry)
        torch.testing.assert_close(step.output.logits[:, 0], whole[:, tick])
        assert step.halt.shape == (4,) and not step.carry.answer.requires_grad
        carry = step.carry


def test_only_the_last_cycle_of_a_supervised_tick_has_gradients():
    """With cycles 2 the first refinement runs without gradients, so the learned starting
    answer (used only by it) gets none; with cycles 1 it does."""
    x = torch.randn(2, 6, 5)
    for cycles, reached in ((2, False), (1, True)):
        model = recursive(cycles=cycles, deep_supervision=True).train()
        step = model.supervise(x)
        (step.output.logits.sum() + step.halt.sum()).backward()
        assert (model.start_answer.grad is not None) == reached, cycles
        assert model.halt.weight.grad is not None


def ctm(**overrides):
    return recursive(architecture="ctm", ticks=4, cycles=2, deep_supervision=True, **overrides)


def test_a_ctms_supervised_steps_chained_are_its_forward_pass_block_by_block():
    """Step k of a deep-supervised CTM gives ticks 2k and 2k + 1 of one forward pass from the
    learned start, and its halting logit reads the last of them."""
    model = ctm()
    x = torch.randn(4, 6, 5)
    whole = model(x).logits
    first = model.supervise(x)
    second = model.supervise(x, first.carry)
    torch.testing.assert_close(first.output.logits, whole[:, :2])
    torch.testing.assert_close(second.output.logits, whole[:, 2:])
    assert first.output.state is None and not first.carry.history.requires_grad
    torch.testing.assert_close(second.halt, model.halt(second.output.sync_out).squeeze(-1))


def test_a_ctms_halting_head_is_a_probe_that_leaves_the_thinking_alone():
    """Its loss trains the head only (docs/design.md says why)."""
    model = ctm().train()
    model.supervise(torch.randn(2, 6, 5)).halt.sum().backward()
    learned = {name for name, p in model.named_parameters() if p.grad is not None}
    assert learned == {"halt.weight", "halt.bias"}


@pytest.mark.parametrize("architecture", ["recursive", "ctm"])
def test_restarted_rows_begin_again_and_the_others_continue(architecture):
    model = recursive(deep_supervision=True) if architecture == "recursive" else ctm()
    x = torch.randn(3, 6, 5)
    first = model.supervise(x)
    second = model.supervise(x, first.carry)
    restart = torch.tensor([True, False, True])
    mixed = model.supervise(x, first.carry, restart=restart)
    torch.testing.assert_close(mixed.output.logits[restart], first.output.logits[restart])
    torch.testing.assert_close(mixed.output.logits[~restart], second.output.logits[~restart])


@pytest.mark.parametrize("architecture", ["recursive", "ctm"])
def test_a_model_without_the_halting_head_refuses_to_be_supervised(architecture):
    with pytest.raises(ValueError, match="no halting head"):
        recursive(architecture=architecture).supervise(torch.randn(1, 6, 5))


@dataclass
class TaggedBatch(Batch):
    names: list[str]
    shared: int


def test_merge_rows_takes_the_fresh_rows_where_asked_and_keeps_the_rest():
    old = TaggedBatch(torch.zeros(3, 2), torch.tensor([0, 1, 2]), ["a", "b", "c"], 1)
    fresh = TaggedBatch(torch.ones(3, 2), torch.tensor([5, 6, 7]), ["x", "y", "z"], 9)
    merged = merge_rows(old, fresh, torch.tensor([False, True, True]))
    assert merged.inputs.tolist() == [[0, 0], [1, 1], [1, 1]]
    assert merged.targets.tolist() == [0, 6, 7]
    assert merged.names == ["a", "y", "z"] and merged.shared == 9


def tiny_sudoku(steps=6, **model):
    settings = dict(steps=steps, batch_size=8, warmup_steps=2, eval_every=3, checkpoint_every=2,
                    keep_checkpoints=3, log_every=1, eval_batch_size=32, seed=3)
    return RunConfig.create(
        "sudoku", {"size": 4, "train_puzzles": 40, "eval_size": 16},
        {"architecture": "recursive", "d_model": 16, "heads": 2, "ticks": 3,
         "deep_supervision": True, "cycles": 2, **model}, settings)


def test_examples_stay_for_every_tick_unless_the_halting_head_lets_them_go(tmp_path):
    """A halting head that never says done keeps each example for `ticks` steps; one that
    always does lets it go after one step (or the exploring share's least number)."""
    trainer = Trainer(tiny_sudoku(), tmp_path, progress=False)
    deep, model = trainer._deep, trainer.core
    batches = [trainer.task.train_batch(s, 8, 3) for s in range(6)]
    torch.nn.init.zeros_(model.halt.weight)
    torch.nn.init.constant_(model.halt.bias, -50.0)
    for step, batch in enumerate(batches[:3]):
        deep(model, batch, step)
        assert deep.carry.steps.tolist() == [step + 1] * 8
        assert torch.equal(deep.carry.batch.inputs, batches[0].inputs)
    assert deep.carry.left.all()
    deep(model, batches[3], 3)  # everyone left: the whole batch is fresh
    assert torch.equal(deep.carry.batch.inputs, batches[3].inputs)
    assert deep.carry.steps.tolist() == [1] * 8
    torch.nn.init.constant_(model.halt.bias, 50.0)
    deep(model, batches[4], 4)
    held = deep.carry.least > deep.carry.steps
    assert torch.equal(deep.carry.left, ~held)


def test_a_deep_supervised_run_resumed_from_a_checkpoint_ends_where_an_uninterrupted_one_does(
        tmp_path):
    """The carried examples, their answers and their tick counts are in the checkpoint."""
    whole, resumed = whole_and_resumed(tmp_path, tiny_sudoku())
    assert resumed._deep.carry is not None
    assert torch.equal(whole._deep.carry.state.answer, resumed._deep.carry.state.answer)


def test_a_carry_saved_before_the_ctm_could_be_deep_supervised_still_loads():
    """Checkpoints of the previous version held the recursive model's answer and latent by
    name, not as a model state."""
    from ctm.model.baselines import RecursiveCarry
    from ctm.train.deep_supervision import DeepSupervision

    batch = TaggedBatch(torch.zeros(2, 3), torch.tensor([1, 2]), ["a", "b"], 0)
    answer, latent = torch.randn(2, 6, 4), torch.randn(2, 6, 4)
    saved = {"batch": {"inputs": batch.inputs, "targets": batch.targets, "names": batch.names,
                       "shared": 0},
             "answer": answer, "latent": latent, "steps": torch.tensor([1, 2]),
             "least": torch.tensor([0, 3]), "left": torch.tensor([False, True])}
    carry = DeepSupervision._restored(saved, batch, RecursiveCarry)
    assert torch.equal(carry.state.answer, answer) and torch.equal(carry.state.latent, latent)
    assert carry.steps.tolist() == [1, 2] and carry.batch.names == ["a", "b"]


def test_a_deep_supervised_ctm_resumed_from_a_checkpoint_ends_where_an_uninterrupted_one_does(
        tmp_path):
    """The CTM's carried state (its history batch-last) survives the checkpoint too."""
    whole, resumed = whole_and_resumed(
        tmp_path, tiny_sudoku(architecture="ctm", ticks=4, cycles=2, d_input=8,
                              n_sync_out=8, n_sync_action=8))
    for name, value in whole._deep.carry.state.tensors().items():
        assert torch.equal(value, getattr(resumed._deep.carry.state, name)), name


@pytest.mark.slow
@pytest.mark.parametrize(("model", "steps"), [({"architecture": "recursive", "cycles": 2}, 300),
                                              ({"architecture": "ctm", "cycles": 3}, 600)],
                         ids=["recursive", "ctm"])
def test_deep_supervision_learns(tmp_path, model, steps):
    """The parity-4 bar every training mode clears, trained TRM-style: each step one tick of
    the recursive model, or 3 of the CTM's 6 ticks (so twice the steps for the ticks a
    CTM's usual 300 steps think), carried to the next."""
    run = parity4_learning_run(model={**model, "deep_supervision": True}, steps=steps,
                               eval_every=steps, checkpoint_every=steps)
    metrics = Trainer(run, tmp_path, progress=False).fit()
    assert metrics["position_accuracy"] >= 0.85, metrics


def test_a_deep_supervised_model_is_matched_to_the_ctm_the_same_flags_build(tmp_path, capsys):
    from ctm.cli import main

    argv = ["train", "sudoku", "--size", "4", "--train-puzzles", "40", "--eval-size", "8",
            "--architecture", "recursive", "--deep-supervision", "true", "--cycles", "2",
            "--match-ctm", "--steps", "1", "--batch-size", "4", "--no-progress", "--out",
            str(tmp_path / "run")]
    assert main(argv) == 0, capsys.readouterr().err
    assert "the CTM has" in capsys.readouterr().err
