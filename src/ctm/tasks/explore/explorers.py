"""Scripted explorers: the yardsticks a learned agent is measured against, on the same held-out
mazes and with the same view and budget.

- `RandomWalk` steps to a random open neighbour: what an agent with no memory and no plan does.
- `WallFollower` keeps its left hand on the wall: it needs no memory and, in a maze without
  loops, reaches every pixel, but it walks every dead end on the way.
- `SeenDFS` remembers every pixel it has seen and explores depth first, backtracking along its
  own path, and walks a shortest known route to the goal once the goal is in view: the fair
  bound for an agent that cannot see the whole maze.
"""

from __future__ import annotations

import random

from ..maze_world import DOWN, LEFT, RIGHT, UP, Maze, Position, route_between, step
from .world import ACTIONS, RADIUS, MazeWalk, Walk

# headings after turning left, right or back, for the wall follower
LEFT_OF = {UP: LEFT, LEFT: DOWN, DOWN: RIGHT, RIGHT: UP}
RIGHT_OF = {v: k for k, v in LEFT_OF.items()}
BACK = {UP: DOWN, DOWN: UP, LEFT: RIGHT, RIGHT: LEFT}


def _open_moves(env: MazeWalk) -> list[int]:
    return [move for move in ACTIONS if env.is_open(step(env.at, move))]


class RandomWalk:
    name = "random walk"

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def act(self, env: MazeWalk) -> int:
        return self.rng.choice(_open_moves(env))


class WallFollower:
    name = "wall follower"

    def __init__(self, seed: int) -> None:
        self.heading: int | None = None

    def act(self, env: MazeWalk) -> int:
        if self.heading is None:
            self.heading = _open_moves(env)[0]
        for turn in (LEFT_OF[self.heading], self.heading, RIGHT_OF[self.heading],
                     BACK[self.heading]):
            if env.is_open(step(env.at, turn)):
                self.heading = turn
                return turn
        raise AssertionError("an agent in a maze always has an open neighbour")


class SeenDFS:
    name = "seen-only depth-first explorer"

    def __init__(self, seed: int) -> None:
        self.known: dict[Position, bool] = {}  # pixel -> open, for every pixel seen
        self.goal: Position | None = None
        self.visited: set[Position] = set()
        self.trail: list[Position] = []  # the way back, for backtracking

    def _look(self, env: MazeWalk) -> None:
        walls, goal = env.view()
        for dy in range(-RADIUS, RADIUS + 1):
            for dx in range(-RADIUS, RADIUS + 1):
                there = (env.at[0] + dy, env.at[1] + dx)
                self.known[there] = not walls[dy + RADIUS, dx + RADIUS]
                if goal[dy + RADIUS, dx + RADIUS]:
                    self.goal = there

    def act(self, env: MazeWalk) -> int:
        self._look(env)
        self.visited.add(env.at)
        if self.goal is not None:
            route = route_between(env.at, self.goal, lambda p: self.known.get(p, False))
            if route:
                return route[0]
        for move in ACTIONS:
            there = step(env.at, move)
            if self.known.get(there) and there not in self.visited:
                self.trail.append(env.at)
                return move
        back = self.trail.pop()
        return next(m for m in ACTIONS if step(env.at, m) == back)


EXPLORERS = {"random_walk": RandomWalk, "wall_follower": WallFollower, "seen_dfs": SeenDFS}


def explore(kind: str, env: MazeWalk, maze: Maze, seed: int) -> Walk:
    """One episode of the scripted explorer `kind` in `maze`, with env's view and budget."""
    explorer = EXPLORERS[kind](seed)
    env.reset(maze=maze)
    while True:
        _, _, terminated, truncated, _ = env.step(explorer.act(env))
        if terminated or truncated:
            return env.walk
