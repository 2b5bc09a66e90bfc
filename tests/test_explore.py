"""Exploring a maze from inside: what the agent sees and is paid, held-out mazes, the scripted
explorers it is measured against, and the task's evaluation."""

import numpy as np
import pytest
import torch

from ctm.model import build_model
from ctm.run.config import RunConfig, build_task
from ctm.tasks.explore import ExploreOptions, ExploreTask, walk_metrics
from ctm.tasks.explore.explorers import EXPLORERS, explore
from ctm.tasks.explore.world import MazeWalk, TeamWalk, observation_size
from ctm.tasks.maze_world import DOWN, LEFT, RIGHT, UP, Maze, is_held_out
from ctm.tasks.play import play

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
    with pytest.raises(ValueError, match="agents must be >= 1, got 0"):
        ExploreOptions(agents=0)


def test_a_team_walks_one_maze_and_waits_at_the_goal_for_the_rest():
    team = TeamWalk(2, 5, budget=2.0, held_out=False)
    obs, _ = team.reset(maze=HAND)
    assert obs.shape == (2, observation_size(False))
    # agent 0 walks the route; agent 1 bumps into the wall above the start, then follows
    route = [RIGHT, RIGHT, DOWN, DOWN, LEFT, LEFT]
    for t, move in enumerate(route):
        obs, rewards, terminated, truncated, info = team.step(np.array([move, UP if t == 0
                                                                        else route[t - 1]]))
        assert not terminated and not truncated
    assert team.members[0].walk.solved and rewards[0] > 0 and rewards[1] == 0
    budget = team.members[0].budget  # 2 steps per open pixel: 14
    paid = 1 - 0.9 * 6 / budget
    assert rewards[0] == pytest.approx(paid)
    obs, rewards, terminated, truncated, info = team.step(np.array([UP, LEFT]))
    assert terminated and rewards.tolist() == [0.0, pytest.approx(1 - 0.9 * 7 / budget)]
    result = info["team"]
    assert (result.first_arrival, result.total_steps, result.solved) == (6, 13, True)
    assert team.members[0].walk.steps == 6  # waiting at the goal is not walking


def test_a_team_paid_for_its_first_arrival_pays_everyone_and_stops_there():
    team = TeamWalk(3, 5, budget=2.0, held_out=False, first_arrival_pays=True)
    team.reset(maze=HAND)
    route = [RIGHT, RIGHT, DOWN, DOWN, LEFT, LEFT]
    for move in route[:-1]:  # agent 0 walks the route; the others bump into walls
        *_, terminated, truncated, _ = team.step(np.array([move, UP, LEFT]))
        assert not terminated and not truncated
    _, rewards, terminated, truncated, info = team.step(np.array([LEFT, UP, LEFT]))
    budget = team.members[0].budget
    assert terminated and not truncated
    assert rewards.tolist() == [pytest.approx(1 - 0.9 * 6 / budget)] * 3
    result = info["team"]
    assert (result.first_arrival, result.total_steps, result.solved) == (6, 18, True)
    assert [w.solved for w in result.walks] == [True, False, False]


def test_a_team_that_never_arrives_is_cut_off_by_the_budget():
    team = TeamWalk(3, 5, budget=1.0, held_out=False)
    team.reset(maze=HAND)
    for _ in range(team.members[0].budget - 1):
        assert not team.step(np.array([UP, UP, UP]))[3]
    *_, terminated, truncated, info = team.step(np.array([UP, UP, UP]))
    assert truncated and not terminated and not info["team"].solved
    assert info["team"].first_arrival == team.members[0].budget == 7  # pixels open: 7


