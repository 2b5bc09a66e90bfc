"""A maze seen from inside: an agent that sees only the 5×5 pixels around itself walks from
the start to the goal, one pixel a step, within a budget of steps.

Each step it observes its view (walls, with everything outside the maze a wall, and the goal
where it is in view), the move it made last and whether that move was blocked; with
`show_position` (an ablation) also where it stands. Nothing else: to avoid walking the same
corridors again it must remember where it has been. Reaching the goal pays 1 − 0.9 · steps /
budget (MiniGrid's reward) and ends the episode; the budget ending it pays nothing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..maze_world import DOWN, LEFT, RIGHT, UP, Maze, Position, generate_maze, is_held_out, step
from ..maze_world import shortest_route as route_of

RADIUS = 2  # the view is (2·RADIUS + 1)² pixels around the agent
VIEW = 2 * RADIUS + 1
ACTIONS = (UP, DOWN, LEFT, RIGHT)
NO_MOVE = len(ACTIONS)  # "last move" before the first one


def observation_size(show_position: bool) -> int:
    """Wall and goal maps of the view, the last move (one-hot, or none yet), blocked, and the
    position (row, column in [0, 1]) when shown."""
    return 2 * VIEW * VIEW + len(ACTIONS) + 1 + 1 + (2 if show_position else 0)


@dataclass
class Walk:
    """What one episode has done so far: the numbers its metrics are made of."""

    steps: int = 0
    revisits: int = 0  # steps onto a pixel stood on before
    shortest: int = 0  # the shortest route's length in moves
    solved: bool = False
    visited: set[Position] = field(default_factory=set)
    path: list[Position] = field(default_factory=list)
    stood: list[Position] = field(default_factory=list)  # where each step was taken from


class MazeWalk:
    """The environment, with gymnasium's reset/step signatures so that the shared PPO and
    episode player drive it. `held_out` chooses which side of the held-out partition its
    mazes come from: training draws only mazes that evaluation never sees, and the reverse."""

    def __init__(self, size: int, budget: float, held_out: bool, show_position: bool = False,
                 loop_fraction: float = 0.0) -> None:
        self.cells = (size - 1) // 2
        self.budget_per_pixel = budget
        self.held_out = held_out
        self.show_position = show_position
        self.loop_fraction = loop_fraction
        self.maze: Maze | None = None
        self.at: Position = (0, 0)
        self.last = NO_MOVE
        self.blocked = False
        self.budget = 0
        self.walk = Walk()

    def draw_maze(self, seed: int) -> Maze:
        """The first maze on this side of the held-out partition that `seed` generates."""
        rng = random.Random(seed)
        while True:
            maze = generate_maze(self.cells, rng, self.loop_fraction)
            if is_held_out(maze) == self.held_out:
                return maze

    def reset(self, seed: int | None = None, maze: Maze | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        self.maze = maze if maze is not None else self.draw_maze(
            seed if seed is not None else random.randrange(2**31))
        self.at, self.last, self.blocked = self.maze.start, NO_MOVE, False
        self.budget = max(1, round(self.budget_per_pixel * int(self.maze.open.sum())))
        self.walk = Walk(shortest=len(route_of(self.maze)), visited={self.at}, path=[self.at])
        return self.observe(), {}

    def is_open(self, position: Position) -> bool:
        assert self.maze is not None
        return self.maze.is_open(position)

    def view(self) -> tuple[np.ndarray, np.ndarray]:
        """(walls, goal), each (VIEW, VIEW) float32 around the agent."""
        assert self.maze is not None
        walls = np.ones((VIEW, VIEW), dtype=np.float32)
        goal = np.zeros((VIEW, VIEW), dtype=np.float32)
        for dy in range(-RADIUS, RADIUS + 1):
            for dx in range(-RADIUS, RADIUS + 1):
                there = (self.at[0] + dy, self.at[1] + dx)
                if self.is_open(there):
                    walls[dy + RADIUS, dx + RADIUS] = 0.0
                if there == self.maze.goal:
                    goal[dy + RADIUS, dx + RADIUS] = 1.0
        return walls, goal

    def observe(self) -> np.ndarray:
        assert self.maze is not None
        walls, goal = self.view()
        last = np.zeros(len(ACTIONS) + 1, dtype=np.float32)
        last[self.last] = 1.0
        parts = [walls.ravel(), goal.ravel(), last, np.float32([self.blocked])]
        if self.show_position:
            h, w = self.maze.shape
            parts.append(np.float32([self.at[0] / (h - 1), self.at[1] / (w - 1)]))
        return np.concatenate(parts)

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        assert self.maze is not None
        move = ACTIONS[int(action)]
        there = step(self.at, move)
        self.blocked = not self.is_open(there)
        self.last = int(action)
        self.walk.steps += 1
        self.walk.stood.append(self.at)
        if not self.blocked:
            self.at = there
            self.walk.revisits += there in self.walk.visited
            self.walk.visited.add(there)
            self.walk.path.append(there)
        self.walk.solved = self.at == self.maze.goal
        reward = 1.0 - 0.9 * self.walk.steps / self.budget if self.walk.solved else 0.0
        truncated = not self.walk.solved and self.walk.steps >= self.budget
        info = {"walk": self.walk} if self.walk.solved or truncated else {}
        return self.observe(), reward, self.walk.solved, truncated, info

    def render(self) -> np.ndarray:
        """The maze as an RGB picture: walls black, the path walked blue, the agent red, the
        goal green, and what the agent sees now tinted yellow."""
        assert self.maze is not None
        image = np.zeros((*self.maze.shape, 3), dtype=np.float32)
        image[self.maze.open] = 255
        for position in self.walk.path:
            image[position] = (120, 160, 255)
        image[self.maze.goal] = (0, 200, 0)
        image[self.at] = (230, 0, 0)
        h, w = self.maze.shape
        seen = (slice(max(0, self.at[0] - RADIUS), min(h, self.at[0] + RADIUS + 1)),
                slice(max(0, self.at[1] - RADIUS), min(w, self.at[1] + RADIUS + 1)))
        image[seen] = 0.7 * image[seen] + 0.3 * np.float32([255, 220, 0])
        return image.round().astype(np.uint8)

    def close(self) -> None:
        pass


@dataclass
class TeamResult:
    """How a team's episode went: each agent's walk, and when the first one arrived."""

    walks: list[Walk]
    first_arrival: int  # steps until the first agent stood on the goal (the budget if none)
    total_steps: int  # steps the agents took in all (an agent stops once it has arrived)

    @property
    def solved(self) -> bool:
        return any(w.solved for w in self.walks)


class TeamWalk:
    """`agents` agents in one maze, all starting at its start, each seeing and paid as in
    `MazeWalk`. They move together, one step each per team step; an agent that has reached the
    goal waits there (its actions change nothing, it is paid nothing more). The episode ends
    when every agent has arrived or the budget (per agent, as for one) runs out; with
    `first_arrival_pays`, when the first arrives, every agent paid what that arrival earns.
    Speaks the team protocol of `tasks.play`: arrays of observations and rewards, one row per
    agent."""

    def __init__(self, agents: int, size: int, budget: float, held_out: bool,
                 show_position: bool = False, loop_fraction: float = 0.0,
                 first_arrival_pays: bool = False) -> None:
        self.members = [MazeWalk(size, budget, held_out, show_position, loop_fraction)
                        for _ in range(agents)]
        self.first_arrival_pays = first_arrival_pays
        self.steps = 0
        self.first_arrival: int | None = None

    @property
    def maze(self) -> Maze | None:
        return self.members[0].maze

    @property
    def budget(self) -> int:
        return self.members[0].budget

    def reset(self, seed: int | None = None, maze: Maze | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        maze = maze if maze is not None else self.members[0].draw_maze(
            seed if seed is not None else random.randrange(2**31))
        self.steps, self.first_arrival = 0, None
        return np.stack([m.reset(maze=maze)[0] for m in self.members]), {}

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool, bool,
                                                  dict[str, Any]]:
        self.steps += 1
        observations, rewards = [], np.zeros(len(self.members))
        for k, member in enumerate(self.members):
            if member.walk.solved:  # arrived: waits at the goal
                observations.append(member.observe())
                continue
            obs, rewards[k], _, _, _ = member.step(int(actions[k]))
            observations.append(obs)
            if member.walk.solved and self.first_arrival is None:
                self.first_arrival = self.steps
        terminated = all(m.walk.solved for m in self.members)
        if self.first_arrival_pays and self.first_arrival == self.steps:
            rewards[:] = rewards.max()  # the first arrival's pay, to every agent; and it ends
            terminated = True
        truncated = not terminated and self.steps >= self.members[0].budget
        info = {"team": self.result()} if terminated or truncated else {}
        return np.stack(observations), rewards, terminated, truncated, info

    def result(self) -> TeamResult:
        walks = [m.walk for m in self.members]
        first = self.first_arrival if self.first_arrival is not None else self.steps
        return TeamResult(walks, first, sum(w.steps for w in walks))

    def render(self) -> np.ndarray:
        """The maze with every agent's path and view, each agent in its own colour."""
        assert self.maze is not None
        image = np.zeros((*self.maze.shape, 3), dtype=np.float32)
        image[self.maze.open] = 255
        h, w = self.maze.shape
        for k, member in enumerate(self.members):
            tint = np.float32(TEAM_COLOURS[k % len(TEAM_COLOURS)])
            for position in member.walk.path:
                image[position] = 0.55 * image[position] + 0.45 * tint
            seen = (slice(max(0, member.at[0] - RADIUS), min(h, member.at[0] + RADIUS + 1)),
                    slice(max(0, member.at[1] - RADIUS), min(w, member.at[1] + RADIUS + 1)))
            image[seen] = 0.85 * image[seen] + 0.15 * np.float32([255, 220, 0])
        image[self.maze.goal] = (0, 200, 0)
        for k, member in enumerate(self.members):
            image[member.at] = TEAM_COLOURS[k % len(TEAM_COLOURS)]
        return image.round().astype(np.uint8)

    def close(self) -> None:
        pass


TEAM_COLOURS = ((230, 0, 0), (150, 0, 200), (255, 130, 0), (0, 120, 200))
