"""A rollout as a GIF: the environment, and the agent's certainty and action probabilities at
each step, as it plays one held-out episode."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from ...analysis.figures import figure_to_array, pyplot, save_gif
from .envs import EnvSpec

MAX_FRAMES = 150  # longer episodes are drawn every k-th step


@torch.no_grad()
def rollout_gif(model: torch.nn.Module, spec: EnvSpec, seed: int, path: Path) -> Path:
    """Play the episode seeded `seed` greedily and draw every step (or every k-th)."""
    plt = pyplot()
    model.eval()
    # off-screen drawing: without these SDL looks for a display and complains on stderr
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    env = spec.make(render_mode="rgb_array")
    try:
        obs, _ = env.reset(seed=seed)
        state = model.initial_state(1)
        frames, certainty, probabilities, returns = [], [], [], []
        done = False
        while not done:
            out = model(torch.from_numpy(spec.encode(obs))[None], state=state)
            state = out.state
            probs = torch.softmax(out.logits[0, -1].float(), -1).numpy()
            certainty.append(float(out.certainty[0, -1]))
            probabilities.append(probs)
            frames.append(env.render())
            obs, reward, terminated, truncated, _ = env.step(int(probs.argmax()))
            returns.append((returns[-1] if returns else 0.0) + float(reward))
            done = terminated or truncated
    finally:
        env.close()
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
