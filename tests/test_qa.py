"""The Q&A memory task: episodes, answers, the loss on answer ticks only, held-out images, and
the MNIST-format reader it shares with the images task."""

import gzip

import numpy as np
import pytest
import torch

from ctm.model import CTMOutput
from ctm.run.config import RunConfig
from ctm.tasks.image_data import load_digits_split, load_mnist_split, read_idx
from ctm.tasks.qa import QAMeter, QAOptions, QATask, TokenLayout, answer_of
from ctm.tasks.qa.viz import _image


def test_answers_take_each_operation_mod_10():
    labels = torch.tensor([[3, 7], [9, 9]])
    # start at digit 0, + digit 1, - digit 1:  3 + 7 = 0, 0 - 7 = 3;  9 + 9 = 8, 8 - 9 = 9
    question = torch.tensor([[0, 0, 1, 1, 1], [1, 0, 0, 1, 1]])
    assert answer_of(labels, question).tolist() == [3, 9]


def test_an_episode_shows_each_step_for_r_ticks():
    task = QATask(QAOptions(ticks_per_observation=3))
    import random

    batch = task.episodes(task.splits()[0], 5, digits=2, operations=1, rng=random.Random(0))
    layout = task.layout
    assert batch.inputs.shape == (5, (2 + 1 + 2) * 3, layout.patches, layout.width)
    assert torch.equal(batch.inputs[:, 0], batch.inputs[:, 2])  # three ticks of digit 1
    kind = batch.inputs[..., layout.kind: layout.kind + 3].amax(2)  # (B, T, 3)
    assert kind[0, :6, 0].all() and kind[0, 6:9, 1].all() and kind[0, 9:12, 2].all()
    assert kind[0, 12:, 1].all()
    index_token = batch.inputs[:, 6, 0, layout.index: layout.index + 4]
    assert torch.equal(index_token.argmax(-1), batch.question[:, 0])
    assert index_token.sum() == 5 and (batch.inputs[:, 6, 1:] == 0).all()  # one token only
    # the digit tokens put the image back together
    image = _image(batch.inputs[0, 0].numpy(), layout)
    source = task.splits()[0]
    assert any(np.allclose(image, source.pixels[i, ..., 0] / 255) for i in range(len(source)))
    assert torch.equal(batch.targets, answer_of(batch.labels, batch.question))


def test_digits_as_labels_are_one_token_naming_the_class_and_nothing_else_changes():
    """The ablation --digit-input labels: the same episodes (labels, questions, answers, for
    the same draws), with each digit one exact token in place of its image's patches."""
    import random

    images = QATask(QAOptions())
    labels = QATask(QAOptions(digit_input="labels"))
    source = images.splits()[0]
    a = images.episodes(source, 6, digits=3, operations=2, rng=random.Random(1))
    b = labels.episodes(source, 6, digits=3, operations=2, rng=random.Random(1))
    assert torch.equal(a.labels, b.labels) and torch.equal(a.question, b.question)
    assert torch.equal(a.targets, b.targets)
    layout = labels.layout
    assert layout.width == images.layout.width + 10
    digit = b.inputs[:, :3]  # (B, 3, N, C): the three digits
    assert torch.equal(digit[:, :, 0, layout.label:].argmax(-1), b.labels)
    assert (digit[:, :, 0, layout.label:].sum(-1) == 1).all()
    assert (digit[:, :, 1:] == 0).all()  # one token; the others absent
    assert (digit[..., : layout.pixels] == 0).all()  # no pixels
    assert (digit[:, :, 0, layout.kind] == 1).all()  # of kind "digit"
    # the question's tokens are the images' tokens, widened by the empty label slots
    assert torch.equal(b.inputs[:, 3:, ..., : layout.label], a.inputs[:, 3:])
    assert "not held out" in labels.summary({"answer_accuracy": 0.5, "ece": 0.1,
                                             "answer_accuracy_table": {}})
    with pytest.raises(ValueError, match="digit_input must be one of images, labels"):
        QAOptions(digit_input="words")


