"""Image classification: scikit-learn's digits by default, or CIFAR / image folders on disk."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...losses import TickLoss, grouped_logits, per_tick_cross_entropy, two_tick_loss
from ...metrics import ClassMeter, per_tick_table
from ...model import CTMConfig, CTMOutput
from ..base import Batch, Task, train_seed
from ..image_data import (
    ImageSource,
    load_cifar_split,
    load_digits_split,
    load_folder_split,
    load_mnist_split,
)

DATASETS = ("digits", "mnist", "cifar10", "cifar100", "folder")


@dataclass
class ImagesOptions:
    dataset: str = "digits"  # digits (bundled) | mnist (IDX files) | cifar10 | cifar100 | folder
    path: str = ""  # where cifar/folder data live
    image_size: int = 0  # folder images resized to this square size (0: keep)
    test_share: float = 0.2  # folder without train/ and val/: share held out
    augment: bool = True  # random shifts (padded crops); plus mirror flips except for digits

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {DATASETS}, got {self.dataset!r}")
        if self.dataset != "digits" and not self.path:
            raise ValueError(f"dataset {self.dataset} is read from disk: give --path")
        if not 0.0 < self.test_share < 1.0:
            raise ValueError(f"test_share must be in (0, 1), got {self.test_share}")
        if self.image_size < 0:
            raise ValueError(f"image_size must be >= 0, got {self.image_size}")


def to_tensor(pixels: np.ndarray) -> torch.Tensor:
    """(N, H, W, C) uint8 -> (N, C, H, W) float in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(pixels)).permute(0, 3, 1, 2).float() / 127.5 - 1


