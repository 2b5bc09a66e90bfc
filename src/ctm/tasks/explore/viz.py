"""An explore episode as a GIF: the maze, the paths walked, what each agent sees, and where the
first agent's memory reads come from: each entry is drawn on the pixel its writer stood on
when it wrote it, the larger the more of the read it took."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ...analysis.figures import figure_to_array, pyplot, save_gif
from ..play import EnvSpec, play

MAX_FRAMES = 150  # longer episodes are drawn every k-th step


def slot_writers(step: int, team: int, slots: int) -> dict[int, tuple[int, int]]:
    """Which (step, team member) wrote each slot that a read at `step` finds: the store is a
    ring of `slots` where step s's entries go, member by member, to s · team + member."""
    writers: dict[int, tuple[int, int]] = {}
    for earlier in range(step):
        for member in range(team):
            writers[(earlier * team + member) % slots] = (earlier, member)
    return writers


def episode_gif(model: torch.nn.Module, spec: EnvSpec, seed: int, path: Path,
                sample: bool = True) -> Path:
    """Play the held-out maze `seed` as evaluation does and draw every step (or every k-th)."""
    plt = pyplot()
    config = model.config
    remembers = config.memory_slots > 0
    episodes = play(model, spec, [seed], "cpu", render=True, sample=sample, trace=remembers)
    first = episodes[0]
    info = first.info.get("team")
    walks = info.walks if info is not None else [first.info["walk"]]
    team, slots = config.memory_team, config.memory_slots * config.memory_team
    steps = len(first.frames)
    every = max(1, -(-steps // MAX_FRAMES))
    drawn = []
    for t in range(0, steps, every):
        figure, (scene, curve) = plt.subplots(1, 2, figsize=(6.4, 3.0), dpi=80,
                                              gridspec_kw={"width_ratios": (1.2, 1.4)})
        scene.imshow(first.frames[t], interpolation="nearest")
        scene.set_axis_off()
        read_from = "no memory"
        if remembers and t < len(first.reads):
            weights = first.reads[t]
            writers = slot_writers(t, team, slots)
            spots: dict[tuple[int, int], float] = {}
            for slot, (when, member) in writers.items():
                writer = walks[member if team > 1 else 0]
                # an agent that has arrived writes from the goal, where it waits
                spot = writer.stood[when] if when < len(writer.stood) else writer.path[-1]
                spots[spot] = spots.get(spot, 0.0) + float(weights[slot])
            if spots:
                ys, xs = zip(*spots, strict=True)
                scene.scatter(xs, ys, s=[600 * w for w in spots.values()], facecolors="none",
                              edgecolors="magenta", linewidths=1.5)
                age = np.average([t - when for when, _ in writers.values()],
                                 weights=[weights[slot] for slot in writers])
                read_from = f"memory read from {age:.0f} steps back on average"
            else:
                read_from = "memory empty"
        scene.set_title(f"step {t + 1}/{steps}\n{read_from}", fontsize=7)
        for k, episode in enumerate(episodes):
            curve.plot(np.arange(1, t + 2), episode.certainty[: t + 1], label=f"agent {k + 1}")
        curve.set(xlim=(1, steps), ylim=(-0.02, 1.02), xlabel="step", ylabel="certainty")
        curve.grid(alpha=0.3)
        if len(episodes) > 1:
            curve.legend(fontsize=6)
        figure.tight_layout()
        drawn.append(figure_to_array(figure))
    return save_gif(drawn, path, seconds_per_frame=0.12)