def image_bytes(batch, task):
    layout = task.layout
    digits = batch.inputs[:, :: task.options.ticks_per_observation][:, : batch.digits]
    return {(_image(t.numpy(), layout) * 255).round().astype(np.uint8).tobytes()
            for row in digits for t in row}


def test_held_out_episodes_use_only_held_out_images():
    task = QATask(QAOptions(eval_size=64))
    train, test = load_digits_split()
    train_set = {train.pixels[i, ..., 0].tobytes() for i in range(len(train))}
    test_set = {test.pixels[i, ..., 0].tobytes() for i in range(len(test))}
    seen = set().union(*(image_bytes(task.train_batch(s, 32, 0), task) for s in range(10)))
    shown = set().union(*(image_bytes(b, task) for b in task.eval_batches(16, 0)))
    assert seen <= train_set and shown <= test_set
    assert not seen & shown


def test_eval_covers_every_digits_and_operations_pair():
    task = QATask(QAOptions(digits=2, operations=3, eval_size=12))
    pairs = [(b.digits, b.operations) for b in task.eval_batches(100, 0)]
    assert pairs == [(k, m) for k in (1, 2) for m in (1, 2, 3)]


def test_the_loss_looks_only_at_the_answer_ticks():
    task = QATask(QAOptions(answer_ticks=2))
    run = RunConfig.create("qa", {"answer_ticks": 2})
    import random

    batch = task.episodes(task.splits()[0], 4, 1, 1, random.Random(0))
    torch.manual_seed(0)
    logits = torch.randn(4, batch.inputs.shape[1] + 2, 10, requires_grad=True)
    certainty = torch.rand(4, logits.shape[1])
    task.loss(CTMOutput(logits, certainty, logits[:, -1]), batch, run.model).loss.backward()
    grad = logits.grad.abs().sum((0, 2))
    # the two-tick rule picks one or two of the answer ticks per episode, never another tick
    assert (grad[:-2] == 0).all() and grad[-2:].sum() > 0


def test_meter_tables_by_digits_and_operations():
    meter = QAMeter(answer_ticks=2)

    class Fake:
        pass

    # the second episode asks about digits 0 and 1 (two distinct), the first about digit 0 only
    for digits, operations, right, question in ((1, 1, True, [0, 0, 0]),
                                                (2, 1, False, [0, 1, 1])):
        batch = Fake()
        batch.__class__ = __import__("ctm.tasks.qa", fromlist=["QABatch"]).QABatch
        batch.digits, batch.operations = digits, operations
        batch.targets = torch.tensor([4])
        batch.question = torch.tensor([question])
        logits = torch.full((1, 5, 10), -5.0)
        logits[0, -2:, 4 if right else 5] = 5.0
        meter.update(CTMOutput(logits, torch.rand(1, 5), logits[:, -1]), batch)
    result = meter.result()
    assert result["answer_accuracy"] == 0.5
    assert result["answer_accuracy_table"] == {"1,1": 1.0, "2,1": 0.0}
    assert result["answer_accuracy_by_digits"] == {"1": 1.0, "2": 0.0}
    assert result["answer_accuracy_by_operations"] == {"1": 0.5}
    assert result["answer_accuracy_by_distinct_digits_asked"] == {"1": 1.0, "2": 0.0}


def test_models_that_cannot_do_it_and_bad_options_are_refused():
    with pytest.raises(ValueError, match="feedforward architecture takes input_mode"):
        RunConfig.create("qa", {}, {"architecture": "feedforward"})
    with pytest.raises(ValueError,
                       match=r"digits \(5\) must be <= index_slots \(4\).*--index-slots 5"):
        QAOptions(digits=5)
    with pytest.raises(ValueError, match="give --path"):
        QAOptions(dataset="mnist")
    with pytest.raises(ValueError, match="patch 3 does not divide"):
        RunConfig.create("qa", {"patch": 3})


def write_idx(path, array, compress=False):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)


def make_mnist(folder, side=8, count=40):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", count), ("t10k", count // 2)):
        images = rng.integers(0, 256, (n, side, side))
        labels = np.arange(n) % 10
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images, compress=True)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels)
    return folder


