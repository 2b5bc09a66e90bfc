"""An episode as a GIF, for every task that trains an agent: the environment, and the agent's
certainty and action probabilities at each step, as it plays one held-out episode."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..analysis.figures import figure_to_array, pyplot, save_gif
from .play import EnvSpec, play

MAX_FRAMES = 150  # longer episodes are drawn every k-th step


def rollout_gif(model: torch.nn.Module, spec: EnvSpec, seed: int, path: Path,
                sample: bool = False) -> Path:
    """Play the episode seeded `seed`, acting as evaluation does (the most likely action, or
    with `sample` one drawn from the policy), and draw every step (or every k-th)."""
    plt = pyplot()
    episode = play(model, spec, [seed], "cpu", render=True, sample=sample)[0]
    frames, certainty, probabilities = episode.frames, episode.certainty, episode.probabilities
    returns = np.cumsum(episode.rewards).tolist()
    every = max(1, -(-len(frames) // MAX_FRAMES))
    drawn = []
    for t in range(0, len(frames), every):
        figure, (scene, curve, bars) = plt.subplots(
            1, 3, figsize=(8.4, 2.6), dpi=80, gridspec_kw={"width_ratios": (1.3, 1.6, 0.9)})
        scene.imshow(frames[t])
        scene.set_axis_off()
        scene.set_title(f"{spec.env_id}, step {t + 1}", fontsize=8)
        curve.plot(np.arange(1, t + 2), certainty[: t + 1], color="C0")
        curve.set(xlim=(1, len(frames)), ylim=(-0.02, 1.02), xlabel="step",
                  ylabel="certainty")
        curve.set_title(f"return so far {returns[t]:g}", fontsize=8)
        curve.grid(alpha=0.3)
        bars.bar(np.arange(len(probabilities[t])), probabilities[t], color="C1")
        bars.set(ylim=(0, 1), xlabel="action", title="action probabilities")
        bars.title.set_fontsize(8)
        figure.tight_layout()
        drawn.append(figure_to_array(figure))
    return save_gif(drawn, path, seconds_per_frame=0.08)
