"""The trainer: schedule, checkpoints, and resume that matches an uninterrupted run bit for bit."""

import json
import shutil

import pytest
import torch

from ctm.run import RunConfig
from ctm.run.checkpoint import find_checkpoint
from ctm.train import Trainer, lr_at


def tiny_run(steps=8, **train):
    model = dict(d_model=16, d_input=8, heads=2, ticks=3, memory_length=3, nlm_hidden=4,
                 n_sync_out=8, n_sync_action=8, dropout=0.1, dropout_nlm=0.1)
    settings = dict(steps=steps, batch_size=8, warmup_steps=2, eval_every=4,
                    checkpoint_every=4, log_every=1, eval_batch_size=32, seed=3)
    settings.update(train)
    return RunConfig.create("parity", {"length": 4, "eval_size": 32}, model, settings)


def test_lr_schedule_warms_up_then_follows_a_cosine():
    assert lr_at(0, 1.0, 4, 20) == pytest.approx(0.25)
    assert lr_at(3, 1.0, 4, 20) == pytest.approx(1.0)
    assert lr_at(4, 1.0, 4, 20) == pytest.approx(1.0)
    assert lr_at(12, 1.0, 4, 20) == pytest.approx(0.5)
    assert lr_at(20, 1.0, 4, 20) == pytest.approx(0.0)


def test_resume_matches_uninterrupted_run_bit_for_bit(tmp_path):
    whole = Trainer(tiny_run(), tmp_path / "whole", progress=False)
    whole.fit()

    interrupted = Trainer(tiny_run(), tmp_path / "split", progress=False)
    for _ in range(4):
        interrupted.train_step()
    interrupted.save_checkpoint()
    interrupted.train_step()  # work after the checkpoint is lost in the "crash"
    del interrupted
    resumed = Trainer(tiny_run(), tmp_path / "split", resume=True, progress=False)
    assert resumed.step == 4
    resumed.fit()

    for key, value in whole.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    for a, b in zip(whole.optimizer.state_dict()["state"].values(),
                    resumed.optimizer.state_dict()["state"].values(), strict=True):
        assert torch.equal(a["exp_avg_sq"], b["exp_avg_sq"])


