"""Runs that never lose work: divergence, damaged checkpoints, early crashes, full disks, what a
resume may change, and output cut off by a closed pipe."""

import errno
import json
import math
import os
import shutil
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from bad_inputs import hold_lock
from ctm.cli import main
from ctm.device import check_device
from ctm.run import RunConfig
from ctm.run.checkpoint import check_checkpoint, find_checkpoint
from ctm.run.lock import RunInUse
from ctm.train import Trainer, TrainingDiverged

TINY = ["--length", "4", "--eval-size", "32", "--d-model", "16", "--d-input", "8", "--heads",
        "2", "--ticks", "3", "--n-sync-out", "8", "--n-sync-action", "8", "--batch-size", "8",
        "--log-every", "1", "--no-progress"]


def tiny_run(steps=8, **train):
    model = dict(d_model=16, d_input=8, heads=2, ticks=3, memory_length=3, nlm_hidden=4,
                 n_sync_out=8, n_sync_action=8)
    settings = dict(steps=steps, batch_size=8, warmup_steps=2, eval_every=4,
                    checkpoint_every=2, keep_checkpoints=1, log_every=1, eval_batch_size=32,
                    seed=3)
    settings.update(train)
    return RunConfig.create("parity", {"length": 4, "eval_size": 32}, model, settings)


def strict_rows(path):
    """Every metrics row, parsed by a reader that refuses NaN and Infinity tokens."""
    def refuse(token):
        raise ValueError(f"non-standard JSON token {token}")
    return [json.loads(line, parse_constant=refuse) for line in path.read_text().splitlines()]


def all_finite(directory):
    return all(torch.isfinite(t).all() for t in load_file(directory / "model.safetensors")
               .values() if t.is_floating_point())


# --- divergence -----------------------------------------------------------------------------------

def test_a_diverging_run_stops_with_status_3_and_keeps_finite_checkpoints(tmp_path, capsys):
    run = tmp_path / "run"
    status = main(["train", "parity", "--out", str(run), "--steps", "200", "--lr", "1e4",
                   "--warmup-steps", "0", "--checkpoint-every", "2", "--keep-checkpoints", "1",
                   "--eval-every", "100", *TINY])
    err = capsys.readouterr().err
    assert status == 3, err
    line = [x for x in err.splitlines() if x.startswith("ctm: error:")][0]
    assert "training diverged at step" in line and "--lr (now 10000)" in line
    step = int(line.split("at step ")[1].split(":")[0])
    assert step < 200
    checkpoint, _ = find_checkpoint(run)
    assert checkpoint is not None and all_finite(checkpoint)
    assert int(checkpoint.name.split("-")[1]) < step
    assert not (run / "model").exists()  # no final model from a diverged run
    rows = strict_rows(run / "metrics.jsonl")
    assert rows and all(math.isfinite(r["loss"]) for r in rows if r["split"] == "train")


def test_skip_policy_steps_over_non_finite_batches(tmp_path, capsys):
    trainer = Trainer(tiny_run(steps=6, on_nonfinite="skip"), tmp_path, progress=False)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    loss = trainer.task.loss

    def poisoned(output, batch, config):  # step 1's loss is NaN
        result = loss(output, batch, config)
        if trainer.step == 0:
            result.loss = result.loss * float("nan")
        return result

    trainer.task.loss = poisoned
    row = trainer.train_step()
    assert row["skipped"] == 1 and trainer.step == 1
    for key, value in trainer.model.state_dict().items():  # the step changed nothing
        assert torch.equal(value, before[key]), key
    trainer.task.loss = loss
    trainer.fit()
    assert trainer.step == 6 and all_finite(tmp_path / "model")
    assert trainer.skipped_steps == 1
    err = capsys.readouterr().err
    assert "ctm: warning: step 1: the loss is nan; skipped without an update" in err
    assert "ctm: warning: 1 of 5 steps were skipped" in err  # fit took steps 2-6


def test_a_short_run_whose_every_step_is_skipped_has_diverged(tmp_path):
    trainer = Trainer(tiny_run(steps=5, on_nonfinite="skip"), tmp_path, progress=False)
    loss = trainer.task.loss

    def poisoned(output, batch, config):
        result = loss(output, batch, config)
        result.loss = result.loss * float("nan")
        return result

    trainer.task.loss = poisoned
    with pytest.raises(TrainingDiverged, match="every one of this run's 5 steps had a "
                                               "non-finite loss or gradient and was skipped"):
        trainer.fit()
    assert not (tmp_path / "model").exists()


def test_skip_policy_gives_up_after_many_skips_in_a_row(tmp_path):
    trainer = Trainer(tiny_run(steps=200, on_nonfinite="skip", lr=1e6, warmup_steps=0),
                      tmp_path, progress=False)
    with pytest.raises(TrainingDiverged, match="20 non-finite steps in a row"):
        trainer.fit()


