"""Image classification data: bundled digits, image folders and CIFAR binaries made here."""

import random

import numpy as np
import pytest
import torch
from PIL import Image

from ctm.model import CTM
from ctm.run import RunConfig
from ctm.tasks.image_data import load_cifar_split, load_digits_split, load_folder_split
from ctm.tasks.images import ImagesOptions, ImagesTask, augment


def test_digits_split_is_fixed_and_disjoint():
    train, test = load_digits_split()
    assert (len(train), len(test)) == (1438, 359)
    # held-out means unseen: no held-out image occurs, pixel for pixel, among the training ones
    seen = {image.tobytes() for image in train.pixels}
    assert not any(image.tobytes() in seen for image in test.pixels)
    assert train.images([0]).shape == (1, 8, 8, 1)
    again, _ = load_digits_split()
    assert np.array_equal(train.labels, again.labels)
    assert set(np.unique(test.labels)) == set(range(10))


def test_digits_task_batches():
    task = ImagesTask(ImagesOptions())
    batch = task.train_batch(0, 16, seed=0)
    assert batch.inputs.shape == (16, 1, 8, 8) and batch.targets.shape == (16,)
    assert batch.inputs.min() >= -1 and batch.inputs.max() <= 1
    assert torch.equal(batch.inputs, task.train_batch(0, 16, seed=0).inputs)
    assert sum(len(b.targets) for b in task.eval_batches(100, 0)) == 359
    run = RunConfig.create("images", {}, {}, {})
    assert (run.model.out_dims, run.model.in_channels) == (10, 1)


def test_augment_shifts_within_padding():
    pixels = np.zeros((1, 8, 8, 1), dtype=np.uint8)
    pixels[0, 4, 4] = 255
    moved = augment(pixels, random.Random(3), flip=False)
    assert moved.sum() == 255 and moved.shape == pixels.shape  # a shift of at most 1 pixel
    y, x = np.argwhere(moved[0, :, :, 0])[0]
    assert abs(y - 4) <= 1 and abs(x - 4) <= 1


def write_images(folder, count, colour):
    folder.mkdir(parents=True)
    for i in range(count):
        Image.fromarray(np.full((6, 6, 3), colour, dtype=np.uint8)).save(folder / f"{i}.png")


def test_image_folder_with_class_subfolders(tmp_path):
    write_images(tmp_path / "cat", 5, 10)
    write_images(tmp_path / "dog", 5, 200)
    train, test = load_folder_split(tmp_path, None, test_share=0.2)
    assert train.classes == ["cat", "dog"] and len(train) + len(test) == 10 and len(test) == 2
    images = train.images(list(range(len(train))))
    for image, label in zip(images, train.labels, strict=True):
        assert image[0, 0, 0] == (10 if label == 0 else 200)  # labels follow folders
    resized, _ = load_folder_split(tmp_path, 4, test_share=0.2)
    assert resized.images([0]).shape == (1, 4, 4, 3)


def test_image_folder_with_train_and_val(tmp_path):
    for split in ("train", "val"):
        write_images(tmp_path / split / "a", 2, 0)
        write_images(tmp_path / split / "b", 3, 255)
    train, test = load_folder_split(tmp_path, None, test_share=0.5)
    assert (len(train), len(test)) == (5, 5) and test.labels.tolist() == [0, 0, 1, 1, 1]