@pytest.mark.parametrize("private", [False, True])
def test_a_team_trains_and_evaluates_with_its_memory_shared_or_not(private):
    run = RunConfig.create("explore", {"size": 7, "eval_episodes": 4, "rollout_steps": 16,
                                       "chunk": 8, "minibatches": 2, "agents": 2,
                                       "private_memory": private},
                           {"d_model": 16, "d_input": 8, "heads": 2, "n_sync_out": 8,
                            "n_sync_action": 4, "memory_length": 3, "memory_slots": 4})
    assert run.model.memory_team == (1 if private else 2)
    task = build_task(run)
    torch.manual_seed(0)
    model = build_model(run.model)
    batches = list(task.step_batches(model, 0, 4, 0, "cpu"))
    assert len(batches) == 4 * 2  # epochs × minibatches
    for batch in batches:  # whole teams: rows 2k and 2k + 1 started in one maze
        assert len(batch.targets) % 2 == 0
        assert torch.equal(batch.resets[0::2], batch.resets[1::2])
        shared = torch.equal(batch.starts.entries[0::2], batch.starts.entries[1::2])
        assert shared != private or not batch.starts.present.any()
    loss = task.loss(task.forward(model, batches[0]), batches[0], run.model).loss
    loss.backward()
    assert torch.isfinite(loss)
    metrics = task.evaluate(model, task.eval_batches(3, 0), "cpu")
    assert metrics["episodes"] == 4 and metrics["team_steps"] >= metrics["mean_steps"]
    # the agents of a team start alike but draw their own actions
    episodes = play(model, task.spec(held_out=True), task.eval_seeds(1, 0), "cpu", sample=True)
    assert episodes[0].actions != episodes[1].actions
    final = task.final_evaluation(model, 4, 0, "cpu")
    assert final["random_walk_team_mean_steps"] <= final["random_walk_mean_steps"]
    assert "first arrival after" in task.summary({**metrics, **final})
    with pytest.raises(ValueError, match="not a whole number of teams of 2"):
        next(task.step_batches(model, 0, 3, 0, "cpu"))


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
    # the walks are the same; a certainty averaged over other batch shapes may differ in its
    # last bits (a matrix product's summation order can follow the batch size)
    assert again == {**metrics, "mean_certainty": pytest.approx(metrics["mean_certainty"],
                                                                rel=1e-6)}
    final = task.final_evaluation(model, 4, 0, "cpu")
    assert final["seen_dfs_solve_rate"] == 1.0 and "random_walk_revisits" in final
    assert "depth-first explorer: solved 100.0%" in task.summary({**metrics, **final})
    batch = next(task.step_batches(model, 0, 4, 0, "cpu"))
    loss = task.loss(task.forward(model, batch), batch, run.model).loss
    loss.backward()
    assert torch.isfinite(loss)


def test_memory_slots_are_traced_back_to_who_wrote_them_and_when():
    from ctm.tasks.explore.viz import slot_writers

    # one agent, 3 slots: after 4 steps slot 0 holds step 3's entry, slots 1, 2 steps 1, 2
    assert slot_writers(4, 1, 3) == {0: (3, 0), 1: (1, 0), 2: (2, 0)}
    # a team of 2 sharing 4 slots, read at step 3: step 2's entries overwrote step 0's
    assert slot_writers(3, 2, 4) == {0: (2, 0), 1: (2, 1), 2: (1, 0), 3: (1, 1)}
    assert slot_writers(0, 2, 4) == {}


def test_a_read_is_placed_where_its_entries_were_written():
    import numpy as np

    from ctm.tasks.explore.viz import read_spots
    from ctm.tasks.explore.world import Walk

    # two agents; the second arrived at (1, 3) after its first step and waits there
    first = Walk(stood=[(1, 1), (1, 2), (2, 2)], path=[(1, 1), (1, 2), (2, 2), (3, 2)])
    second = Walk(stood=[(1, 1)], path=[(1, 1), (1, 3)], solved=True)
    weights = np.array([0.5, 0.25, 0.125, 0.125])
    # shared, 4 slots, read at step 3: slots 0, 1 from step 2 (first at (2, 2), second waiting
    # at (1, 3)), slots 2, 3 from step 1 (first at (1, 2), second at (1, 3) again)
    spots, age = read_spots(weights, 3, 2, 4, [first, second], reader=0)
    assert spots == {(2, 2): 0.5, (1, 3): 0.375, (1, 2): 0.125}
    assert age == pytest.approx(0.75 * 1 + 0.25 * 2)
    # private, 2 slots: the second agent reads its own entries only
    spots, age = read_spots(np.array([0.75, 0.25]), 2, 1, 2, [first, second], reader=1)
    assert spots == {(1, 1): 0.75, (1, 3): 0.25} and age == pytest.approx(0.75 * 2 + 0.25)
    assert read_spots(weights, 0, 2, 4, [first, second], reader=0) == ({}, None)


def test_a_teams_episode_is_drawn_with_its_memory_reads(tmp_path):
    run = RunConfig.create("explore", {"size": 7, "agents": 2, "budget": 0.5},
                           {"d_model": 16, "d_input": 8, "heads": 2, "n_sync_out": 8,
                            "n_sync_action": 4, "memory_length": 3, "memory_slots": 2})
    task = build_task(run)
    torch.manual_seed(0)
    model = build_model(run.model)
    [gif] = task.visualise(model, tmp_path, 1, 0)
    from PIL import Image

    episodes = play(model, task.spec(held_out=True), task.eval_seeds(1, 0), "cpu", sample=True,
                    trace=True)
    assert len(episodes) == 2 and len(episodes[0].reads[0]) == 4  # 2 slots × 2 agents
    assert not episodes[0].reads[0].any() and episodes[0].reads[1].sum() == pytest.approx(1)
    with Image.open(gif) as image:  # a frame per step
        assert image.n_frames == len(episodes[0].rewards)