# --- damaged checkpoints --------------------------------------------------------------------------

def finished(tmp_path, steps=6):
    trainer = Trainer(tiny_run(steps=steps, keep_checkpoints=3), tmp_path, progress=False)
    trainer.fit()
    return trainer


def test_checkpoints_carry_checksums_that_catch_damage(tmp_path):
    finished(tmp_path)
    newest = tmp_path / "checkpoints" / "step-000006"
    assert json.loads((newest / "checksums.json").read_text())["step"] == 6
    assert check_checkpoint(newest) is None
    data = (newest / "trainer_state.pt").read_bytes()
    (newest / "trainer_state.pt").write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # one bit
    assert check_checkpoint(newest) == "trainer_state.pt does not match its checksum"


@pytest.mark.parametrize("damage", ["truncated weights", "missing state", "deleted folder",
                                    "garbage latest.json", "no checksums"])
def test_resume_falls_back_to_the_newest_intact_checkpoint(tmp_path, damage):
    finished(tmp_path)
    newest = tmp_path / "checkpoints" / "step-000006"
    if damage == "truncated weights":
        weights = newest / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[:100])
    elif damage == "missing state":
        (newest / "trainer_state.pt").unlink()
    elif damage == "deleted folder":
        shutil.rmtree(newest)
    elif damage == "garbage latest.json":
        (tmp_path / "checkpoints" / "latest.json").write_text("{not json")
    else:  # written before checksums existed: intact if it reads back
        (newest / "checksums.json").unlink()
    resumed = Trainer(tiny_run(steps=6, keep_checkpoints=3), tmp_path, resume=True,
                      progress=False)
    expected = 6 if damage in ("garbage latest.json", "no checksums") else 4
    assert resumed.step == expected
    if expected == 4 and damage != "deleted folder":
        assert "step-000006 is damaged" in resumed.notes[0]
        assert resumed.notes[0].endswith("using step-000004")


def test_a_resume_after_fallback_ends_where_an_uninterrupted_run_does(tmp_path):
    whole = finished(tmp_path / "whole")
    finished(tmp_path / "damaged")
    weights = tmp_path / "damaged" / "checkpoints" / "step-000006" / "model.safetensors"
    weights.write_bytes(b"")
    resumed = Trainer(tiny_run(steps=6, keep_checkpoints=3), tmp_path / "damaged",
                      resume=True, progress=False)
    resumed.fit()
    for key, value in whole.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key


def whole_and_resumed(tmp_path, run_config):
    """A 6-step run trained through, and the same run trained, cut back to its step-4
    checkpoint and resumed: (whole, resumed) trainers, the models asserted bit for bit equal."""
    def run(folder, resume=False):
        trainer = Trainer(run_config, tmp_path / folder, resume=resume, progress=False)
        trainer.fit()
        return trainer

    whole = run("whole")
    run("cut")
    shutil.rmtree(tmp_path / "cut" / "checkpoints" / "step-000006")
    (tmp_path / "cut" / "model" / "model.safetensors").unlink()
    resumed = run("cut", resume=True)
    for key, value in whole.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    return whole, resumed


def test_a_muon_run_resumed_from_a_checkpoint_ends_where_an_uninterrupted_one_does(tmp_path):
    """--optimizer muon keeps Muon's momentum and AdamW's moments in one checkpoint."""
    _, resumed = whole_and_resumed(
        tmp_path, tiny_run(steps=6, keep_checkpoints=3, optimizer="muon"))
    assert any("momentum_buffer" in s for s in resumed.optimizer.state.values())
    assert any("exp_avg" in s for s in resumed.optimizer.state.values())


def test_a_checkpoint_copied_in_from_another_run_is_passed_over(tmp_path):
    finished(tmp_path / "mine")
    finished(tmp_path / "theirs")  # the same config: only the run's name tells them apart
    mine, theirs = (tmp_path / name / "checkpoints" for name in ("mine", "theirs"))
    assert (tmp_path / "mine" / "run-id").read_text() != (tmp_path / "theirs" / "run-id"
                                                           ).read_text()
    shutil.rmtree(mine / "step-000006")
    shutil.copytree(theirs / "step-000006", mine / "step-000006")
    resumed = Trainer(tiny_run(steps=6, keep_checkpoints=3), tmp_path / "mine", resume=True,
                      progress=False)
    assert resumed.step == 4
    assert "step-000006 is not this run's (it belongs to another run" in resumed.notes[0]
    assert resumed.notes[0].endswith("using step-000004")


