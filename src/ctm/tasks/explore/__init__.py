"""Exploring a maze from inside: an agent that sees only the 5×5 pixels around itself must find
the goal of a generated maze within a budget of steps, its thinking carried from one step to
the next, and, with `memory_slots`, an explicit memory it writes each step and reads by
attention (model/memory.py); trained with PPO (world.py says what it sees and what it is paid).
With `agents` > 1 a team walks each maze, one memory shared by the team unless
`private_memory`.

Evaluation plays held-out mazes, layouts that training never draws (nor their rotations and
mirror images), and reports the share solved within the budget, the steps taken against the
shortest route's length, and revisits (steps onto pixels already stood on); for a team, the
steps until its first agent arrives and the steps all of its agents took. `ctm eval` also
walks the same mazes with three scripted explorers (explorers.py): a random walk, a wall
follower and a depth-first explorer that remembers what it has seen.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...model import CTMConfig
from ..base import Batch, eval_seed
from ..play import EnvSpec, play
from ..ppo import AgentTask, Chunks, PPOOptions, ppo_batches
from .explorers import EXPLORERS, explore
from .world import ACTIONS, MazeWalk, TeamResult, TeamWalk, Walk, observation_size

EVAL_STREAM = 7_368_787
SEED_SPACE = 2**31


@dataclass
class ExploreOptions(PPOOptions):
    size: int = 9  # maze side in pixels (2·cells + 1)
    budget: float = 4.0  # steps allowed per episode, per open pixel of its maze
    loop_fraction: float = 0.0  # share of extra inner walls removed (0: one route only)
    show_position: bool = False  # ablation: the agent also observes where it stands
    agents: int = 1  # agents walking each maze together (--batch-size counts agents)
    # with several agents each keeps its own memory, instead of the team sharing one
    private_memory: bool = False
    # what pays a team: "own" (each agent its own arrival) or "first" (every agent the team's
    # first arrival, which ends the episode: agents gain by spreading out)
    team_reward: str = "own"
    rollout_steps: int = 128  # steps per environment per update (episodes start afresh)
    gamma: float = 0.99  # discount of future rewards
    gae_lambda: float = 0.95  # GAE's lambda: how far advantages look ahead
    entropy_weight: float = 0.01  # weight of the entropy bonus (keeps the policy exploring)
    eval_episodes: int = 200  # held-out mazes per evaluation
    # evaluation draws each action from the policy (seeded by the episode): a greedy agent
    # that sees only its view can walk a loop until the budget runs out
    sample_actions: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.size < 5 or self.size % 2 == 0:
            raise ValueError(f"size must be odd and >= 5 (2·cells + 1 pixels), got {self.size}")
        if not self.budget > 0:
            raise ValueError(f"budget must be > 0 steps per open pixel, got {self.budget}")
        if not 0.0 <= self.loop_fraction <= 1.0:
            raise ValueError(f"loop_fraction must be in [0, 1], got {self.loop_fraction}")
        if self.agents < 1:
            raise ValueError(f"agents must be >= 1, got {self.agents}")
        if self.team_reward not in ("own", "first"):
            raise ValueError(f"team_reward must be own or first, got {self.team_reward!r}")
        if self.team_reward == "first" and self.agents == 1:
            raise ValueError("team_reward first pays a team for its first arrival: it needs "
                             "--agents 2 or more")


def episode_seeds(rng: random.Random) -> Iterator[int]:
    while True:
        yield rng.randrange(SEED_SPACE)


def walk_metrics(walks: list[Walk], prefix: str = "") -> dict[str, float]:
    """Solve rate, steps against the shortest route (solved episodes), steps and revisits."""
    solved = [w for w in walks if w.solved]
    ratio = float(np.mean([w.steps / w.shortest for w in solved])) if solved else float("nan")
    return {f"{prefix}solve_rate": len(solved) / len(walks),
            f"{prefix}steps_over_shortest": ratio,
            f"{prefix}mean_steps": float(np.mean([w.steps for w in walks])),
            f"{prefix}revisits": float(np.mean([w.revisits for w in walks]))}


def team_metrics(teams: list[TeamResult], prefix: str = "") -> dict[str, float]:
    """A team's maze is solved when its first agent arrives: the solve rate, the first
    arrival's steps against the shortest route (solved mazes) and on average (the budget where
    nobody arrived), the steps of all agents together, how often every agent arrived, and
    revisits per agent."""
    solved = [t for t in teams if t.solved]
    ratio = (float(np.mean([t.first_arrival / t.walks[0].shortest for t in solved]))
             if solved else float("nan"))
    return {f"{prefix}solve_rate": len(solved) / len(teams),
            f"{prefix}steps_over_shortest": ratio,
            f"{prefix}mean_steps": float(np.mean([t.first_arrival for t in teams])),
            f"{prefix}team_steps": float(np.mean([t.total_steps for t in teams])),
            f"{prefix}all_arrived": float(np.mean([all(w.solved for w in t.walks)
                                                   for t in teams])),
            f"{prefix}revisits": float(np.mean([w.revisits for t in teams for w in t.walks]))}


class ExploreTask(AgentTask):
    name = "explore"
    description = ("find the goal of a held-out maze seeing only 5×5 pixels around you, with "
                   "PPO; scripted explorers beside it")
    Options = ExploreOptions
    headline_metrics = ("solve_rate",)

    def spec(self, held_out: bool) -> EnvSpec:
        """The environment on one side of the held-out partition of mazes."""
        o = self.options
        make = ((lambda render_mode=None: self.world(held_out)) if o.agents == 1 else
                (lambda render_mode=None: TeamWalk(o.agents, o.size, o.budget, held_out,
                                                   o.show_position, o.loop_fraction,
                                                   first_arrival_pays=o.team_reward == "first")))
        return EnvSpec(f"explore-{o.size}", observation_size(o.show_position), len(ACTIONS),
                       make, lambda obs: obs, lambda episode_return: episode_return > 0,
                       agents=o.agents)

    def world(self, held_out: bool) -> MazeWalk:
        o = self.options
        return MazeWalk(o.size, o.budget, held_out, o.show_position, o.loop_fraction)

    def model_defaults(self) -> CTMConfig:
        return CTMConfig(d_model=128, d_input=64, heads=4, ticks=2, memory_length=5,
                         synapse_depth=1, deep_nlm=True, nlm_hidden=4, pairing="random-pairing",
                         n_sync_out=64, n_sync_action=8, n_self=0, memory_slots=32,
                         **self.model_requirements())

    def model_requirements(self) -> dict[str, Any]:
        o = self.options
        return {"out_dims": len(ACTIONS), "out_shape": (-1,), "backbone": "none",
                "input_mode": "direct", "input_size": observation_size(o.show_position),
                "value_head": True, "memory_team": 1 if o.private_memory else o.agents}

    def train_defaults(self) -> dict[str, Any]:
        # batch_size is the number of environments; one step is one PPO update
        return {"steps": 600, "batch_size": 16, "lr": 1e-3, "warmup_steps": 0,
                "grad_clip": 0.5, "eval_every": 50, "checkpoint_every": 10,
                "eval_batch_size": 50, "log_every": 1}

    def check_batch(self, batch_size: int) -> None:
        if batch_size % self.options.agents:
            raise ValueError(f"--batch-size counts agents: {batch_size} is not a whole number "
                             f"of teams of {self.options.agents}")

    # --- data: rollouts and held-out mazes ------------------------------------------------------

    def step_batches(self, model: torch.nn.Module, step: int, batch_size: int, seed: int,
                     device: torch.device | str, rank: int = 0, world: int = 1
                     ) -> Iterator[Chunks]:
        return ppo_batches(model, self.spec(held_out=False), self.options, step, batch_size,
                           seed, device, episode_seeds, rank, world)

    def eval_seeds(self, count: int, seed: int) -> list[int]:
        rng = random.Random(eval_seed(seed, EVAL_STREAM))
        return [rng.randrange(SEED_SPACE) for _ in range(count)]

    def eval_batches(self, batch_size: int, seed: int) -> Iterator[Batch]:
        total = self.options.eval_episodes
        return self.seed_batches(iter(self.eval_seeds(total, seed)), total, batch_size)

    def example_inputs(self, count: int, seed: int) -> torch.Tensor:
        """The first observations of `count` held-out mazes."""
        world = self.world(held_out=True)
        return torch.from_numpy(np.stack([world.reset(seed=s)[0]
                                          for s in self.eval_seeds(count, seed)]))

    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module, batches: Iterator[Batch],
                 device: torch.device | str) -> dict[str, Any]:
        """The agent (or team) walks each held-out maze once, acting on each step's last
        tick."""
        walks: list[Walk] = []
        teams: list[TeamResult] = []
        certainty: list[float] = []
        spec = self.spec(held_out=True)
        for batch in batches:
            episodes = play(model, spec, [int(s) for s in batch.inputs], device,
                            sample=self.options.sample_actions)
            if spec.agents == 1:
                walks += [e.info["walk"] for e in episodes]
            else:
                teams += [e.info["team"] for e in episodes[::spec.agents]]
            certainty += [float(np.mean(e.certainty)) for e in episodes]
        found = walk_metrics(walks) if spec.agents == 1 else team_metrics(teams)
        return {**found, "mean_certainty": float(np.mean(certainty)),
                "episodes": len(walks) or len(teams)}

    def final_evaluation(self, model: torch.nn.Module, batch_size: int, seed: int,
                         device: torch.device | str) -> dict[str, Any]:
        """The scripted explorers on the same held-out mazes, with the same view and budget:
        alone, and with several agents a team of as many that know nothing of each other
        (the first to arrive counts, as for the learned team)."""
        world = self.world(held_out=True)
        mazes = [world.draw_maze(s) for s in self.eval_seeds(self.options.eval_episodes, seed)]
        n = self.options.agents
        result: dict[str, Any] = {}
        for kind in EXPLORERS:
            walks = [explore(kind, world, maze, k * n) for k, maze in enumerate(mazes)]
            result.update(walk_metrics(walks, prefix=f"{kind}_"))
            if n > 1:
                teams = [independent_team([walks[k]] + [explore(kind, world, maze, k * n + a)
                                                        for a in range(1, n)])
                         for k, maze in enumerate(mazes)]
                result.update(team_metrics(teams, prefix=f"{kind}_team_"))
        return result

    def visualise(self, model: torch.nn.Module, out_dir: Path, count: int, seed: int
                  ) -> list[Path]:
        from .viz import episode_gif

        return [episode_gif(model, self.spec(held_out=True), s, out_dir / f"maze_{k}.gif",
                            self.options.sample_actions)
                for k, s in enumerate(self.eval_seeds(count, seed))]

    def episode_viewer(self, model: torch.nn.Module, count: int, seed: int) -> dict[str, Any]:
        """The first `count` held-out mazes, played as evaluation plays them, those solved
        first (so that the page opens on a success)."""
        from .viz import episode_records

        o, config = self.options, model.config
        episodes = episode_records(model, self.spec(held_out=True),
                                   self.eval_seeds(count, seed), o.sample_actions)
        for k, record in enumerate(episodes):
            how = (f"first arrival after {record['first_arrival']} steps" if o.agents > 1
                   else f"solved in {record['steps']} steps")
            record["title"] = (f"held-out maze {k + 1}: " + (how if record["solved"] else
                               f"not solved in {record['steps']} steps")
                               + f" (shortest route {record['shortest']})")
        episodes.sort(key=lambda record: not record["solved"])
        memory = ("none" if not config.memory_slots else
                  "private" if o.private_memory or o.agents == 1 else "shared")
        who = "an agent" if o.agents == 1 else f"a team of {o.agents}"
        solved = sum(record["solved"] for record in episodes)
        return {"title": f"explore: {who} ({config.architecture}, {config.ticks} tick"
                         f"{'s' if config.ticks > 1 else ''} a step) in held-out "
                         f"{o.size}×{o.size} mazes",
                "summary": f"{solved} of {len(episodes)} episodes solved within the budget; "
                           f"actions {'drawn from the policy' if o.sample_actions else 'greedy'}"
                           f", as evaluation plays them (recorded by PyTorch)",
                "actions": ["up", "down", "left", "right"], "agents": o.agents,
                "memory": memory,
                "slots": config.memory_slots * config.memory_team,
                "has_activity": bool(episodes and episodes[0]["agents"][0]["activity"]),
                "episodes": episodes}

    def summary(self, metrics: dict[str, Any]) -> str:
        o = self.options
        who = ("" if o.agents == 1 else
               f"teams of {o.agents} with {'private' if o.private_memory else 'one shared'} "
               f"memor{'ies' if o.private_memory else 'y'}, ")
        lines = [f"{o.size}×{o.size} held-out mazes ({metrics['episodes']}, {who}actions "
                 f"{'drawn from the policy' if o.sample_actions else 'greedy'}): "
                 f"solved {100 * metrics['solve_rate']:.1f}%, steps "
                 f"{metrics['steps_over_shortest']:.2f}× the shortest route when solved, "
                 f"{metrics['revisits']:.1f} revisits a maze"]
        if "team_steps" in metrics:
            lines.append(f"  first arrival after {metrics['mean_steps']:.1f} steps on average, "
                         f"{metrics['team_steps']:.1f} steps by the whole team, every agent "
                         f"arrived in {100 * metrics['all_arrived']:.1f}%")
        for kind, explorer in EXPLORERS.items():
            if f"{kind}_solve_rate" in metrics:
                lines.append(f"  {explorer.name}: solved "
                             f"{100 * metrics[f'{kind}_solve_rate']:.1f}%, steps "
                             f"{metrics[f'{kind}_steps_over_shortest']:.2f}× the shortest, "
                             f"{metrics[f'{kind}_revisits']:.1f} revisits")
            if f"{kind}_team_mean_steps" in metrics:
                lines.append(f"    {o.agents} of them, each on its own: first arrival after "
                             f"{metrics[f'{kind}_team_mean_steps']:.1f} steps on average")
        return "\n".join(lines)


def independent_team(walks: list[Walk]) -> TeamResult:
    """Agents that each walked the same maze alone, as one team: the first arrival is the
    fewest steps any of them needed, and the team's steps are their walks together (each up
    to its arrival or the budget, as a learned team's agents count theirs)."""
    arrivals = [w.steps for w in walks if w.solved]
    first = min(arrivals) if arrivals else max(w.steps for w in walks)
    return TeamResult(walks, first, sum(w.steps for w in walks))
