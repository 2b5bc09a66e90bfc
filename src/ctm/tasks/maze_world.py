"""Mazes as grids, shared by the tasks that walk them (`maze` predicts a whole route from an
image; others may walk one step at a time): the grid, a generator, moves and shortest routes,
and which mazes are held out of training.

A maze of k×k cells lies on a (2k+1)×(2k+1) pixel grid, walls between the cells; a move goes
one pixel: 0 Up, 1 Down, 2 Left, 3 Right, 4 Wait.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .held_out import maze_key, reserved_bytes

UP, DOWN, LEFT, RIGHT, WAIT = 0, 1, 2, 3, 4
MOVES = {UP: (-1, 0), DOWN: (1, 0), LEFT: (0, -1), RIGHT: (0, 1), WAIT: (0, 0)}
Position = tuple[int, int]


@dataclass
class Maze:
    open: np.ndarray  # (H, W) bool: True where one can stand
    start: Position
    goal: Position

    @property
    def shape(self) -> tuple[int, int]:
        return self.open.shape  # type: ignore[return-value]

    def is_open(self, position: Position) -> bool:
        """Whether one can stand at `position` (off the grid one cannot)."""
        h, w = self.shape
        return 0 <= position[0] < h and 0 <= position[1] < w and bool(self.open[position])


def generate_maze(cells: int, rng: random.Random, loop_fraction: float = 0.0) -> Maze:
    """A random maze of cells×cells cells on a (2·cells+1)² pixel grid.

    With loop_fraction 0 it is perfect (a spanning tree: exactly one route between any two
    cells), carved by a randomised depth-first search; with loop_fraction f, a fraction f of
    the remaining inner walls between cells is knocked down too, so several routes exist.
    Start and goal are two distinct cells chosen at random.
    """
    if cells < 2:
        raise ValueError(f"a maze needs at least 2×2 cells, got {cells}")
    if not 0.0 <= loop_fraction <= 1.0:
        raise ValueError(f"loop_fraction must be in [0, 1], got {loop_fraction}")
    size = 2 * cells + 1
    grid = np.zeros((size, size), dtype=bool)
    first = (rng.randrange(cells), rng.randrange(cells))
    visited = {first}
    stack = [first]
    grid[2 * first[0] + 1, 2 * first[1] + 1] = True
    while stack:
        r, c = stack[-1]
        neighbours = [(r + dr, c + dc) for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1))
                      if 0 <= r + dr < cells and 0 <= c + dc < cells
                      and (r + dr, c + dc) not in visited]
        if not neighbours:
            stack.pop()
            continue
        nr, nc = rng.choice(neighbours)
        grid[r + nr + 1, c + nc + 1] = True  # the wall pixel between the two cells
        grid[2 * nr + 1, 2 * nc + 1] = True
        visited.add((nr, nc))
        stack.append((nr, nc))
    if loop_fraction > 0:
        walls = [(y, x) for y in range(1, size - 1) for x in range(1, size - 1)
                 if not grid[y, x] and (y % 2) != (x % 2)]  # walls between two cells
        for y, x in walls:
            if rng.random() < loop_fraction:
                grid[y, x] = True
    start_cell, goal_cell = rng.sample(range(cells * cells), 2)
    start = (2 * (start_cell // cells) + 1, 2 * (start_cell % cells) + 1)
    goal = (2 * (goal_cell // cells) + 1, 2 * (goal_cell % cells) + 1)
    return Maze(grid, start, goal)


def step(position: Position, move: int) -> Position:
    dy, dx = MOVES[move]
    return position[0] + dy, position[1] + dx


def route_between(start: Position, goal: Position, passable: Callable[[Position], bool]
                  ) -> list[int] | None:
    """Moves of a shortest route from `start` to `goal` over positions `passable` allows
    (breadth-first search; ties broken in the order Up, Down, Left, Right), or None."""
    previous: dict[Position, tuple[Position, int] | None] = {start: None}
    queue = deque([start])
    while queue:
        here = queue.popleft()
        if here == goal:
            moves = []
            while previous[here] is not None:
                here, move = previous[here]  # type: ignore[misc]
                moves.append(move)
            return moves[::-1]
        for move in (UP, DOWN, LEFT, RIGHT):
            there = step(here, move)
            if there not in previous and passable(there):
                previous[there] = (here, move)
                queue.append(there)
    return None


def shortest_route(maze: Maze) -> list[int]:
    """Moves of a shortest route from start to goal (`route_between` over the open pixels).
    Raises ValueError when the goal cannot be reached."""
    moves = route_between(maze.start, maze.goal, maze.is_open)
    if moves is None:
        raise ValueError("the goal cannot be reached from the start")
    return moves


def is_held_out(maze: Maze) -> bool:
    """Whether generated training never draws this maze, nor any rotation or mirror image of
    it (see held_out.py)."""
    return reserved_bytes(maze_key(maze.open, maze.start, maze.goal))
