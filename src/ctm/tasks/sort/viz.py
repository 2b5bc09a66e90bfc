"""Pictures of a CTM sorting: what it emits at each tick, and how long it waits between
emissions against the gap between successive sorted values (the paper's figure)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...analysis.figures import pyplot, save_figure


def emission_plot(values: np.ndarray, order: np.ndarray, probabilities: np.ndarray,
                  path: Path) -> Path:
    """One sequence: the class probabilities (T, N + 1) over ticks, rows in the target order
    (so a correct model draws a staircase) with the blank last, and the numbers themselves."""
    plt = pyplot()
    n = len(values)
    rows = np.concatenate([probabilities[:, order], probabilities[:, n:]], axis=1).T  # (N+1, T)
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 0.18 * n + 2.2), dpi=110,
                                         gridspec_kw={"width_ratios": (1, 4)})
    left.barh(np.arange(n), values[order], color="C0")
    left.set(ylim=(n + 0.5, -0.5), xlabel="value", ylabel="sorted position",
             title="input, sorted")
    image = right.imshow(rows, aspect="auto", cmap="viridis", vmin=0, vmax=1,
                         interpolation="nearest",
                         extent=(0.5, probabilities.shape[0] + 0.5, n + 0.5, -0.5))
    right.set(xlabel="tick", ylabel="index emitted (in sorted order; last row: blank)",
              title="probability of each output over ticks")
    figure.colorbar(image, ax=right, fraction=0.03)
    return save_figure(figure, path)


def wait_gap_plot(gaps: np.ndarray, waits: np.ndarray,
                  deciles: list[tuple[float, float, float, float]], path: Path) -> Path:
    """Ticks waited before each correctly emitted index against the gap from the previous
    sorted value: every emission as a faint point, and the mean per gap decile (`deciles`:
    (low, high, centre, mean wait) per decile)."""
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(5, 3.5), dpi=120)
    if len(gaps):
        jitter = np.random.default_rng(0).uniform(-0.15, 0.15, len(waits))
        axis.scatter(gaps, waits + jitter, s=3, alpha=0.15, color="C0", label="emissions")
        axis.plot([centre for _, _, centre, _ in deciles], [wait for *_, wait in deciles], "o-",
                  color="C3", label="mean per gap decile")
        axis.legend(fontsize=7)
    axis.set(xlabel="gap to the previous value in sorted order",
             ylabel="ticks waited before emitting", title="sorting: wait against gap")
    axis.grid(alpha=0.3)
    return save_figure(figure, path)