def write_cifar(path, labels, label_bytes):
    records = []
    for i, label in enumerate(labels):
        head = [label] if label_bytes == 1 else [label // 10, label]
        image = np.full(3 * 32 * 32, i, dtype=np.uint8)
        image[:1024] = 7  # red plane
        records.append(np.concatenate([np.array(head, dtype=np.uint8), image]))
    np.concatenate(records).tofile(path)


def test_cifar10_binary_format(tmp_path):
    for k in range(1, 6):
        write_cifar(tmp_path / f"data_batch_{k}.bin", [k, 9], 1)
    write_cifar(tmp_path / "test_batch.bin", [3], 1)
    train, test = load_cifar_split(tmp_path, 10)
    assert len(train) == 10 and train.labels[:2].tolist() == [1, 9]
    image = train.images([1])[0]
    assert image.shape == (32, 32, 3)
    assert image[0, 0].tolist() == [7, 1, 1]  # channel-major planes become H×W×C
    assert test.labels.tolist() == [3]


def test_cifar100_binary_format_uses_fine_labels(tmp_path):
    inner = tmp_path / "cifar-100-binary"
    inner.mkdir()
    write_cifar(inner / "train.bin", [42, 99], 2)
    write_cifar(inner / "test.bin", [5], 2)
    train, test = load_cifar_split(tmp_path, 100)
    assert train.labels.tolist() == [42, 99] and test.labels.tolist() == [5]


def test_cifar_errors_name_the_files(tmp_path):
    with pytest.raises(ValueError, match="data_batch_1.bin"):
        load_cifar_split(tmp_path, 10)
    (tmp_path / "train.bin").write_bytes(b"\x00" * 10)
    (tmp_path / "test.bin").write_bytes(b"\x00" * 10)
    with pytest.raises(ValueError, match="not a CIFAR binary file"):
        load_cifar_split(tmp_path, 100)


def test_evaluate_reports_accuracy_and_ece():
    run = RunConfig.create("images", {}, {"d_model": 16, "d_input": 8, "heads": 2, "ticks": 3,
                                          "n_sync_out": 8, "n_sync_action": 8, "n_self": 0}, {})
    task = ImagesTask(run.options)
    metrics = task.evaluate(CTM(run.model).eval(), task.eval_batches(128, 0), "cpu")
    assert 0 <= metrics["accuracy"] <= 1 and 0 <= metrics["ece"] <= 1
    assert len(metrics["accuracy_per_tick"]) == 3
    assert "ECE" in task.summary(metrics)


def test_viz_draws_the_image_pictures(tmp_path, capsys):
    from PIL import Image as PILImage

    from ctm.cli import main

    run = tmp_path / "run"
    assert main(["train", "images", "--steps", "2", "--batch-size", "8", "--d-model", "16",
                 "--ticks", "3", "--no-progress", "--out", str(run)]) == 0
    assert main(["viz", str(run), "--count", "2", "--ticks", "1,3"]) == 0
    capsys.readouterr()
    viz = run / "viz"
    for name in ("certainty.png", "neuron_traces.png", "reliability.png", "ticks_sweep.png",
                 "metrics_per_tick.png",
                 "stopping_ticks_by_class.png", "stopping_ticks_by_difficulty.png"):
        assert (viz / name).stat().st_size > 1000, name
    with PILImage.open(viz / "image_1_thinking.gif") as gif:
        assert gif.n_frames == 3


def test_the_papers_cifar10_recipe_runs_from_the_command_line(tmp_path, capsys):
    """ResNet-18 stage 1, d_model 256, 50 ticks (README), one step on tiny CIFAR-format files."""
    from ctm.cli import main

    data = tmp_path / "cifar-10-batches-bin"
    data.mkdir()
    for k in range(1, 6):
        write_cifar(data / f"data_batch_{k}.bin", [k, 0], 1)
    write_cifar(data / "test_batch.bin", [3, 4], 1)
    recipe = ["--dataset", "cifar10", "--path", str(tmp_path), "--backbone", "resnet18-1",
              "--d-model", "256", "--d-input", "64", "--heads", "16", "--ticks", "50",
              "--memory-length", "15", "--synapse-depth", "5", "--nlm-hidden", "64",
              "--n-sync-out", "256", "--n-sync-action", "512", "--n-self", "0"]
    assert main(["train", "images", *recipe, "--steps", "1", "--batch-size", "2",
                 "--no-progress", "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "cifar10: at the most-certain tick" in out and out.count("%") > 50
