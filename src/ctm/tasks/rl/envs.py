"""The environments an agent can train on, and how their observations become vectors.

Classic control (gymnasium's CartPole-v1 and Acrobot-v1) with the velocities masked to zero,
so that the agent must remember earlier positions to act well; MiniGrid worlds (the `minigrid`
package) through the agent's 7×7 partial view, each cell one-hot in object, colour and state,
plus the direction it faces.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..play import EnvSpec

# the velocity entries of each classic-control observation (masked: memory is needed)
VELOCITIES = {"CartPole-v1": (1, 3), "Acrobot-v1": (4, 5)}
MINIGRID = ("MiniGrid-DoorKey-5x5-v0", "MiniGrid-DoorKey-6x6-v0", "MiniGrid-FourRooms-v0",
            "MiniGrid-Empty-5x5-v0")
ENV_IDS = (*VELOCITIES, *MINIGRID)
# MiniGrid's encoding: object type 0..10, colour 0..5, state 0..2 per cell of the view
OBJECTS, COLOURS, STATES, DIRECTIONS = 11, 6, 3, 4


def env_spec(env_id: str, mask_velocity: bool = True, max_episode_steps: int = 0) -> EnvSpec:
    """How to make `env_id` and encode its observations; `max_episode_steps` > 0 ends its
    episodes there (the original code caps CartPole at 200), 0 keeps its own limit."""
    import gymnasium as gym

    limit = {"max_episode_steps": max_episode_steps} if max_episode_steps else {}

    if env_id in VELOCITIES:
        probe = gym.make(env_id)
        size = probe.observation_space.shape[0]
        actions = int(probe.action_space.n)
        probe.close()
        mask = np.ones(size, dtype=np.float32)
        if mask_velocity:
            mask[list(VELOCITIES[env_id])] = 0.0

        def encode_vector(obs: Any) -> np.ndarray:
            return np.asarray(obs, dtype=np.float32) * mask

        return EnvSpec(env_id, size, actions, lambda render_mode=None: gym.make(
            env_id, render_mode=render_mode, **limit), encode_vector, None)
    if env_id in MINIGRID:
        import minigrid  # noqa: F401  (registers the MiniGrid environments)

        probe = gym.make(env_id)
        view = probe.observation_space["image"].shape  # (7, 7, 3)
        actions = int(probe.action_space.n)
        probe.close()
        cells = view[0] * view[1]

        def encode_grid(obs: Any) -> np.ndarray:
            image = np.asarray(obs["image"]).reshape(cells, 3)
            out = np.zeros((cells, OBJECTS + COLOURS + STATES), dtype=np.float32)
            rows = np.arange(cells)
            out[rows, image[:, 0]] = 1.0
            out[rows, OBJECTS + image[:, 1]] = 1.0
            out[rows, OBJECTS + COLOURS + image[:, 2]] = 1.0
            direction = np.zeros(DIRECTIONS, dtype=np.float32)
            direction[int(obs["direction"])] = 1.0
            return np.concatenate([out.reshape(-1), direction])

        size = cells * (OBJECTS + COLOURS + STATES) + DIRECTIONS
        return EnvSpec(env_id, size, actions,
                       lambda render_mode=None: gym.make(env_id, render_mode=render_mode,
                                                         **limit),
                       encode_grid, lambda episode_return: episode_return > 0)
    raise ValueError(f"env must be one of {', '.join(ENV_IDS)}, got {env_id!r}")
