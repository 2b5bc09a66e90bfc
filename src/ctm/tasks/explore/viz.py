"""An explore episode drawn: as a GIF (the maze, the paths walked, what each agent sees, and
where the first agent's memory reads come from: each entry is drawn on the pixel its writer
stood on when it wrote it, the larger the more of the read it took), and as the record the
episode page (`ctm viz RUN --html`) plays step by step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...analysis.figures import figure_to_array, pyplot, save_gif
from ..play import EnvSpec, Episode, play
from .world import Walk

MAX_FRAMES = 150  # longer episodes are drawn every k-th step


def slot_writers(step: int, team: int, slots: int) -> dict[int, tuple[int, int]]:
    """Which (step, team member) wrote each slot that a read at `step` finds: the store is a
    ring of `slots` where step s's entries go, member by member, to s · team + member."""
    writers: dict[int, tuple[int, int]] = {}
    for earlier in range(step):
        for member in range(team):
            writers[(earlier * team + member) % slots] = (earlier, member)
    return writers


def stood_at(walk: Walk, step: int) -> tuple[int, int]:
    """Where an agent stood when it took step `step` (0-based); once arrived, it waits at the
    goal, the end of its path."""
    return walk.stood[step] if step < len(walk.stood) else walk.path[-1]


def read_spots(weights: np.ndarray, step: int, team: int, slots: int, walks: list[Walk],
               reader: int) -> tuple[dict[tuple[int, int], float], float | None]:
    """Where the entries that agent `reader` read at `step` were written (the pixel each writer
    stood on, weights of entries written there summed), and how many steps back the read
    reached on average (None: the memory was empty). With a private memory (`team` 1) every
    entry is the reader's own."""
    writers = slot_writers(step, team, slots)
    spots: dict[tuple[int, int], float] = {}
    for slot, (when, member) in writers.items():
        spot = stood_at(walks[member if team > 1 else reader], when)
        spots[spot] = spots.get(spot, 0.0) + float(weights[slot])
    if not writers:
        return spots, None
    age = float(np.average([step - when for when, _ in writers.values()],
                           weights=[weights[slot] for slot in writers]))
    return spots, age


def team_walks(first: Episode) -> list[Walk]:
    """The walks of the team whose first agent's episode is `first` (one walk for a lone
    agent), from what the environment said at the end."""
    info = first.info.get("team")
    return info.walks if info is not None else [first.info["walk"]]


def episode_gif(model: torch.nn.Module, spec: EnvSpec, seed: int, path: Path,
                sample: bool = True) -> Path:
    """Play the held-out maze `seed` as evaluation does and draw every step (or every k-th)."""
    plt = pyplot()
    config = model.config
    remembers = config.memory_slots > 0
    episodes = play(model, spec, [seed], "cpu", render=True, sample=sample, trace=remembers)
    first = episodes[0]
    walks = team_walks(first)
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
            spots, age = read_spots(first.reads[t], t, team, slots, walks, 0)
            if age is not None:
                ys, xs = zip(*spots, strict=True)
                scene.scatter(xs, ys, s=[600 * w for w in spots.values()], facecolors="none",
                              edgecolors="magenta", linewidths=1.5)
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


NEURONS = 32  # neurons whose activity the episode page draws, step by step


def episode_records(model: torch.nn.Module, spec: EnvSpec, seeds: list[int], sample: bool
                    ) -> list[dict[str, Any]]:
    """The held-out mazes `seeds` played side by side as evaluation plays them, each kept for
    the episode page: the maze, and for each agent where it stood at every step, what it chose
    from which probabilities, its certainty at every tick, where its memory read came from,
    and (a CTM) its first neurons' activity."""
    config = model.config
    team, slots = config.memory_team, config.memory_slots * config.memory_team
    episodes = play(model, spec, seeds, "cpu", sample=sample, trace=True)
    world = spec.make()
    records = []
    for j, seed in enumerate(seeds):
        mine = episodes[j * spec.agents:(j + 1) * spec.agents]
        walks = team_walks(mine[0])
        world.reset(seed=seed)
        maze = world.maze
        info = mine[0].info.get("team")
        records.append({
            "maze": ["".join("." if cell else "#" for cell in row) for row in maze.open],
            "start": list(maze.start), "goal": list(maze.goal), "budget": world.budget,
            "shortest": walks[0].shortest, "solved": any(w.solved for w in walks),
            "first_arrival": info.first_arrival if info is not None else walks[0].steps,
            "steps": len(mine[0].actions),
            "agents": [agent_record(e, walks, k, team, slots) for k, e in enumerate(mine)]})
    world.close()
    return records


def agent_record(episode: Episode, walks: list[Walk], k: int, team: int, slots: int
                 ) -> dict[str, Any]:
    walk = walks[k]
    steps = len(episode.actions)
    at = [list(stood_at(walk, t)) for t in range(steps)] + [list(walk.path[-1])]
    reads, ages = [], []
    for t, weights in enumerate(episode.reads):
        spots, age = read_spots(weights, t, team, slots, walks, k)
        reads.append([[y, x, round(w, 4)] for (y, x), w in
                      sorted(spots.items(), key=lambda item: -item[1]) if w >= 0.005])
        ages.append(None if age is None else round(age, 2))
    return {"at": at, "actions": episode.actions,
            "blocked": [t < walk.steps and at[t] == at[t + 1] for t in range(steps)],
            "probabilities": [np.round(p, 4).tolist() for p in episode.probabilities],
            "certainty": [np.round(c, 4).tolist() for c in episode.ticks],
            "reads": reads, "read_age": ages,
            "activity": [np.round(a[:NEURONS], 3).tolist() for a in episode.activity],
            "solved": walk.solved, "walked": walk.steps, "revisits": walk.revisits}
