"""A picture of one Q&A episode: what the model is shown at each tick (with its attention over
the digit's patches), its certainty over the ticks, and its answer at each answer tick."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...analysis.figures import pyplot, save_figure
from .data import QABatch, TokenLayout


def episode_figure(batch: QABatch, k: int, layout: TokenLayout, ticks_per_observation: int,
                   attention: np.ndarray | None, certainty: np.ndarray,
                   predictions: np.ndarray, answer_ticks: int, path: Path) -> Path:
    """attention (T, N) averaged over heads or None; certainty (T,); predictions (T,)."""
    plt = pyplot()
    total = len(certainty)
    shown = batch.inputs.shape[1]
    figure = plt.figure(figsize=(max(6.0, 0.55 * total), 3.6), dpi=110, layout="constrained")
    grid = figure.add_gridspec(2, total, height_ratios=(1, 1.6))
    digits = batch.digits
    for t in range(total):
        axis = figure.add_subplot(grid[0, t])
        axis.set_xticks([])
        axis.set_yticks([])
        step = t // ticks_per_observation
        if t >= shown:
            axis.text(0.5, 0.5, f"?\n{predictions[t]}", ha="center", va="center", fontsize=9,
                      color="C3")
        elif step < digits and layout.labels:
            axis.text(0.5, 0.5, str(int(batch.labels[k, step])), ha="center", va="center",
                      fontsize=12, fontweight="bold")
        elif step < digits:
            tokens = batch.inputs[k, t].numpy()  # (N, C)
            image = _image(tokens, layout)
            axis.imshow(image, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            if attention is not None:  # attended patches tinted red, in proportion
                tint = np.zeros((*image.shape, 4))
                tint[..., 0] = 1.0
                tint[..., 3] = 0.6 * _upsample(attention[t], layout)
                axis.imshow(tint, interpolation="nearest")
        else:
            j = step - digits
            value = int(batch.question[k, j])
            text = f"#{value}" if j % 2 == 0 else ("+", "−")[value]
            axis.text(0.5, 0.5, text, ha="center", va="center", fontsize=10)
        axis.set_title(str(t + 1), fontsize=6)
    curve = figure.add_subplot(grid[1, :])
    ticks = np.arange(1, total + 1)
    curve.plot(ticks, certainty, color="C0")
    curve.axvspan(shown + 0.5, total + 0.5, color="C3", alpha=0.1, label="answer ticks")
    curve.set(xlim=(0.5, total + 0.5), ylim=(-0.02, 1.02), xlabel="tick", ylabel="certainty")
    labels = batch.labels[k].tolist()
    answer = shown + int(np.argmax(certainty[shown:]))
    curve.axvline(answer + 1, color="C3", linestyle=":")
    curve.set_title(f"digits {labels}, answer {int(batch.targets[k])}; at the most certain "
                    f"answer tick ({answer + 1}) it answers {predictions[answer]}", fontsize=8)
    curve.legend(fontsize=7, loc="upper left")
    curve.grid(alpha=0.3)
    return save_figure(figure, path)


def _image(tokens: np.ndarray, layout: TokenLayout) -> np.ndarray:
    """A digit's patch tokens (N, C) -> its (side, side) image."""
    r, p = layout.per_row, layout.patch
    patches = tokens[:, : layout.pixels].reshape(r, r, p, p)
    return patches.transpose(0, 2, 1, 3).reshape(r * p, r * p)


def _upsample(weights: np.ndarray, layout: TokenLayout) -> np.ndarray:
    """Attention (N,) over patches -> (side, side), each patch's weight over its pixels."""
    grid = weights.reshape(layout.per_row, layout.per_row)
    return np.kron(grid, np.ones((layout.patch, layout.patch)))
