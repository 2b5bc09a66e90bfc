"""Exploring a maze from inside: what the agent sees and is paid, held-out mazes, the scripted
explorers it is measured against, and the task's evaluation."""

import numpy as np
import pytest
import torch

from ctm.model import build_model
from ctm.run.config import RunConfig, build_task
from ctm.tasks.explore import ExploreOptions, ExploreTask, walk_metrics
from ctm.tasks.explore.explorers import EXPLORERS, explore
from ctm.tasks.explore.world import MazeWalk, observation_size
from ctm.tasks.maze_world import DOWN, LEFT, RIGHT, UP, Maze, is_held_out

# #####
# #S..#      S start (1, 1), G goal (3, 1); the only route: right, right, down, down, left, left
# ###.#
# #G..#
# #####
ROWS = ["#####", "#S..#", "###.#", "#G..#", "#####"]
HAND = Maze(np.array([[c != "#" for c in row] for row in ROWS]), (1, 1), (3, 1))


def test_the_agent_sees_its_view_its_last_move_and_whether_it_was_blocked():
    world = MazeWalk(5, budget=4.0, held_out=True)
    obs, _ = world.reset(maze=HAND)
    assert obs.shape == (observation_size(False),) == (2 * 25 + 5 + 1,)
    walls, goal = obs[:25].reshape(5, 5), obs[25:50].reshape(5, 5)
    # rows -1..3 and columns -1..3 around (1, 1): outside the maze is wall
    assert walls[0].tolist() == [1, 1, 1, 1, 1] and walls[:, 0].tolist() == [1] * 5
    assert walls[2].tolist() == [1, 1, 0, 0, 0]  # row 1: wall, S, open, open
    assert walls[3].tolist() == [1, 1, 1, 1, 0] and walls[4].tolist() == [1, 1, 0, 0, 0]
    assert goal.sum() == 1 and goal[4, 2] == 1
    assert obs[50:55].tolist() == [0, 0, 0, 0, 1] and obs[55] == 0  # no move yet, not blocked
    obs, reward, terminated, truncated, info = world.step(LEFT)  # into the wall
    assert world.at == (1, 1) and obs[50 + LEFT] == 1 and obs[55] == 1
    assert (reward, terminated, truncated, info) == (0.0, False, False, {})
    assert MazeWalk(5, 4.0, True, show_position=True).reset(maze=HAND)[0][-2:].tolist() == [
        0.25, 0.25]


def test_reaching_the_goal_pays_less_the_longer_it_took_and_revisits_are_counted():
    world = MazeWalk(5, budget=4.0, held_out=True)
    world.reset(maze=HAND)
    assert world.budget == 4 * 7  # seven open pixels
    for move in (RIGHT, LEFT, RIGHT, RIGHT, DOWN, DOWN, LEFT):
        _, reward, terminated, _, info = world.step(move)
        assert not terminated and reward == 0.0
    _, reward, terminated, truncated, info = world.step(LEFT)
    walk = info["walk"]
    assert terminated and not truncated and walk.solved
    assert (walk.steps, walk.revisits, walk.shortest) == (8, 2, 6)  # back to S, then (1, 2)
    assert reward == pytest.approx(1 - 0.9 * 8 / 28)


def test_the_budget_ends_an_episode_unpaid():
    world = MazeWalk(5, budget=1.0, held_out=True)
    world.reset(maze=HAND)
    for _ in range(6):
        _, reward, terminated, truncated, _ = world.step(UP)
    _, reward, terminated, truncated, info = world.step(UP)
    assert (reward, terminated, truncated) == (0.0, False, True) and not info["walk"].solved


def test_training_never_draws_a_maze_evaluation_uses():
    train, held = MazeWalk(9, 4.0, held_out=False), MazeWalk(9, 4.0, held_out=True)
    assert not any(is_held_out(train.draw_maze(s)) for s in range(60))
    assert all(is_held_out(held.draw_maze(s)) for s in range(60))


def test_the_explorers_on_a_maze_worked_out_by_hand():
    world = MazeWalk(5, budget=4.0, held_out=True)
    # the goal is in view from the start and the route between is seen: the shortest walk
    assert explore("seen_dfs", world, HAND, 0).steps == 6
    # the only open neighbour is to the right; the left hand then follows the corridor
    assert explore("wall_follower", world, HAND, 0).steps == 6
    assert explore("random_walk", world, HAND, 0).solved


def test_memory_and_a_plan_beat_a_wall_and_a_wall_beats_chance():
    """On generated mazes without loops, within a budget of 4 steps per open pixel, the wall
    follower and the depth-first explorer always arrive (each walks every corridor at most
    twice), the explorer that remembers in fewer steps; the random walk does not always."""
    world = MazeWalk(9, budget=4.0, held_out=True)
    mazes = [world.draw_maze(s) for s in range(100)]
    found = {kind: walk_metrics([explore(kind, world, m, k) for k, m in enumerate(mazes)])
             for kind in EXPLORERS}
    assert found["wall_follower"]["solve_rate"] == found["seen_dfs"]["solve_rate"] == 1.0
    assert found["seen_dfs"]["mean_steps"] < found["wall_follower"]["mean_steps"]
    assert found["seen_dfs"]["revisits"] < found["wall_follower"]["revisits"]
    assert found["random_walk"]["solve_rate"] < 0.9


def test_options_that_cannot_work_are_refused():
    for options, words in (({"size": 8}, "size must be odd"), ({"budget": 0.0}, "budget"),
                           ({"loop_fraction": 2.0}, "loop_fraction")):
        with pytest.raises(ValueError, match=words):
            ExploreOptions(**options)
    with pytest.raises(ValueError, match="feedforward baseline has none"):
        RunConfig.create("explore", {}, {"architecture": "feedforward"})


def test_evaluation_walks_held_out_mazes_beside_the_explorers():
    run = RunConfig.create("explore", {"size": 7, "eval_episodes": 6, "rollout_steps": 16,
                                       "chunk": 8, "minibatches": 2},
                           {"d_model": 16, "d_input": 8, "heads": 2, "n_sync_out": 8,
                            "n_sync_action": 4, "memory_length": 3})
    task = build_task(run)
    assert isinstance(task, ExploreTask)
    torch.manual_seed(0)
    model = build_model(run.model)
    metrics = task.evaluate(model, task.eval_batches(4, 0), "cpu")
    assert metrics["episodes"] == 6 and 0.0 <= metrics["solve_rate"] <= 1.0
    again = task.evaluate(model, task.eval_batches(6, 0), "cpu")  # other batching, same walks
    assert again == metrics
    final = task.final_evaluation(model, 4, 0, "cpu")
    assert final["seen_dfs_solve_rate"] == 1.0 and "random_walk_revisits" in final
    assert "depth-first explorer: solved 100.0%" in task.summary({**metrics, **final})
    batch = next(task.step_batches(model, 0, 4, 0, "cpu"))
    loss = task.loss(task.forward(model, batch), batch, run.model).loss
    loss.backward()
    assert torch.isfinite(loss)