def test_resume_drops_metrics_logged_after_the_checkpoint(tmp_path):
    trainer = Trainer(tiny_run(steps=8), tmp_path, progress=False)
    trainer.fit()
    rows = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert json.loads(rows[-1])["step"] == 8
    with open(tmp_path / "metrics.jsonl", "a") as f:  # as if a crash came after step 9's log
        f.write(json.dumps({"step": 9, "split": "train", "loss": 1.0}) + "\n")
    with open(tmp_path / "metrics.jsonl", "ab") as f:  # and left bytes that are not a row
        f.write(b'{"step": 10, "spl\xff\xfe\x00')
    Trainer(tiny_run(steps=8), tmp_path, resume=True, progress=False)
    steps = [json.loads(r)["step"] for r in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert max(steps) == 8


def test_run_directory_contents(tmp_path):
    trainer = Trainer(tiny_run(steps=8, keep_checkpoints=1), tmp_path, progress=False)
    metrics = trainer.fit()
    assert set(metrics) >= {"position_accuracy", "sequence_accuracy", "mean_certain_tick",
                            "position_accuracy_per_tick", "sequence_accuracy_per_tick"}
    assert len(metrics["position_accuracy_per_tick"]) == 3
    saved = json.loads((tmp_path / "config.json").read_text())
    assert RunConfig.from_dict(saved).to_dict() == saved  # the saved config replays exactly
    assert find_checkpoint(tmp_path)[0].name == "step-000008"
    assert [p.name for p in (tmp_path / "checkpoints").glob("step-*")] == ["step-000008"]
    assert (tmp_path / "model" / "model.safetensors").is_file()
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    splits = {json.loads(r)["split"] for r in (tmp_path / "metrics.jsonl").read_text().splitlines()}
    assert splits == {"train", "eval"}


def test_decays_stay_in_range_during_training(tmp_path):
    trainer = Trainer(tiny_run(steps=3, lr=1.0), tmp_path, progress=False)
    with torch.no_grad():
        trainer.model.sync_action.decay.fill_(-5.0)
    trainer.fit()
    decay = trainer.model.sync_action.decay
    assert torch.all((decay >= 0) & (decay <= 15))


def test_refuses_to_overwrite_a_run_but_resumes_one_that_crashed_before_a_checkpoint(tmp_path):
    Trainer(tiny_run(steps=1), tmp_path / "a", progress=False)  # "crashes" before step 1
    with pytest.raises(FileExistsError, match="ctm train --resume"):
        Trainer(tiny_run(steps=1), tmp_path / "a", progress=False)
    again = Trainer(tiny_run(steps=1), tmp_path / "a", resume=True, progress=False)
    assert again.step == 0 and "starting it again from step 0" in again.notes[0]
    again.fit()
    fresh = Trainer(tiny_run(steps=1), tmp_path / "b", progress=False)
    fresh.fit()
    for key, value in fresh.model.state_dict().items():
        assert torch.equal(value, again.model.state_dict()[key]), key


def test_task_fixes_output_sizes():
    with pytest.raises(ValueError, match="fixes out_dims"):
        RunConfig.create("parity", {"length": 4}, {"out_dims": 10}, {})
    with pytest.raises(ValueError, match="unknown model field"):
        RunConfig.create("parity", {}, {"d_modle": 10}, {})


def test_prefetched_batches_are_the_batches_the_task_builds(tmp_path):
    from ctm.run import build_task
    from ctm.train.prefetch import BatchPrefetcher

    run = tiny_run()
    task = build_task(run)
    with BatchPrefetcher(task, batch_size=8, seed=3, workers=2, first_step=5) as prefetcher:
        for step in range(5, 9):
            got, expected = prefetcher.get(step), task.train_batch(step, 8, 3)
            assert torch.equal(got.inputs, expected.inputs)
            assert torch.equal(got.targets, expected.targets)
        with pytest.raises(RuntimeError, match="step 9 is next"):
            prefetcher.get(11)


def test_training_with_data_workers_matches_training_without(tmp_path):
    plain = Trainer(tiny_run(steps=4), tmp_path / "plain", progress=False)
    plain.fit()
    workers = Trainer(tiny_run(steps=4, data_workers=2), tmp_path / "workers", progress=False)
    workers.fit()
    for key, value in plain.model.state_dict().items():
        assert torch.equal(value, workers.model.state_dict()[key]), key


def test_sigterm_stops_after_the_step_in_hand_with_a_checkpoint(tmp_path):
    import os
    import signal

    trainer = Trainer(tiny_run(steps=8), tmp_path, progress=False)
    step = trainer.train_step

    def step_then_signal():
        row = step()
        if trainer.step == 3:  # as if a scheduler's time limit came during step 3
            os.kill(os.getpid(), signal.SIGTERM)
        return row

    trainer.train_step = step_then_signal
    trainer.fit()
    assert trainer.stopped_by == "SIGTERM"
    assert trainer.step == 3
    assert find_checkpoint(tmp_path)[0].name == "step-000003"
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is gone again
    resumed = Trainer(tiny_run(steps=8), tmp_path, resume=True, progress=False)
    assert resumed.step == 3
    resumed.fit()
    assert resumed.stopped_by is None and resumed.step == 8


def test_bf16_autocast_trains_and_reads_out_in_float32(tmp_path):
    trainer = Trainer(tiny_run(steps=2, precision="bf16"), tmp_path, progress=False)
    row = trainer.train_step()
    assert torch.isfinite(torch.tensor(row["loss"]))
    batch = trainer.task.train_batch(0, 4, 0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = trainer.model(batch.inputs)
    assert out.logits.dtype == torch.float32  # certainty comes from float32 logits


@pytest.mark.parametrize("field, value", [("precision", "fp8"), ("compile_mode", "fast"),
                                          ("data_workers", -1)])
def test_bad_training_settings_are_refused(field, value):
    with pytest.raises(ValueError, match=field):
        tiny_run(**{field: value})


def parity4_learning_run(model=None, **train):
    """Parity of 4 bits, the bar every training mode must clear: from chance (50% per
    position) to 85% in 300 steps (AdamW, float32, linear read-out: 92%)."""
    return RunConfig.create(
        "parity", {"length": 4, "eval_size": 256},
        dict(d_model=32, d_input=16, heads=2, ticks=6, memory_length=4, nlm_hidden=8,
             n_sync_out=16, n_sync_action=16, **(model or {})),
        {**dict(steps=300, batch_size=32, warmup_steps=20, eval_every=300,
                checkpoint_every=300, log_every=50, seed=0), **train})


def test_bf16_autocast_training_learns(tmp_path):
    """bf16 autocast is a real training mode, not only a forward that runs."""
    metrics = Trainer(parity4_learning_run(precision="bf16"), tmp_path, progress=False).fit()
    assert metrics["position_accuracy"] >= 0.85, metrics


@pytest.mark.slow
def test_muon_training_learns(tmp_path):
    trainer = Trainer(parity4_learning_run(optimizer="muon"), tmp_path, progress=False)
    metrics = trainer.fit()
    assert type(trainer.optimizer).__name__ == "MuonWithAdamW"
    assert metrics["position_accuracy"] >= 0.85, metrics


@pytest.mark.slow
def test_the_cell_readout_learns(tmp_path):
    """Parity's four positions are four groups of two classes for the cell read-out."""
    run = parity4_learning_run(model={"readout": "cells"})
    metrics = Trainer(run, tmp_path, progress=False).fit()
    assert metrics["position_accuracy"] >= 0.85, metrics


def test_init_from_starts_a_new_schedule_from_the_sources_weights(tmp_path):
    source = Trainer(tiny_run(steps=4), tmp_path / "source", progress=False)
    source.fit()
    fresh = Trainer(tiny_run(steps=4, init_from=str(tmp_path / "source")), tmp_path / "ft",
                    progress=False)
    assert fresh.step == 0 and not fresh.optimizer.state  # own step count and optimiser
    for key, value in source.model.state_dict().items():
        assert torch.equal(value, fresh.model.state_dict()[key]), key
    # without the final model, the source's latest checkpoint is used
    (tmp_path / "source" / "model" / "model.safetensors").unlink()
    again = Trainer(tiny_run(steps=4, init_from=str(tmp_path / "source")), tmp_path / "ft2",
                    progress=False)
    assert torch.equal(again.model.sync_out.decay, source.model.sync_out.decay)


def test_init_from_refuses_another_model_and_a_resume_keeps_its_own_weights(tmp_path):
    source = Trainer(tiny_run(steps=2), tmp_path / "source", progress=False)
    source.fit()
    wider = tiny_run(steps=2, init_from=str(tmp_path / "source"))
    wider.model.d_model = 24
    with pytest.raises(ValueError, match="d_model: 16 there, 24 here"):
        Trainer(wider, tmp_path / "wide", progress=False)
    assert not (tmp_path / "wide").exists()

    run = tiny_run(steps=4, init_from=str(tmp_path / "source"))
    tuned = Trainer(run, tmp_path / "ft", progress=False)
    for _ in range(2):
        tuned.train_step()
    tuned.save_checkpoint()
    shutil.rmtree(tmp_path / "source")  # a resume must not need the source any more
    resumed = Trainer(run, tmp_path / "ft", resume=True, progress=False)
    for key, value in tuned.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
