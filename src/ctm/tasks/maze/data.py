"""Mazes as images, in the original CTM maze datasets' format, and the routes through them.

A maze of k×k cells is an RGB image of (2k+1)×(2k+1) pixels: walls black, open pixels white,
the start red and the goal green; the original data sets also paint the solution blue. A route
is a list of pixel moves: 0 Up, 1 Down, 2 Left, 3 Right, padded with 4 Wait.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..maze_world import DOWN, LEFT, MOVES, RIGHT, UP, WAIT, Maze, Position, step

BLACK, WHITE = (0, 0, 0), (255, 255, 255)
RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


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
    at = maze.start
    for count, move in enumerate(moves):
        if at == maze.goal:
            return True, at, count
        there = step(at, int(move))
        if not maze.is_open(there):
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