def augment(pixels: np.ndarray, rng: random.Random, flip: bool) -> np.ndarray:
    """Random crops of the image padded by 1/8 of its size (zeros), and mirror flips."""
    n, h, w, _ = pixels.shape
    pad = max(1, h // 8)
    padded = np.pad(pixels, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    out = np.empty_like(pixels)
    for i in range(n):
        dy, dx = rng.randrange(2 * pad + 1), rng.randrange(2 * pad + 1)
        out[i] = padded[i, dy: dy + h, dx: dx + w]
        if flip and rng.random() < 0.5:
            out[i] = out[i, :, ::-1]
    return out


class ImagesTask(Task):
    name = "images"
    description = "classify images: bundled digits, or CIFAR / an image folder on disk"
    Options = ImagesOptions
    headline_metrics = ("accuracy",)

    def __init__(self, options: ImagesOptions) -> None:
        super().__init__(options)
        self._splits: tuple[ImageSource, ImageSource] | None = None

    def splits(self) -> tuple[ImageSource, ImageSource]:
        """(train, test), loaded on first use."""
        if self._splits is None:
            o = self.options
            if o.dataset == "digits":
                self._splits = load_digits_split()
            elif o.dataset == "mnist":
                self._splits = load_mnist_split(o.path)
            elif o.dataset in ("cifar10", "cifar100"):
                self._splits = load_cifar_split(o.path, 10 if o.dataset == "cifar10" else 100)
            else:
                self._splits = load_folder_split(o.path, o.image_size or None, o.test_share)
        return self._splits

    def _shape(self) -> tuple[int, int]:
        """(classes, channels) of the data set, without reading a whole folder."""
        train, _ = self.splits()
        channels = train.images([0]).shape[-1]
        return len(train.classes), channels

    def model_defaults(self) -> CTMConfig:
        classes, channels = self._shape()
        return CTMConfig(d_model=128, d_input=64, heads=4, ticks=15, memory_length=10,
                         synapse_depth=1, deep_nlm=True, nlm_hidden=16,
                         pairing="random-pairing", n_sync_out=64, n_sync_action=64, n_self=4,
                         out_dims=classes, out_shape=(-1,), backbone="resnet18-1",
                         in_channels=channels)

    def model_requirements(self) -> dict[str, Any]:
        classes, channels = self._shape()
        return {"out_dims": classes, "out_shape": (-1,), "in_channels": channels}

    def train_batch(self, step: int, batch_size: int, seed: int) -> Batch:
        rng = random.Random(train_seed(seed, step))
        train, _ = self.splits()
        indices = [rng.randrange(len(train)) for _ in range(batch_size)]
        pixels = train.images(indices)
        if self.options.augment:
            pixels = augment(pixels, rng, flip=self.options.dataset not in ("digits", "mnist"))
        return Batch(to_tensor(pixels), torch.from_numpy(train.labels[indices]))

    def eval_batches(self, batch_size: int, seed: int) -> Iterator[Batch]:
        _, test = self.splits()
        for first in range(0, len(test), batch_size):
            indices = list(range(first, min(first + batch_size, len(test))))
            yield Batch(to_tensor(test.images(indices)), torch.from_numpy(test.labels[indices]))

    def loss(self, output: CTMOutput, batch: Batch, config: CTMConfig) -> TickLoss:
        logits = grouped_logits(output.logits, config.out_groups_shape)  # (B, T, 1, C)
        return two_tick_loss(per_tick_cross_entropy(logits, batch.targets.unsqueeze(1)),
                             output.certainty)

    def meter(self, config: CTMConfig) -> ClassMeter:
        return ClassMeter(config)

    def viewer_examples(self, config: CTMConfig, count: int, seed: int) -> dict[str, Any]:
        from ...analysis.figures import token_grid

        _, test = self.splits()
        indices = list(range(min(count, len(test))))
        inputs = to_tensor(test.images(indices))
        rows, cols = token_grid(config.backbone, *inputs.shape[2:4])
        return {"kind": "image", "tokens": [rows, cols], "groups": [1, config.out_dims],
                "class_names": [str(c) for c in test.classes],
                "examples": [{"input": inputs[k].tolist(), "label": int(test.labels[i]),
                              "title": f"held-out image #{i}: {test.classes[test.labels[i]]}"}
                             for k, i in enumerate(indices)]}

    @torch.no_grad()
    def visualise(self, model: torch.nn.Module, out_dir: Path, count: int, seed: int
                  ) -> list[Path]:
        """Attention GIFs, certainty and neuron traces for `count` held-out images; stopping
        ticks of early exit per class and against difficulty over the whole held-out set."""
        from ...analysis import thinking
        from ...analysis.figures import token_grid
        from ...inference import think
        from ...model import CTM

        _, test = self.splits()
        indices = list(range(min(count, len(test))))
        pixels = test.images(indices)
        out = model(to_tensor(pixels), trace=True)
        names = test.classes
        predicted = out.logits.argmax(-1).numpy()  # (S, T)
        written = []
        labels = [f"#{i}: {names[test.labels[i]]}" for i in indices]
        written.append(thinking.certainty_plot(out.certainty.numpy(), labels,
                                               out_dir / "certainty.png"))
        if out.post_activations is not None:
            written.append(thinking.neuron_traces(out.post_activations[0].numpy(),
                                                  out_dir / "neuron_traces.png",
                                                  title=f"held-out image {labels[0]}"))
        rows, cols = token_grid(model.config.backbone, *pixels.shape[1:3])
        attention = out.attention.numpy().reshape(*out.attention.shape[:3], rows, cols)
        for k in range(len(indices)):
            captions = [f"tick {t + 1}: {names[predicted[k, t]]} "
                        f"({out.certainty[k, t]:.2f})" for t in range(attention.shape[1])]
            written.append(thinking.attention_gif(pixels[k], attention[k], captions,
                                                  out_dir / f"image_{k}_thinking.gif"))
        if isinstance(model, CTM):
            threshold = 0.8
            ticks, classes, losses = [], [], []
            for batch in self.eval_batches(256, seed):
                ticks.append(think(model, batch.inputs, halt_at=threshold).ticks.numpy())
                last = model(batch.inputs).logits[:, -1]
                losses.append(torch.nn.functional.cross_entropy(
                    last, batch.targets, reduction="none").numpy())
                classes.append(batch.targets.numpy())
            ticks_all, classes_all = np.concatenate(ticks), np.concatenate(classes)
            written.append(thinking.stopping_ticks_by_class(
                ticks_all, classes_all, names, threshold, out_dir / "stopping_ticks_by_class.png"))
            written.append(thinking.stopping_ticks_by_difficulty(
                ticks_all, np.concatenate(losses), threshold,
                out_dir / "stopping_ticks_by_difficulty.png"))
        return written

    def summary(self, metrics: dict[str, Any]) -> str:
        lines = [f"{self.options.dataset}: at the most-certain tick (mean tick "
                 f"{metrics['mean_certain_tick']:.1f}) accuracy "
                 f"{100 * metrics['accuracy']:.2f}%, ECE {100 * metrics['ece']:.2f}%"]
        lines += per_tick_table({"accuracy": metrics["accuracy_per_tick"],
                                 "ECE": metrics["ece_per_tick"]})
        return "\n".join(lines)