def test_a_run_made_before_runs_had_names_resumes_and_gets_one(tmp_path):
    finished(tmp_path)
    (tmp_path / "run-id").unlink()
    for listing in (tmp_path / "checkpoints").glob("*/checksums.json"):
        data = json.loads(listing.read_text())
        del data["run"]
        listing.write_text(json.dumps(data))
    resumed = Trainer(tiny_run(steps=8, keep_checkpoints=3), tmp_path, resume=True,
                      progress=False)
    assert resumed.step == 6 and not resumed.notes
    resumed.fit()
    name = (tmp_path / "run-id").read_text().strip()
    newest = json.loads((tmp_path / "checkpoints" / "step-000008" / "checksums.json").read_text())
    assert newest["run"] == name


def test_a_resume_with_every_checkpoint_damaged_changes_nothing(tmp_path):
    finished(tmp_path)
    for weights in (tmp_path / "checkpoints").glob("*/model.safetensors"):
        weights.write_bytes(b"")
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    with pytest.raises(ValueError, match=r"none of its 3 checkpoints is usable \(checkpoint .*"
                                         r"step-000006 is damaged .*; kept as they are: .*model/"
                                         r".*metrics.jsonl \(\d+ rows\)\. To train on from its "
                                         r"final model: `ctm train parity --init-from"):
        Trainer(tiny_run(steps=6, keep_checkpoints=3), tmp_path, resume=True, progress=False)
    after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before


def test_a_run_is_trained_by_one_process_at_a_time(tmp_path):
    finished(tmp_path)
    rows = (tmp_path / "metrics.jsonl").read_text()
    holder = hold_lock(tmp_path)
    try:
        with pytest.raises(RunInUse, match=f"{tmp_path} is being trained by another process "
                                           f"\\(pid {holder.pid}\\)"):
            Trainer(tiny_run(steps=8, keep_checkpoints=3), tmp_path, resume=True,
                    progress=False)
        assert (tmp_path / "metrics.jsonl").read_text() == rows  # the refused one wrote nothing
    finally:
        holder.kill()
        holder.wait()
    # the lock went with its process; within one process, trainers take turns
    first = Trainer(tiny_run(steps=8, keep_checkpoints=3), tmp_path, resume=True,
                    progress=False)
    second = Trainer(tiny_run(steps=8, keep_checkpoints=3), tmp_path, resume=True,
                     progress=False)
    assert first.step == second.step == 6
    second.fit()


def test_a_failed_set_up_gives_the_run_back(tmp_path, monkeypatch):
    import ctm.train.trainer as trainer_module

    finished(tmp_path)

    def broken(config):
        raise ValueError("no model today")

    monkeypatch.setattr(trainer_module, "build_model", broken)
    with pytest.raises(ValueError, match="no model today"):
        Trainer(tiny_run(steps=6, keep_checkpoints=3), tmp_path, resume=True, progress=False)
    monkeypatch.undo()
    Trainer(tiny_run(steps=6, keep_checkpoints=3), tmp_path, resume=True, progress=False)


# --- what a resume may change ---------------------------------------------------------------------

