"""Figure helpers: matplotlib without a screen, figures to frames, frames to GIFs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def pyplot():  # noqa: ANN201 - matplotlib's module
    """matplotlib.pyplot on the non-interactive Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def figure_to_array(figure) -> np.ndarray:  # noqa: ANN001
    """Render a matplotlib figure to an (H, W, 3) uint8 array and close it."""
    figure.canvas.draw()
    frame = np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()
    pyplot().close(figure)
    return frame


def save_figure(figure, path: str | Path) -> Path:  # noqa: ANN001
    """Lay out, write (making folders) and close a matplotlib figure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if figure.get_layout_engine() is None:  # a figure with its own layout keeps it
        figure.tight_layout()
    figure.savefig(path)
    pyplot().close(figure)
    return path


def save_gif(frames: Sequence[np.ndarray], path: str | Path, seconds_per_frame: float = 0.25
             ) -> Path:
    """Write RGB frames as a looping animated GIF."""
    from PIL import Image

    if not frames:
        raise ValueError("no frames to write")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:],
                   duration=int(1000 * seconds_per_frame), loop=0)
    return path


def token_grid(backbone: str, height: int, width: int) -> tuple[int, int]:
    """Rows and columns of the token grid an image backbone makes from an H×W image, as the
    backbone's registry entry says."""
    from ..model import BACKBONES

    grid = BACKBONES.get(backbone).grid
    if grid is None:
        raise ValueError(f"the {backbone} backbone's tokens are no grid over an image")
    return grid(height, width)


def line_plot(xs: Sequence[float], series: dict[str, Sequence[float]], xlabel: str,
              ylabel: str, title: str, path: str | Path) -> Path:
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(5, 3.5), dpi=120)
    for label, ys in series.items():
        axis.plot(xs, ys, marker="o", label=label)
    axis.set(xlabel=xlabel, ylabel=ylabel, title=title)
    axis.grid(alpha=0.3)
    if len(series) > 1:
        axis.legend()
    return save_figure(figure, path)