def test_mnist_folder_reads_plain_and_gzipped_idx(tmp_path):
    train, test = load_mnist_split(make_mnist(tmp_path))
    assert train.pixels.shape == (40, 8, 8, 1) and test.pixels.shape == (20, 8, 8, 1)
    assert train.labels.tolist()[:12] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    assert train.classes == [str(d) for d in range(10)]


def test_broken_mnist_files_are_named(tmp_path):
    make_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x09abc")
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte is cut short \\(an interrupted "
                                         "download\\?\\): fetch it again: it holds 3 bytes "
                                         "of data where its header promises 9"):
        load_mnist_split(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01\x00\x00")
    with pytest.raises(ValueError, match="is cut short inside its header"):
        load_mnist_split(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(
        b"\x00\x00\x08\x01\x00\x00\x00\x02abc")
    with pytest.raises(ValueError, match="holds 3 bytes of data where its header promises 2 "
                                         "\\(2\\): not an IDX file"):
        load_mnist_split(tmp_path)
    # a gzipped file whose download stopped half-way
    images = tmp_path / "t10k-images-idx3-ubyte.gz"
    images.write_bytes(images.read_bytes()[: len(images.read_bytes()) // 2])
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz is cut short"):
        read_idx(images)
    images.write_bytes(b"\x1f\x8b" + bytes(40))
    with pytest.raises(ValueError, match="is a damaged gzip file"):
        read_idx(images)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(b"PK\x03\x04")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "t10k-labels-idx1-ubyte")
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte\\[.gz\\] missing"):
        load_mnist_split(tmp_path)


def test_qa_and_images_train_on_an_mnist_folder(tmp_path):
    from ctm.train import Trainer

    (tmp_path / "mnist").mkdir()
    folder = make_mnist(tmp_path / "mnist")
    for task, options in (("qa", {"dataset": "mnist", "path": str(folder), "digits": 2,
                                  "operations": 1, "eval_size": 8, "patch": 4}),
                          ("images", {"dataset": "mnist", "path": str(folder)})):
        run = RunConfig.create(task, options, {"d_model": 16, "d_input": 8, "heads": 2,
                                               "n_sync_out": 4, "n_sync_action": 4,
                                               "n_self": 0, "ticks": 12},
                               {"steps": 1, "batch_size": 4, "eval_every": 1, "threads": 1})
        metrics = Trainer(run, tmp_path / task, progress=False).fit()
        assert metrics, task
    assert TokenLayout(8, 4).width == 16 + 4 + 3 + 4 + 2


def test_the_curriculum_grows_the_counts_training_draws():
    task = QATask(QAOptions(curriculum_steps=100))
    assert [task.curriculum(s, 1, 4) for s in (0, 24, 25, 50, 75, 99, 100, 10**6)] == \
        [1, 1, 2, 3, 4, 4, 4, 4]
    early = {(b.digits, b.operations) for b in (task.train_batch(s, 2, 0) for s in range(20))}
    assert early == {(1, 1)}
    late = {(b.digits, b.operations) for b in (task.train_batch(s, 2, 0)
                                               for s in range(100, 300))}
    assert {k for k, _ in late} == {1, 2, 3, 4} and {m for _, m in late} == {1, 2, 3, 4}
    # evaluation ignores it
    assert len({(b.digits, b.operations) for b in task.eval_batches(64, 0)}) == 16


def test_final_evaluation_scores_the_model_at_other_paces():
    task = QATask(QAOptions(digits=2, operations=1, ticks_per_observation=2, answer_ticks=1,
                            eval_size=12))
    config = RunConfig.create("qa", {"digits": 2, "operations": 1, "ticks_per_observation": 2,
                                    "answer_ticks": 1, "eval_size": 12},
                             model={"d_model": 16, "d_input": 8, "n_sync_out": 8,
                                    "n_sync_action": 8}).model
    from ctm.model import build_model

    model = build_model(config).eval()
    paces = task.final_evaluation(model, 4, seed=0, device="cpu")[
        "answer_accuracy_by_ticks_per_observation"]
    assert list(paces) == ["1", "2", "4"]
    # the trained pace is scored on the same episodes as evaluate's
    same = task.evaluate(model, task.eval_batches(4, 0), "cpu")["answer_accuracy"]
    assert paces["2"] == same
    # other paces really show each observation for other numbers of ticks: a recording model
    # sees schedules of (k + 1 + 2m) * pace ticks plus the answer tick
    seen = []
    original = model.forward
    model.forward = lambda x, ticks=None, **kw: seen.append(ticks) or original(x, ticks, **kw)
    task.final_evaluation(model, 4, seed=0, device="cpu")
    assert sorted(set(seen)) == sorted({(k + 1 + 2) * pace + 1 for k in (1, 2)
                                        for pace in (1, 2, 4)})
    assert "ticks per observation: 1:" in task.summary(
        {**task.evaluate(model, task.eval_batches(4, 0), "cpu"),
         "answer_accuracy_by_ticks_per_observation": paces})


def test_the_default_model_remembers_the_whole_episode_in_each_neuron():
    # measured: a window of 3 ticks learned the task far more slowly than one covering the
    # episode (docs/results.md), so the default window is the episode's length
    for options in (QAOptions(), QAOptions(digits=2, operations=1, ticks_per_observation=1)):
        task = QATask(options)
        config = task.model_defaults()
        longest = task.schedule_ticks(options.digits, options.operations) + options.answer_ticks
        assert config.ticks == config.memory_length == longest
    assert QATask(QAOptions()).model_defaults().memory_length == (4 + 1 + 8) * 1 + 3


def test_a_model_with_room_for_ten_indices_is_evaluated_out_of_distribution(tmp_path, capsys):
    """Trained on 1-2 digits and operations with room for 10 indices, the same model is
    scored on episodes of up to 10 digits and 10 operations, as the original evaluates."""
    import json

    from ctm.cli import main
    from ctm.train import Trainer

    run = RunConfig.create("qa", {"digits": 2, "operations": 2, "index_slots": 10,
                                  "eval_size": 8},
                           {"d_model": 16, "d_input": 8, "heads": 2, "n_sync_out": 4,
                            "n_sync_action": 4, "n_self": 0},
                           {"steps": 1, "batch_size": 4, "eval_every": 1, "threads": 1})
    assert run.model.in_channels == TokenLayout(8, 4, 10).width == TokenLayout(8, 4).width + 6
    Trainer(run, tmp_path / "run", progress=False).fit()
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "run"), "--digits", "10", "--operations", "10",
                 "--eval-size", "100", "--json", "--threads", "1"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert set(metrics["answer_accuracy_by_digits"]) == {str(k) for k in range(1, 11)}
    assert set(metrics["answer_accuracy_by_operations"]) == {str(m) for m in range(1, 11)}
    # a model with room for 4 indices cannot be shown 10 digits: one clear line
    Trainer(RunConfig.create("qa", {"digits": 2, "operations": 1, "eval_size": 8},
                             {"d_model": 16, "d_input": 8, "heads": 2, "n_sync_out": 4,
                              "n_sync_action": 4, "n_self": 0},
                             {"steps": 1, "batch_size": 4, "eval_every": 1, "threads": 1}),
            tmp_path / "four", progress=False).fit()
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "four"), "--digits", "10", "--threads", "1"]) == 2
    assert "index_slots (4)" in capsys.readouterr().err


def test_episodes_change_shape_only_when_the_counts_vary():
    """The trainer's `--compile auto` trains eager where they do (each shape would compile)."""
    assert QATask(QAOptions()).batch_shapes_vary()
    fixed = QATask(QAOptions(digits=2, min_digits=2, operations=3, min_operations=3))
    assert not fixed.batch_shapes_vary()
    shapes = {tuple(fixed.train_batch(step, 4, 0).inputs.shape) for step in range(6)}
    assert len(shapes) == 1
    varying = QATask(QAOptions(curriculum_steps=0))
    assert len({tuple(varying.train_batch(step, 4, 0).inputs.shape) for step in range(30)}) > 1
