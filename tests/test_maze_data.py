"""Maze generation, the original image format, routes and augmentation."""

import random

import numpy as np
import pytest
from PIL import Image

from ctm.tasks.maze.data import (
    BLUE,
    follow,
    parse_image,
    read_image,
    render,
    route_targets,
    transform,
)
from ctm.tasks.maze_world import DOWN, LEFT, RIGHT, UP, WAIT, Maze, generate_maze, shortest_route


def count_simple_paths(maze, limit=10):
    """Number of simple paths from start to goal (stops counting at `limit`)."""
    h, w = maze.shape
    found = 0
    stack = [(maze.start, {maze.start})]
    while stack and found < limit:
        at, seen = stack.pop()
        if at == maze.goal:
            found += 1
            continue
        for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            there = (at[0] + dy, at[1] + dx)
            if 0 <= there[0] < h and 0 <= there[1] < w and maze.open[there] and there not in seen:
                stack.append((there, seen | {there}))
    return found


@pytest.mark.parametrize("seed", range(5))
def test_generated_mazes_are_perfect(seed):
    cells = 5
    maze = generate_maze(cells, random.Random(seed))
    assert maze.shape == (11, 11)
    assert not maze.open[0].any() and not maze.open[:, 0].any()  # closed border
    assert maze.open[1::2, 1::2].all()  # every cell is open
    assert not maze.open[::2, ::2].any()  # wall corners never open
    passages = maze.open.sum() - cells * cells
    assert passages == cells * cells - 1  # a spanning tree has n-1 edges...
    assert count_simple_paths(maze) == 1  # ...so exactly one route to the goal
    assert maze.start != maze.goal


def test_loops_give_several_routes():
    mazes = [generate_maze(5, random.Random(s), loop_fraction=0.5) for s in range(5)]
    assert any(count_simple_paths(m) > 1 for m in mazes)


def flood_distance(maze):
    """Moves from start to goal, by growing the set of reachable pixels one move at a time
    (independent of the breadth-first search under test)."""
    reached = np.zeros_like(maze.open)
    reached[maze.start] = True
    for moves in range(maze.open.size):
        if reached[maze.goal]:
            return moves
        grown = reached.copy()
        grown[1:] |= reached[:-1]
        grown[:-1] |= reached[1:]
        grown[:, 1:] |= reached[:, :-1]
        grown[:, :-1] |= reached[:, 1:]
        reached = grown & maze.open
    return None


def test_shortest_route_reaches_the_goal_and_is_shortest():
    for seed in range(20):
        maze = generate_maze(4, random.Random(seed), loop_fraction=0.3 * (seed % 2))
        route = shortest_route(maze)
        solved, at, used = follow(maze, route)
        assert solved and at == maze.goal and used == len(route)
        assert len(route) == flood_distance(maze), seed


def test_route_targets_pad_with_wait_and_truncate():
    assert route_targets([UP, RIGHT], 4).tolist() == [UP, RIGHT, WAIT, WAIT]
    assert route_targets([UP, RIGHT, DOWN], 2).tolist() == [UP, RIGHT]


def test_follow_hand_made_maze():
    grid = np.zeros((5, 5), dtype=bool)
    grid[1, 1:4] = True
    grid[2:4, 3] = True
    maze = Maze(grid, (1, 1), (3, 3))
    assert follow(maze, [RIGHT, RIGHT, DOWN, DOWN, WAIT]) == (True, (3, 3), 4)
    assert follow(maze, [RIGHT, DOWN]) == (False, (1, 2), 1)  # (2, 2) is a wall
    assert follow(maze, [WAIT, RIGHT]) == (False, (1, 2), 2)  # stopped short of the goal
    assert shortest_route(maze) == [RIGHT, RIGHT, DOWN, DOWN]


def test_reader_walks_the_blue_path_of_original_format_files(tmp_path):
    """Tiny images written the way the original data sets are: PNG, solution in blue."""
    for seed in range(4):
        maze = generate_maze(3 + seed, random.Random(seed))
        route = shortest_route(maze)
        Image.fromarray(render(maze, route)).save(tmp_path / f"maze{seed}.png")
        parsed, walked = parse_image(read_image(tmp_path / f"maze{seed}.png"))
        assert walked == route
        assert np.array_equal(parsed.open, maze.open)
        assert (parsed.start, parsed.goal) == (maze.start, maze.goal)
        # without the blue path, search finds the same route in a perfect maze
        unsolved, none = parse_image(render(maze))
        assert none is None and shortest_route(unsolved) == route


def test_reader_rejects_broken_images():
    maze = generate_maze(3, random.Random(0))
    image = render(maze)
    image[maze.goal] = (255, 255, 255)
    with pytest.raises(ValueError, match="one red start and one green goal"):
        parse_image(image)
    broken = render(maze, shortest_route(maze))
    path_pixels = np.argwhere(np.all(broken == BLUE, axis=-1))
    if len(path_pixels) > 1:
        broken[tuple(path_pixels[len(path_pixels) // 2])] = (255, 255, 255)
        with pytest.raises(ValueError, match="breaks off"):
            parse_image(broken)


@pytest.mark.parametrize("rotations", range(4))
@pytest.mark.parametrize("flip", [False, True])
def test_augmentation_keeps_routes_valid(rotations, flip):
    for seed in range(3):
        maze = generate_maze(4, random.Random(seed))
        route = np.asarray(shortest_route(maze) + [WAIT, WAIT])
        image, moves = transform(render(maze), route, rotations, flip)
        turned, _ = parse_image(image)
        assert follow(turned, moves)[0]
        assert moves.tolist().count(WAIT) == 2


def test_rotation_relabels_moves():
    image = np.zeros((3, 3, 3), dtype=np.uint8)
    _, moves = transform(image, np.array([UP, RIGHT, DOWN, LEFT, WAIT]), 1, False)
    assert moves.tolist() == [LEFT, UP, RIGHT, DOWN, WAIT]  # rotated anticlockwise
    _, moves = transform(image, np.array([UP, RIGHT]), 0, True)
    assert moves.tolist() == [UP, LEFT]
