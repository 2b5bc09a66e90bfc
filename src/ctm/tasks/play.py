"""Agents in environments, for the tasks that train one (rl, and any task whose model acts step
by step): what an environment must offer (`EnvSpec`), and playing held-out episodes with a
trained agent, the most likely action or one drawn from the policy, its thinking carried from
step to step, and what it was sure of along the way.

An environment may hold a team of `agents` agents (one model row each, consecutive rows a
team): it then takes the team's actions together and answers with the team's observations and
rewards, and its episode ends for the whole team at once. A one-agent gymnasium environment is
seen as a team of one (`Solo`), so the rollout and the player treat both alike.
"""

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
    agents: int = 1  # agents in one environment; with more than one, `make` builds a team


class Solo:
    """A one-agent gymnasium environment as a team of one: reset and step speak in arrays of
    one row of encoded observations, one reward."""

    def __init__(self, env: Any, encode: Callable[[Any], np.ndarray]) -> None:
        self.env, self.encode = env, encode

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = self.env.reset(seed=seed)
        return self.encode(obs)[None], info

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool, bool,
                                                  dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(int(actions[0]))
        return self.encode(obs)[None], np.float64([reward]), terminated, truncated, info

    def render(self) -> Any:
        return self.env.render()

    def close(self) -> None:
        self.env.close()


def make_teams(spec: EnvSpec, count: int, render: bool = False) -> list[Any]:
    """`count` environments of `spec`, each a team (`Solo` for one-agent environments):
    `reset(seed)` -> (observations (agents, F), info); `step(actions (agents,))` ->
    (observations, rewards (agents,), terminated, truncated, info)."""
    mode = "rgb_array" if render else None
    if spec.agents == 1:
        return [Solo(spec.make(render_mode=mode), spec.encode) for _ in range(count)]
    return [spec.make(render_mode=mode) for _ in range(count)]


@dataclass
class Episode:
    rewards: list[float] = field(default_factory=list)
    certainty: list[float] = field(default_factory=list)  # of each step's last tick
    actions: list[int] = field(default_factory=list)
    probabilities: list[np.ndarray] = field(default_factory=list)  # (actions,) per step
    frames: list[np.ndarray] = field(default_factory=list)  # with render=True: before each step
    reads: list[np.ndarray] = field(default_factory=list)  # with trace=True: (K,) memory reads
    ticks: list[np.ndarray] = field(default_factory=list)  # with trace=True: (T,) certainty
    activity: list[np.ndarray] = field(default_factory=list)  # trace, a CTM: (D,) last tick's
    info: dict[str, Any] = field(default_factory=dict)  # what the environment said at the end

    @property
    def total(self) -> float:
        return float(sum(self.rewards))


def agent_seed(seed: int, agent: int) -> int:
    """The seed of agent `agent`'s action draws in the episode seeded `seed` (the episode's
    own seed for the first). A CPU generator keeps only a seed's low 32 bits, so the agents'
    seeds differ there."""
    return (seed ^ (agent * 0x9E3779B9)) & 0xFFFFFFFF


@torch.no_grad()
def play(model: torch.nn.Module, spec: EnvSpec, seeds: list[int], device: torch.device | str,
         render: bool = False, sample: bool = False, trace: bool = False) -> list[Episode]:
    """One episode per seed, side by side; finished ones wait for the rest. Each step takes the
    most likely action, or with `sample` draws one from the policy, seeded by the episode's
    seed and the agent (so an episode does not depend on which others share its batch).
    `render` keeps each step's picture of the environment (in its team's first agent's
    episode); `trace` each step's reads of an explicit memory, certainty at every tick and (a
    CTM) its neurons' post-activations at the last tick. With teams the episodes are
    per agent, a team's consecutive, sharing the environment's final info."""
    model.eval()
    if render:  # off-screen drawing: without these SDL looks for a display, and says so
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
        os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    n = spec.agents
    teams = make_teams(spec, len(seeds), render)
    try:
        obs = np.concatenate([team.reset(seed=s)[0] for team, s in zip(teams, seeds,
                                                                       strict=True)])
        state = model.initial_state(len(obs))
        episodes = [Episode() for _ in obs]
        live = [True] * len(seeds)
        draws = ([torch.Generator().manual_seed(agent_seed(s, agent)) for s in seeds
                  for agent in range(n)] if sample else [])
        while any(live):
            out = model(torch.from_numpy(obs).to(device), state=state, trace=trace)
            probabilities = torch.softmax(out.logits[:, -1].float(), -1).cpu()
            actions = probabilities.argmax(-1)
            if sample:
                actions = torch.stack([torch.multinomial(p, 1, generator=g)[0]
                                       for p, g in zip(probabilities, draws, strict=True)])
            sure = out.certainty[:, -1].cpu()
            reads = (out.memory_attention[:, -1].float().mean(1).cpu().numpy()
                     if trace and out.memory_attention is not None else None)  # (B, K)
            ticks = out.certainty.float().cpu().numpy() if trace else None
            activity = (out.post_activations[:, -1].float().cpu().numpy()
                        if trace and out.post_activations is not None else None)
            for j, team in enumerate(teams):
                if not live[j]:
                    continue
                rows = range(j * n, (j + 1) * n)
                if render:
                    episodes[rows[0]].frames.append(team.render())
                o, rewards, terminated, truncated, info = team.step(actions[rows].numpy())
                for k, i in enumerate(rows):
                    episodes[i].probabilities.append(probabilities[i].numpy())
                    episodes[i].rewards.append(float(rewards[k]))
                    episodes[i].certainty.append(float(sure[i]))
                    episodes[i].actions.append(int(actions[i]))
                    if reads is not None:
                        episodes[i].reads.append(reads[i])
                    if ticks is not None:
                        episodes[i].ticks.append(ticks[i])
                    if activity is not None:
                        episodes[i].activity.append(activity[i])
                obs[rows.start:rows.stop] = o
                live[j] = not (terminated or truncated)
                if not live[j]:
                    for i in rows:
                        episodes[i].info = dict(info)
            state = out.state
    finally:
        for team in teams:
            team.close()
    return episodes
