"""The maze task: batches, folders in the original format, loss and metrics."""

import random

import numpy as np
import pytest
import torch
from PIL import Image

from ctm.model import CTM
from ctm.run import RunConfig
from ctm.tasks.maze import MazeOptions, MazeTask, by_route_length, image_tensor, load_folder
from ctm.tasks.maze.data import follow, render
from ctm.tasks.maze_world import WAIT, generate_maze, shortest_route


def small_task(**options):
    return MazeTask(MazeOptions(**{"size": 7, "route_length": 8, "eval_size": 6, **options}))


def test_batches_are_deterministic_and_routes_valid():
    task = small_task()
    a, b = task.train_batch(3, 5, seed=1), task.train_batch(3, 5, seed=1)
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets)
    assert a.inputs.shape == (5, 3, 7, 7) and a.targets.shape == (5, 8)
    assert a.inputs.min() == -1 and a.inputs.max() == 1
    for maze, moves in zip(a.mazes, a.targets, strict=True):
        route = [m for m in moves.tolist() if m != WAIT]
        assert follow(maze, route)[0] or len(route) == 8  # routes longer than R are cut


def test_input_hides_the_blue_solution():
    maze = generate_maze(3, random.Random(0))
    with_path = image_tensor(render(maze, shortest_route(maze)))
    assert torch.equal(with_path, image_tensor(render(maze)))


def test_folder_of_original_format_images(tmp_path):
    for seed in range(3):
        maze = generate_maze(3, random.Random(seed))
        Image.fromarray(render(maze, shortest_route(maze))).save(tmp_path / f"{seed}.png")
    maze = generate_maze(3, random.Random(9))
    Image.fromarray(render(maze)).save(tmp_path / "unsolved.png")  # route found by search
    loaded = load_folder(tmp_path)
    assert len(loaded) == 4
    assert all(follow(m, r)[0] for m, r in loaded)
    task = small_task(data=str(tmp_path), eval_data=str(tmp_path))
    batch = task.train_batch(0, 4, seed=0)
    assert batch.inputs.shape == (4, 3, 7, 7)
    assert sum(len(b.mazes) for b in task.eval_batches(2, seed=0)) == 4


def test_folder_errors_name_the_problem(tmp_path, capsys):
    with pytest.raises(ValueError, match="no maze images"):
        load_folder(tmp_path)
    Image.fromarray(np.zeros((5, 5, 3), dtype=np.uint8)).save(tmp_path / "bad.png")
    with pytest.raises(ValueError, match="none of the 1 image files"):
        load_folder(tmp_path)
    assert "bad.png: expected one red start" in capsys.readouterr().err
    maze = generate_maze(2, random.Random(0))
    Image.fromarray(render(maze)).save(tmp_path / "good.png")
    (tmp_path / "x.png").write_text("not an image")
    assert len(load_folder(tmp_path)) == 1  # the stray files are skipped, by name
    err = capsys.readouterr().err
    assert "skipped" in err and "x.png" in err and "bad.png" in err
    assert "skipped 2 of 3 files" in err
    with pytest.raises(ValueError, match="does not exist"):
        MazeOptions(data=str(tmp_path / "missing"))


def test_evaluate_reports_solve_rate_per_tick():
    run = RunConfig.create("maze", {"size": 7, "route_length": 8, "eval_size": 6},
                           {"d_model": 16, "d_input": 8, "heads": 2, "ticks": 3,
                            "n_sync_out": 8, "n_sync_action": 8, "n_self": 0,
                            "synapse_depth": 1}, {})
    task = MazeTask(run.options)
    model = CTM(run.model).eval()
    metrics = task.evaluate(model, task.eval_batches(4, seed=0), "cpu")
    assert len(metrics["solve_rate_per_tick"]) == 3
    assert 0 <= metrics["solve_rate"] <= 1 and 0 <= metrics["per_step_accuracy"] <= 1
    assert "solved" in task.summary(metrics)
    counts = metrics["mazes_by_route_length"]
    assert sum(counts.values()) == 6 and set(counts) <= {"1-8", ">8"}
    assert "shortest-route length" in task.summary(metrics)


def test_solve_rate_by_route_length_spans():
    lengths = [0, 3, 10, 11, 20, 25, 30, 31, 44]
    solved = [True, True, False, True, True, False, False, False, False]
    result = by_route_length(lengths, solved, route_length=25)
    assert result["mazes_by_route_length"] == {"1-10": 3, "11-20": 2, "21-25": 1, ">25": 3}
    assert result["solve_rate_by_route_length"] == {"1-10": 2 / 3, "11-20": 1.0, "21-25": 0.0,
                                                    ">25": 0.0}


