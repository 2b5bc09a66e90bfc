"""Pictures of a CTM thinking about one input, shared by the tasks: certainty over ticks,
neuron traces, attention per tick, and where early exit stops."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .figures import figure_to_array, pyplot, save_figure, save_gif


def certainty_plot(certainty: np.ndarray, labels: Sequence[str], path: Path) -> Path:
    """Certainty (S, T) of a few samples over the ticks."""
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(5, 3.5), dpi=120)
    ticks = np.arange(1, certainty.shape[1] + 1)
    for row, label in zip(certainty, labels, strict=True):
        axis.plot(ticks, row, label=label)
    axis.set(xlabel="tick", ylabel="certainty (1 - normalised entropy)", ylim=(-0.02, 1.02),
             title="certainty over ticks")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7)
    return save_figure(figure, path)


def neuron_traces(post_activations: np.ndarray, path: Path, neurons: int = 8,
                  title: str = "") -> Path:
    """Post-activations (T, D) of the first `neurons` neurons over the ticks, one row each."""
    plt = pyplot()
    count = min(neurons, post_activations.shape[1])
    figure, axes = plt.subplots(count, 1, figsize=(5, 0.7 * count + 0.8), dpi=120, sharex=True)
    axes = np.atleast_1d(axes)
    ticks = np.arange(1, post_activations.shape[0] + 1)
    for k, axis in enumerate(axes):
        axis.plot(ticks, post_activations[:, k], color=f"C{k % 10}")
        axis.set_ylabel(f"n{k}", rotation=0, labelpad=12, fontsize=7)
        axis.tick_params(labelsize=6)
    axes[-1].set_xlabel("tick")
    axes[0].set_title(title or "neuron post-activations over ticks", fontsize=9)
    return save_figure(figure, path)


def attention_gif(image: np.ndarray, attention: np.ndarray, captions: Sequence[str],
                  path: Path) -> Path:
    """One frame per tick: the image, then each head's attention (heads, rows, cols) over it."""
    plt = pyplot()
    ticks, heads = attention.shape[:2]
    h, w = image.shape[:2]
    grey = image.mean(-1) if image.ndim == 3 else image
    frames = []
    for t in range(ticks):
        figure, axes = plt.subplots(1, heads + 1, figsize=(2 * (heads + 1), 2.4), dpi=80)
        axes[0].imshow(image.squeeze(), cmap="gray" if image.shape[-1] == 1 else None,
                       interpolation="nearest")
        axes[0].set_title(captions[t], fontsize=8)
        for head in range(heads):
            axes[head + 1].imshow(grey, cmap="gray", interpolation="nearest", alpha=0.5)
            axes[head + 1].imshow(attention[t, head], cmap="magma", alpha=0.6,
                                  interpolation="bilinear", extent=(-0.5, w - 0.5, h - 0.5, -0.5))
            axes[head + 1].set_title(f"head {head + 1}", fontsize=8)
        for axis in axes:
            axis.axis("off")
        figure.tight_layout()
        frames.append(figure_to_array(figure))
    return save_gif(frames, path)


def stopping_ticks_by_class(ticks: np.ndarray, classes: np.ndarray, names: Sequence[str],
                            threshold: float, path: Path) -> Path:
    """Box plot of the tick early exit stopped at, per class."""
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(6, 3.5), dpi=120)
    present = [c for c in range(len(names)) if np.any(classes == c)]
    axis.boxplot([ticks[classes == c] for c in present], tick_labels=[names[c] for c in present])
    axis.set(xlabel="class", ylabel="stopping tick",
             title=f"early exit at certainty {threshold}: ticks used per class")
    axis.grid(alpha=0.3, axis="y")
    return save_figure(figure, path)


def stopping_ticks_by_difficulty(ticks: np.ndarray, loss: np.ndarray, threshold: float,
                                 path: Path,
                                 label: str = "difficulty: cross-entropy at the last tick"
                                 ) -> Path:
    """Stopping tick against difficulty (by default the full run's loss at its last tick;
    `label` names another measure, such as a puzzle's rating)."""
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(5, 3.5), dpi=120)
    jitter = np.random.default_rng(0).uniform(-0.2, 0.2, len(ticks))
    axis.scatter(loss, ticks + jitter, s=6, alpha=0.5)
    axis.set(xscale="symlog", xlabel=label,
             ylabel="stopping tick", title=f"early exit at certainty {threshold}")
    axis.grid(alpha=0.3)
    return save_figure(figure, path)


def sequence_thinking(attention: np.ndarray, correct: np.ndarray, title: str, path: Path
                      ) -> Path:
    """For a sequence input: which positions each tick attends to (mean over heads) beside
    which output positions are right at each tick. attention and correct are (T, L)."""
    plt = pyplot()
    ticks, length = attention.shape
    figure, axes = plt.subplots(1, 2, figsize=(9, 0.18 * ticks + 1.8), dpi=110, sharey=True)
    extent = (0.5, length + 0.5, ticks + 0.5, 0.5)
    axes[0].imshow(attention, aspect="auto", cmap="magma", extent=extent)
    axes[0].set(xlabel="input position", ylabel="tick", title="attention (mean over heads)")
    axes[1].imshow(correct, aspect="auto", cmap="RdYlGn", vmin=0, vmax=1, extent=extent)
    axes[1].set(xlabel="output position", title="right (green) / wrong (red)")
    figure.suptitle(title, fontsize=9)
    return save_figure(figure, path)