def test_replaying_a_resumed_runs_config_gives_the_same_run(tmp_path, capsys):
    run, replay = tmp_path / "run", tmp_path / "replay"
    assert main(["train", "parity", "--out", str(run), "--steps", "6", "--checkpoint-every",
                 "3", "--eval-every", "3", *TINY]) == 0
    shutil.rmtree(run / "checkpoints" / "step-000006")  # as if it crashed after step 3's
    (run / "model" / "model.safetensors").unlink()
    assert main(["train", "--resume", str(run), "--eval-every", "2", "--log-every", "2",
                 "--no-progress"]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["train"]["eval_every"] == 2 and config["train"]["log_every"] == 2
    assert main(["train", "--config", str(run / "config.json"), "--out", str(replay),
                 "--no-progress"]) == 0
    capsys.readouterr()
    assert (run / "model" / "model.safetensors").read_bytes() == (
        replay / "model" / "model.safetensors").read_bytes()


# --- the disk and the terminal --------------------------------------------------------------------

@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_a_full_or_read_only_disk_is_one_line_and_leaves_files_whole(tmp_path, capsys,
                                                                      monkeypatch, code):
    run = tmp_path / "run"
    assert main(["train", "parity", "--out", str(run), "--steps", "2", *TINY]) == 0
    config_before = (run / "config.json").read_bytes()
    import ctm.files

    def failing_replace(src, dst):
        raise OSError(code, os.strerror(code), str(dst))

    monkeypatch.setattr(ctm.files.os, "replace", failing_replace)
    capsys.readouterr()
    status = main(["train", "--resume", str(run), "--eval-every", "1", "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert status == 1 and len(err.splitlines()) == 1, err
    assert err.startswith("ctm: error: cannot write") and os.strerror(code) in err
    assert "is as it was" in err
    assert (run / "config.json").read_bytes() == config_before
    assert not [p for p in run.rglob(".*.tmp")]  # no half-written temporary left behind


def test_a_closed_pipe_ends_eval_quietly(tmp_path):
    run = tmp_path / "run"
    assert main(["train", "parity", "--out", str(run), "--steps", "1", *TINY]) == 0
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = f"{sys.executable} -m ctm eval {run} --json"
    done = subprocess.run(f"{command} | head -c 20", shell=True, capture_output=True,
                          text=True, env=env, check=False)
    # nothing but progress (said on stderr after a couple of seconds on a slow machine)
    said = [line for line in done.stderr.splitlines() if not line.startswith("evaluating ")]
    assert len(done.stdout) == 20 and said == [], done.stderr
    # a reader that is gone before anything is written: the write itself fails (EPIPE)
    err = tmp_path / "err.txt"
    done = subprocess.run(["bash", "-c", f"{command} 2>{err} | true; echo ${{PIPESTATUS[0]}}"],
                          capture_output=True, text=True, env=env, check=False)
    assert done.stdout.strip() == "141" and err.read_text() == "", err.read_text()


def test_cuda_on_a_machine_without_it_is_refused_in_one_sentence(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="sees no CUDA GPU; use --device cpu"):
        check_device("cuda")
    assert check_device("cpu") == torch.device("cpu")


@pytest.mark.parametrize("writer", ["json", "torch", "safetensors"])
def test_every_writer_reports_a_full_disk_as_a_write_error(tmp_path, monkeypatch, writer):
    """torch.save and safetensors' save_file report a full disk as a RuntimeError, or not at
    all, when they write files themselves; ours serialise in memory and write with plain I/O,
    which raises the OSError a full disk gives."""
    import ctm.files
    from ctm.files import WriteError, write_json, write_safetensors, write_torch

    class FullDisk:
        def __init__(self, fd, mode):
            os.close(fd)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def write(self, data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    target = tmp_path / "file"
    target.write_bytes(b"previous")
    monkeypatch.setattr(ctm.files.os, "fdopen", FullDisk)
    write = {"json": lambda: write_json(target, {"a": 1}),
             "torch": lambda: write_torch(target, {"step": torch.zeros(3)}),
             "safetensors": lambda: write_safetensors(target, {"w": torch.zeros(3)})}[writer]
    with pytest.raises(WriteError, match="No space left on device"):
        write()
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["file"]  # no temporary left behind


def test_the_best_evaluated_model_is_kept_and_evaluated_with_best(tmp_path, capsys,
                                                                 monkeypatch):
    """RUN/best/ holds the weights of the evaluation whose headline metric was highest; a
    later, worse evaluation leaves it alone, and `ctm eval RUN --best` scores those weights."""
    from ctm.model import load_model

    run = tiny_run(steps=6, eval_every=2)
    trainer = Trainer(run, tmp_path / "run", progress=False)
    scores = iter([0.5, 0.9, 0.2])  # the evaluations at steps 2, 4 and 6
    real = trainer.evaluate

    def scripted() -> dict:
        metrics = real()
        metrics["sequence_accuracy"] = next(scores, metrics["sequence_accuracy"])
        return metrics

    monkeypatch.setattr(trainer, "evaluate", scripted)
    saved = {}
    original_save = trainer.save_checkpoint

    def remember() -> object:
        saved[trainer.step] = {k: v.clone() for k, v in trainer.model.state_dict().items()}
        return original_save()

    monkeypatch.setattr(trainer, "save_checkpoint", remember)
    trainer.fit()
    record = json.loads((tmp_path / "run" / "best.json").read_text())
    assert record == {"step": 4, "metric": "sequence_accuracy", "value": 0.9}
    best = load_model(tmp_path / "run" / "best").state_dict()
    assert all(torch.equal(best[k], v) for k, v in saved[4].items())
    assert not all(torch.equal(best[k], v) for k, v in saved[6].items())
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "run"), "--best", "--json", "--threads", "2"]) == 0
    assert "sequence_accuracy" in json.loads(capsys.readouterr().out)
    shutil.rmtree(tmp_path / "run" / "best")
    assert main(["eval", str(tmp_path / "run"), "--best"]) == 2
    assert "has no best model yet" in capsys.readouterr().err


def test_a_records_file_cut_short_by_a_crash_reads_up_to_the_cut(tmp_path):
    from ctm.run.layout import read_jsonl

    path = tmp_path / "records.jsonl"
    path.write_text('{"step": 1}\n{"step": 2}\n{"step": 3, "rou')
    assert read_jsonl(path) == [{"step": 1}, {"step": 2}]
    path.write_text('{"step": 1}\n[1, 2]\n{"step": 3}\n')
    with pytest.raises(ValueError, match=r"records.jsonl, line 2: not a JSON object"):
        read_jsonl(path)