class ScriptedModel(torch.nn.Module):
    """Stands in for a CTM: always emits the same moves, with full certainty at tick 0."""

    def __init__(self, moves, route_length):
        super().__init__()
        from ctm.model import CTMConfig

        self.config = CTMConfig(out_dims=5 * route_length, out_shape=(route_length, 5))
        self.moves = torch.tensor(moves)

    def forward(self, x):
        from ctm.model.config import CTMOutput

        logits = torch.nn.functional.one_hot(self.moves, 5).float().mul(50)
        logits = logits.reshape(1, 1, -1).expand(x.shape[0], 2, -1)
        certainty = torch.tensor([[1.0, 0.0]]).expand(x.shape[0], 2)
        return CTMOutput(logits=logits, certainty=certainty, sync_out=torch.zeros(1))


def test_reapplication_moves_the_start_forward():
    from ctm.tasks.maze import solve_by_reapplication
    from ctm.tasks.maze_world import DOWN, RIGHT, Maze

    grid = np.zeros((3, 9), dtype=bool)
    grid[1, 1:8] = True  # a corridor of 7 pixels
    maze = Maze(grid, (1, 1), (1, 7))
    two_right = ScriptedModel([RIGHT, RIGHT, WAIT], 3)
    assert solve_by_reapplication(two_right, [maze], applications=2, device="cpu") == 0
    assert solve_by_reapplication(two_right, [maze], applications=3, device="cpu") == 1
    stuck = ScriptedModel([DOWN, RIGHT, RIGHT], 3)  # walks into a wall at once
    assert solve_by_reapplication(stuck, [maze], applications=10, device="cpu") == 0


