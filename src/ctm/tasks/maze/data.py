"""Mazes as images, in the original CTM maze datasets' format, and the routes through them.

A maze of k×k cells is an RGB image of (2k+1)×(2k+1) pixels: walls black, open pixels white,
the start red and the goal green; the original data sets also paint the solution blue. A route
is a list of pixel moves: 0 Up, 1 Down, 2 Left, 3 Right, padded with 4 Wait.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

UP, DOWN, LEFT, RIGHT, WAIT = 0, 1, 2, 3, 4
MOVES = {UP: (-1, 0), DOWN: (1, 0), LEFT: (0, -1), RIGHT: (0, 1), WAIT: (0, 0)}
BLACK, WHITE = (0, 0, 0), (255, 255, 255)
RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)

Position = tuple[int, int]


@dataclass
class Maze:
    open: np.ndarray  # (H, W) bool: True where one can stand
    start: Position
    goal: Position

    @property
    def shape(self) -> tuple[int, int]:
        return self.open.shape  # type: ignore[return-value]


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


def shortest_route(maze: Maze) -> list[int]:
    """Moves of a shortest route from start to goal (breadth-first search; ties broken in the
    order Up, Down, Left, Right). Raises ValueError when the goal cannot be reached."""
    h, w = maze.shape
    previous: dict[Position, tuple[Position, int] | None] = {maze.start: None}
    queue = deque([maze.start])
    while queue:
        here = queue.popleft()
        if here == maze.goal:
            break
        for move in (UP, DOWN, LEFT, RIGHT):
            there = step(here, move)
            if (0 <= there[0] < h and 0 <= there[1] < w and maze.open[there]
                    and there not in previous):
                previous[there] = (here, move)
                queue.append(there)
    if maze.goal not in previous:
        raise ValueError("the goal cannot be reached from the start")
    moves = []
    at = maze.goal
    while previous[at] is not None:
        at, move = previous[at]  # type: ignore[misc]
        moves.append(move)
    return moves[::-1]


def route_targets(moves: list[int], length: int) -> np.ndarray:
    """The first `length` moves, padded with Wait: the training target (length,)."""
    padded = (list(moves) + [WAIT] * length)[:length]
    return np.asarray(padded, dtype=np.int64)


def render(maze: Maze, route: list[int] | None = None) -> np.ndarray:
    """(H, W, 3) uint8 image in the original format; with `route`, the path is painted blue."""
    image = np.zeros((*maze.shape, 3), dtype=np.uint8)
    image[maze.open] = WHITE
    if route is not None:
        at = maze.start
        for move in route:
            at = step(at, move)
            image[at] = BLUE
    image[maze.start] = RED
    image[maze.goal] = GREEN
    return image


def _colour_mask(image: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    return np.all(image[..., :3] == np.asarray(colour, dtype=image.dtype), axis=-1)


def parse_image(image: np.ndarray) -> tuple[Maze, list[int] | None]:
    """Read an original-format maze image (H, W, 3) uint8.

    Returns the maze (blue path pixels count as open) and the route painted in blue, walked
    from the start to the goal, or None when no path is painted. Raises ValueError for an image
    without exactly one red start and one green goal pixel, or a blue path that does not lead
    from start to goal.
    """
    if image.ndim != 3 or image.shape[2] < 3:
        raise ValueError(f"expected an RGB image (H, W, 3), got shape {image.shape}")
    starts, goals = np.argwhere(_colour_mask(image, RED)), np.argwhere(_colour_mask(image, GREEN))
    if len(starts) != 1 or len(goals) != 1:
        raise ValueError(f"expected one red start and one green goal pixel, found "
                         f"{len(starts)} and {len(goals)}")
    blue = _colour_mask(image, BLUE)
    open_ = _colour_mask(image, WHITE) | blue
    start, goal = tuple(int(v) for v in starts[0]), tuple(int(v) for v in goals[0])
    open_[start] = open_[goal] = True
    maze = Maze(open_, start, goal)  # type: ignore[arg-type]
    if not blue.any():
        return maze, None
    moves, at, seen = [], start, {start}
    h, w = blue.shape
    while at != goal:
        for move in (UP, DOWN, LEFT, RIGHT):
            there = step(at, move)
            if (0 <= there[0] < h and 0 <= there[1] < w and there not in seen
                    and (blue[there] or there == goal)):
                break
        else:
            raise ValueError(f"the blue path breaks off at pixel {at}")
        moves.append(move)
        seen.add(there)
        at = there
    return maze, moves


def read_image(path: str | Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def follow(maze: Maze, moves: np.ndarray | list[int]) -> tuple[bool, Position, int]:
    """Walk `moves` from the start. Returns (solved, furthest valid position, valid moves).

    Solved means the walk reaches the goal without ever stepping into a wall or off the image;
    moves after the goal is reached are ignored.
    """
    h, w = maze.shape
    at = maze.start
    for count, move in enumerate(moves):
        if at == maze.goal:
            return True, at, count
        there = step(at, int(move))
        if not (0 <= there[0] < h and 0 <= there[1] < w and maze.open[there]):
            return False, at, count
        at = there
    return at == maze.goal, at, len(moves)


# --- augmentation: rotations and flips with the moves relabelled to match -------------------

# how each move is renamed when the image is rotated 90° anticlockwise (np.rot90, k=1)
_ROT90 = {UP: LEFT, LEFT: DOWN, DOWN: RIGHT, RIGHT: UP, WAIT: WAIT}
_FLIP_LR = {UP: UP, DOWN: DOWN, LEFT: RIGHT, RIGHT: LEFT, WAIT: WAIT}


def transform(image: np.ndarray, moves: np.ndarray, rotations: int, flip: bool
              ) -> tuple[np.ndarray, np.ndarray]:
    """Rotate the (H, W, ...) image by 90°·rotations anticlockwise, then optionally mirror it
    left-right, renaming the moves so they trace the same route in the new image."""
    image = np.rot90(image, k=rotations % 4, axes=(0, 1))
    table = {m: m for m in MOVES}
    for _ in range(rotations % 4):
        table = {m: _ROT90[t] for m, t in table.items()}
    if flip:
        image = image[:, ::-1]
        table = {m: _FLIP_LR[t] for m, t in table.items()}
    relabelled = np.vectorize(table.__getitem__, otypes=[np.int64])(moves) if len(moves) else moves
    return np.ascontiguousarray(image), relabelled
