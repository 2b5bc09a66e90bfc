"""Agents in environments, for the tasks that train one (rl, and any task whose model acts step
by step): what an environment must offer (`EnvSpec`), and playing held-out episodes with a
trained agent, the most likely action or one drawn from the policy, its thinking carried from
step to step, and what it was sure of along the way."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch


@dataclass(frozen=True)
class EnvSpec:
    env_id: str
    observation_size: int
    actions: int
    make: Callable[..., Any]  # (render_mode=None) -> a gymnasium Env
    encode: Callable[[Any], np.ndarray]  # raw observation -> (observation_size,) float32
    success: Callable[[float], bool] | None  # episode return -> solved (MiniGrid), else None


@dataclass
class Episode:
    rewards: list[float] = field(default_factory=list)
    certainty: list[float] = field(default_factory=list)  # of each step's last tick
    actions: list[int] = field(default_factory=list)
    probabilities: list[np.ndarray] = field(default_factory=list)  # (actions,) per step
    frames: list[np.ndarray] = field(default_factory=list)  # with render=True: before each step
    info: dict[str, Any] = field(default_factory=dict)  # what the environment said at the end

    @property
    def total(self) -> float:
        return float(sum(self.rewards))


@torch.no_grad()
def play(model: torch.nn.Module, spec: EnvSpec, seeds: list[int], device: torch.device | str,
         render: bool = False, sample: bool = False) -> list[Episode]:
    """One episode per seed, side by side; finished ones wait for the rest. Each step takes the
    most likely action, or with `sample` draws one from the policy, seeded by the episode's
    seed (so an episode does not depend on which others share its batch). `render` keeps each
    step's picture of the environment."""
    model.eval()
    if render:  # off-screen drawing: without these SDL looks for a display, and says so
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
        os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    envs = [spec.make(render_mode="rgb_array" if render else None) for _ in seeds]
    try:
        obs = np.stack([spec.encode(env.reset(seed=s)[0]) for env, s in zip(envs, seeds,
                                                                              strict=True)])
        state = model.initial_state(len(seeds))
        episodes = [Episode() for _ in seeds]
        live = [True] * len(seeds)
        draws = [torch.Generator().manual_seed(s) for s in seeds] if sample else []
        while any(live):
            out = model(torch.from_numpy(obs).to(device), state=state)
            probabilities = torch.softmax(out.logits[:, -1].float(), -1).cpu()
            actions = probabilities.argmax(-1)
            if sample:
                actions = torch.stack([torch.multinomial(p, 1, generator=g)[0]
                                       for p, g in zip(probabilities, draws, strict=True)])
            sure = out.certainty[:, -1].cpu()
            for i, env in enumerate(envs):
                if not live[i]:
                    continue
                episodes[i].probabilities.append(probabilities[i].numpy())
                if render:
                    episodes[i].frames.append(env.render())
                o, reward, terminated, truncated, info = env.step(int(actions[i]))
                episodes[i].rewards.append(float(reward))
                episodes[i].certainty.append(float(sure[i]))
                episodes[i].actions.append(int(actions[i]))
                obs[i] = spec.encode(o)
                live[i] = not (terminated or truncated)
                if not live[i]:
                    episodes[i].info = dict(info)
            state = out.state
    finally:
        for env in envs:
            env.close()
    return episodes