def test_eval_a_saved_maze_model_on_a_folder(tmp_path, capsys):
    import json

    from ctm.cli import main

    run = RunConfig.create("maze", {"size": 7, "route_length": 8}, {
        "d_model": 16, "d_input": 8, "heads": 2, "ticks": 3, "n_sync_out": 8,
        "n_sync_action": 8, "n_self": 0, "synapse_depth": 1}, {})
    CTM(run.model).save(tmp_path / "model")
    data = tmp_path / "mazes"
    data.mkdir()
    for seed in range(3):
        maze = generate_maze(3, random.Random(seed))
        Image.fromarray(render(maze, shortest_route(maze) if seed else None)).save(
            data / f"{seed}.png")
    assert main(["eval", str(tmp_path / "model"), "--task", "maze", "--data", str(data),
                 "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert 0 <= metrics["per_step_accuracy"] <= 1 and 0 <= metrics["solve_rate"] <= 1
    assert main(["eval", str(tmp_path / "model"), "--data", str(data)]) == 2
    assert "--task" in capsys.readouterr().err


def test_viz_writes_gifs_summaries_and_a_ticks_sweep(tmp_path, capsys):
    import json

    from PIL import Image as PILImage

    from ctm.cli import main

    run = tmp_path / "run"
    assert main(["train", "maze", "--out", str(run), "--size", "7", "--route-length", "8",
                 "--eval-size", "4", "--larger-sizes", "9", "--reapply", "2", "--d-model", "16",
                 "--d-input", "8", "--heads", "2", "--ticks", "3", "--n-sync-out", "8",
                 "--n-sync-action", "8", "--n-self", "0", "--synapse-depth", "1", "--steps",
                 "2", "--batch-size", "4", "--eval-every", "1", "--no-progress"]) == 0
    # each evaluation kept the route of every tick for the first 4 held-out mazes
    records = [json.loads(line) for line in (run / "records.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2]
    assert np.array(records[0]["routes"]).shape == (4, 3, 8)
    capsys.readouterr()
    assert main(["viz", str(run), "--training", "--out", str(tmp_path / "along")]) == 0
    drawn = sorted(p.name for p in (tmp_path / "along").iterdir())
    assert drawn == ["training_backtracks.png", *[f"training_maze_{k}.png" for k in range(4)]]
    assert main(["eval", str(run), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert set(metrics) >= {"solve_rate_reapplied_7", "solve_rate_reapplied_9"}
    assert main(["viz", str(run), "--count", "2", "--ticks", "1,3,5"]) == 0
    out = capsys.readouterr().out
    assert "5 ticks:" in out
    sweep = json.loads((run / "viz" / "ticks_sweep.json").read_text())
    assert list(sweep) == ["1", "3", "5"] and set(sweep["5"]) == {"solve_rate",
                                                                   "per_step_accuracy"}
    assert (run / "viz" / "ticks_sweep.png").is_file()
    assert (run / "viz" / "reliability.png").is_file()
    for k in range(2):
        with PILImage.open(run / "viz" / f"maze_{k}_thinking.gif") as gif:
            assert gif.n_frames == 3  # one frame per tick
        assert (run / "viz" / f"maze_{k}_summary.png").is_file()


class RouteOracle(torch.nn.Module):
    """Stands in for a CTM that knows the answers: for the mazes in `known` (by image) it
    emits the target moves, for the others nothing but Wait; certain at tick 0 only."""

    def __init__(self, known: dict[bytes, torch.Tensor], route_length: int):
        super().__init__()
        from ctm.model import CTMConfig

        self.config = CTMConfig(out_dims=5 * route_length, out_shape=(route_length, 5))
        self.known, self.route_length = known, route_length

    def forward(self, x):
        from ctm.model.config import CTMOutput

        moves = torch.stack([self.known.get(image.numpy().tobytes(),
                                            torch.full((self.route_length,), WAIT))
                             for image in x])
        logits = torch.nn.functional.one_hot(moves, 5).float().mul(50).reshape(len(x), 1, -1)
        certainty = torch.tensor([[1.0, 0.0]]).expand(len(x), 2)
        return CTMOutput(logits=logits.expand(-1, 2, -1), certainty=certainty,
                         sync_out=torch.zeros(1))


def test_evaluate_scores_a_scripted_model_exactly():
    """An oracle that knows every other maze's route: the solve rate and the per-step
    accuracy (route steps only, and with the Wait padding) are known in advance."""
    task = small_task(eval_size=40)
    batches = list(task.eval_batches(16, seed=0))
    examples = [(image.numpy().tobytes(), target, length) for batch in batches
                for image, target, length in zip(batch.inputs, batch.targets,
                                                 batch.route_lengths, strict=True)]
    known = {key: target for k, (key, target, _) in enumerate(examples) if k % 2 == 0}
    solvable, right, steps, right_padded = 0, 0, 0, 0
    for key, _, length in examples:  # a maze drawn twice is known both times
        real = min(length, 8)
        steps += real
        if key in known:
            solvable += length <= 8
            right += real
            right_padded += 8
        else:
            right_padded += 8 - real  # Wait is right on the padding
    metrics = task.evaluate(RouteOracle(known, 8), iter(batches), "cpu")
    assert metrics["solve_rate"] == pytest.approx(solvable / 40)
    assert metrics["per_step_accuracy"] == pytest.approx(right / steps)
    assert metrics["per_step_accuracy_with_padding"] == pytest.approx(right_padded / (40 * 8))
    assert metrics["per_step_accuracy_per_tick"][0] == pytest.approx(right / steps)
    assert metrics["mean_certain_tick"] == 1.0


def test_a_route_that_takes_a_wrong_branch_and_is_revised_later_counts_as_a_backtrack():
    from ctm.tasks.maze import route_revisions
    from ctm.tasks.maze_world import DOWN, LEFT, RIGHT, UP, Maze

    rows = ["#######",
            "#S....#",   # the route: right ×4, down ×2, left ×2
            "#.###.#",   # down from the start: a dead end (a wrong branch); up: a wall
            "#.#G..#",
            "#######"]
    maze = Maze(np.array([[c != "#" for c in row] for row in rows]), (1, 1), (3, 3))
    route = [RIGHT] * 4 + [DOWN] * 2 + [LEFT] * 2
    assert shortest_route(maze) == route
    target = np.array(route + [WAIT] * 2)

    def ticks(*routes):
        return np.array([list(r) + [WAIT] * (10 - len(r)) for r in routes])

    revised = ticks([DOWN, DOWN], [RIGHT, RIGHT, UP], route, [])  # branch, bump, right, nothing
    kept = ticks([], [RIGHT], [DOWN, DOWN], [DOWN])  # a branch from tick 3, never mended
    bumps = ticks([UP], [RIGHT, RIGHT, UP], route, [])  # walls only: no branch taken
    branch, back = route_revisions([maze] * 3, np.stack([revised, kept, bumps]),
                                   np.stack([target] * 3), [8, 8, 8])
    assert branch.tolist() == [True, True, False]
    assert back.tolist() == [True, False, False]


def test_attention_that_jumps_ahead_and_comes_back_is_a_leapfrog():
    from ctm.tasks.maze.viz import attended_route_index, leapfrog_measures

    # a route along the top row of an 8×8 image, seen as a 4×4 token grid: two pixels a token
    route = [(0, x) for x in range(8)]
    attention = np.zeros((3, 4, 4))
    attention[0, 0, 3] = 1  # pixels 6 and 7: route steps 6 and 7
    attention[1, 0, 0] = 1  # steps 0 and 1
    attention[2, 3, 1] = 1  # off the route: the nearest route pixel to the centre (7, 3) is 3
    attended = attended_route_index(attention, route, (8, 8))
    assert attended.tolist() == [6.5, 0.5, 3.0]

    right = np.array([[0, 1, 2], [0, 1, 2]])
    measures = leapfrog_measures(np.array([[6.5, 0.5, 3.0], [0.0, 1.0, 2.0]]), right)
    # maze 0: ahead at tick 1 (6.5 > 0 + 1), back at ticks 2 and 3; maze 1 follows its prefix
    assert measures == {"ahead": 1 / 6, "fill_in": 2 / 4, "leapfrog": 0.5}
