"""The sudoku task: tokens, the loss on empty cells, the meter, and the held-out split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ctm.model import CTMOutput, build_model
from ctm.run import RunConfig
from ctm.tasks.sudoku import (
    SudokuBatch,
    SudokuMeter,
    SudokuOptions,
    SudokuTask,
    solve_by_reapplication,
    tokens,
)
from ctm.tasks.sudoku.data import Puzzle, format_line, parse_line, signature, singles_rounds

EASY = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79"


def test_tokens_hold_the_digit_and_the_cells_row_column_and_box() -> None:
    grid = parse_line("1..." "..2." "...." "...4", size=4)
    t = tokens(grid[None])
    assert t.shape == (1, 16, 17)
    assert t[0, 0, :5].tolist() == [0, 1, 0, 0, 0]  # digit 1
    assert t[0, 1, :5].tolist() == [1, 0, 0, 0, 0]  # empty
    cell = 6  # row 1, column 2, box 1 (top right)
    assert t[0, cell, 5:9].tolist() == [0, 1, 0, 0]
    assert t[0, cell, 9:13].tolist() == [0, 0, 1, 0]
    assert t[0, cell, 13:17].tolist() == [0, 1, 0, 0]
    assert (t.sum(-1) == 4).all()


def test_the_loss_looks_only_at_empty_cells() -> None:
    task = SudokuTask(SudokuOptions(size=4, train_puzzles=4, eval_size=4))
    batch = task.train_batch(0, 2, 0)
    config = task.model_defaults()
    logits = torch.zeros(2, 3, 16 * 4)
    # perfectly right on every given cell, uniform on the empty ones: the loss is log 4
    view = logits.view(2, 3, 16, 4)
    for b in range(2):
        for cell in range(16):
            if not batch.empty[b, cell]:
                view[b, :, cell, batch.targets[b, cell]] = 50.0
    output = CTMOutput(logits=logits, certainty=torch.rand(2, 3), sync_out=torch.zeros(2, 1))
    assert task.loss(output, batch, config).loss.item() == pytest.approx(np.log(4), abs=1e-5)


def test_the_meter_counts_grids_cells_and_repeated_digits() -> None:
    solution = parse_line("1234341221434321", size=4)
    grid = solution.copy()
    grid[0, :2] = 0  # two empty cells: 1 and 2
    batch = SudokuBatch(tokens(grid[None]), torch.from_numpy(solution.reshape(1, 16) - 1),
                        torch.from_numpy(grid.reshape(1, 16) == 0), [0])
    logits = torch.full((1, 2, 16, 4), -9.0)
    logits[0, :, torch.arange(16), torch.from_numpy(solution.reshape(16) - 1)] = 9.0
    logits[0, 0, 0] = torch.tensor([-9.0, 9.0, -9.0, -9.0])  # tick 1: a 2 where the 1 goes
    certainty = torch.tensor([[0.9, 0.1]])  # tick 1 is the most certain
    meter = SudokuMeter(4)
    meter.update(CTMOutput(logits=logits.view(1, 2, 64), certainty=certainty,
                           sync_out=torch.zeros(1, 1)), batch)
    result = meter.result()
    assert result["grid_accuracy"] == 0.0 and result["cell_accuracy"] == 0.5
    # 2 2 3 4 in the first row; a second 2 in the first box, and in the first column
    assert result["violations_per_grid"] == 3
    assert result["grid_accuracy_per_tick"] == [0.0, 1.0]
    assert result["cell_accuracy_per_tick"] == [0.5, 1.0]
    assert result["grid_accuracy_by_rating"] == {"0": 0.0}
    assert result["exit_tick_by_rating_at_0.8"] == {"0": 1.0}  # 0.9 >= 0.8 at tick 1
    assert "cell_accuracy_by_singles_round" not in result  # training batches carry no rounds
    batch.rounds = torch.zeros(1, 16, dtype=torch.long)
    batch.rounds[0, :2] = torch.tensor([1, 2])
    by_round = SudokuMeter(4)
    by_round.update(CTMOutput(logits=logits.view(1, 2, 64), certainty=certainty,
                              sync_out=torch.zeros(1, 1)), batch)
    result = by_round.result()
    assert result["cell_accuracy_by_singles_round"] == {"1": 0.0, "2": 1.0}
    assert result["cells_by_singles_round"] == {"1": 1, "2": 1}
    assert result["cell_accuracy_by_singles_round_per_tick"] == {"1": [0.0, 1.0],
                                                                 "2": [1.0, 1.0]}
    unsure = SudokuMeter(4)
    unsure.update(CTMOutput(logits=logits.view(1, 2, 64), certainty=torch.tensor([[0.3, 0.7]]),
                            sync_out=torch.zeros(1, 1)), batch)
    assert unsure.result()["exit_tick_by_rating_at_0.8"] == {"0": 2.0}  # never sure: the last


def test_rounds_of_singles_by_hand() -> None:
    puzzle = parse_line(".3.." "...4" ".1.." "...1", size=4)
    solution = parse_line("4312123421433421", size=4)
    # round 1: the top-left 4 is a hidden single (the only place for a 4 in row 1) and the
    # top-right 2 a naked single (3 in its row, 4 and 1 in its column); round 2: with those
    # in, row 1 lacks only a 1
    assert singles_rounds(puzzle, solution).tolist() == [[1, 0, 2, 1], [2, 1, 1, 0],
                                                         [2, 0, 2, 1], [2, 1, 2, 0]]
    one_empty = solution.copy()
    one_empty[3, 3] = 0
    assert singles_rounds(one_empty, solution)[3, 3] == 1
    empty = np.zeros((4, 4), dtype=np.int64)  # no single anywhere: every cell needs search
    assert (singles_rounds(empty, solution) == -1).all()


def test_held_out_batches_carry_the_rounds_of_singles() -> None:
    task = SudokuTask(SudokuOptions(size=6, train_puzzles=4, eval_size=6))
    batch = next(iter(task.eval_batches(6, 0)))
    puzzles = task.held_out(0)
    for k, puzzle in enumerate(puzzles):
        rounds = batch.rounds[k].view(6, 6).numpy()
        assert (rounds == singles_rounds(puzzle.grid, puzzle.solution)).all()
        assert ((rounds == 0) == (puzzle.grid != 0)).all()
        if puzzle.rating == 0:  # propagation alone solves it: singles reach every cell
            assert (rounds >= 0).all()


class TwoCellOracle(torch.nn.Module):
    """A stand-in model for a 4×4 puzzle whose first two cells are empty: sure of the first
    cell's digit; right about the second only once the first is a given, and unsure of it
    before (it then guesses the first cell's digit, which is wrong)."""

    def __init__(self, solution: np.ndarray) -> None:
        super().__init__()
        self.solution = torch.from_numpy(solution.reshape(16) - 1)

    def forward(self, x: torch.Tensor) -> CTMOutput:
        b = x.shape[0]
        logits = torch.full((b, 1, 16, 4), -9.0)
        logits[:, 0, torch.arange(16), self.solution] = 9.0
        first_given = x[:, 0, :5].argmax(-1) != 0
        for k in range(b):
            if not first_given[k]:
                logits[k, 0, 1] = 0.0
                logits[k, 0, 1, self.solution[0]] = 1.0  # a weak wrong guess
        return CTMOutput(logits=logits.view(b, 1, 64), certainty=torch.ones(b, 1),
                         sync_out=torch.zeros(b, 1))


def test_reapplication_fills_the_surest_cells_first_and_thinks_again() -> None:
    solution = parse_line("1234341221434321", size=4)
    grid = solution.copy()
    grid[0, :2] = 0
    puzzle = Puzzle(grid, solution, 0)
    model = TwoCellOracle(solution)
    right, used = solve_by_reapplication(model, [puzzle], 1, "cpu")
    assert right.tolist() == [False] and used.tolist() == [1]  # one pass: both cells at once
    right, used = solve_by_reapplication(model, [puzzle], 2, "cpu")
    assert right.tolist() == [True] and used.tolist() == [2]  # the sure cell, then the other
    right, used = solve_by_reapplication(model, [puzzle, puzzle], 5, "cpu")
    assert right.tolist() == [True, True] and used.tolist() == [2, 2]  # stops when full


def test_the_direct_variant_flattens_the_grid_into_every_tick() -> None:
    run = RunConfig.create("sudoku", {"size": 4, "input": "direct", "train_puzzles": 4,
                                      "eval_size": 4}, {"d_model": 32, "ticks": 3})
    assert run.model.input_mode == "direct" and run.model.input_size == 16 * 17
    task = SudokuTask(run.options)
    model = build_model(run.model)
    out = model(task.train_batch(0, 2, 0).inputs)
    assert out.logits.shape == (2, 3, 64)
    assert SudokuTask.options_for_model(run.model) == {"size": 4, "input": "direct"}
    with pytest.raises(ValueError, match="fixes input_mode=attention"):
        RunConfig.create("sudoku", {"size": 4}, {"input_mode": "direct"})
    with pytest.raises(ValueError, match="input must be one of attention, direct"):
        SudokuOptions(input="flat")


def test_held_out_puzzles_share_no_signature_with_training_puzzles() -> None:
    task = SudokuTask(SudokuOptions(size=6, train_puzzles=40, eval_size=20))
    train = {signature(p.grid) for p in task.training_set(0)}
    held = task.held_out(0)
    assert len(held) == 20 and not train & {signature(p.grid) for p in held}
    again = SudokuTask(SudokuOptions(size=6, train_puzzles=40, eval_size=20)).held_out(0)
    assert [format_line(p.grid) for p in again] == [format_line(p.grid) for p in held]


def test_a_batch_is_a_function_of_step_and_seed_and_augments() -> None:
    task = SudokuTask(SudokuOptions(size=6, train_puzzles=8, eval_size=4))
    a, b = task.train_batch(3, 4, 0), task.train_batch(3, 4, 0)
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets)
    base = {format_line(p.grid) for p in task.training_set(0)}
    shown = {format_line(g) for g in a.inputs[..., :7].argmax(-1).view(-1, 6, 6).numpy()}
    assert shown - base  # augmented: not only the training puzzles as stored


def test_puzzles_from_a_file_train_and_evaluate(tmp_path: Path) -> None:
    (tmp_path / "train.txt").write_text(EASY + "\n")
    (tmp_path / "eval.csv").write_text(f"question,answer\n{EASY},\n")
    task = SudokuTask(SudokuOptions(data=str(tmp_path / "train.txt"),
                                    eval_data=str(tmp_path / "eval.csv")))
    assert len(task.training_set(0)) == 1 and task.training_set(0)[0].rating == 0
    with pytest.raises(ValueError, match="nothing is left to evaluate on"):
        task.held_out(0)  # the same puzzle: it may not be evaluated on
    (tmp_path / "two.txt").write_text("." * 81 + "\n")
    with pytest.raises(ValueError, match="2\\+ solutions"):
        SudokuTask(SudokuOptions(data=str(tmp_path / "two.txt"))).training_set(0)


def test_bad_options_are_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="size must be one of"):
        SudokuOptions(size=5)
    with pytest.raises(ValueError, match="is a folder; give a file of puzzles"):
        SudokuOptions(eval_data=str(tmp_path))
    (tmp_path / "p.txt").write_text(EASY + "\n")
    with pytest.raises(ValueError, match="min_rating picks generated puzzles and does not "
                                         "filter the puzzles of data"):
        SudokuOptions(data=str(tmp_path / "p.txt"), min_rating=4)
    with pytest.raises(ValueError, match="eval_min_rating picks generated puzzles"):
        SudokuOptions(eval_data=str(tmp_path / "p.txt"), eval_min_rating=4)
    SudokuOptions(data=str(tmp_path / "p.txt"), eval_min_rating=4)  # generated eval: fine
    with pytest.raises(ValueError, match="does not exist"):
        SudokuOptions(data="/no/such/file.txt")
    with pytest.raises(ValueError, match="reapply must be >= 1"):
        SudokuOptions(reapply=0)
    with pytest.raises(ValueError, match=r"reveal must be in \[0, 1\)"):
        SudokuOptions(reveal=1.0)


def test_only_puzzles_that_can_be_held_out_are_called_held_out() -> None:
    small = SudokuTask(SudokuOptions(size=4, train_puzzles=8, eval_size=2))
    config = small.model_defaults()
    titles = [e["title"] for e in small.viewer_examples(config, 2, 0)["examples"]]
    assert all("held-out" not in t and "may be a training puzzle" in t for t in titles)
    six = SudokuTask(SudokuOptions(size=6, train_puzzles=8, eval_size=2))
    titles = [e["title"] for e in six.viewer_examples(six.model_defaults(), 2, 0)["examples"]]
    assert all(t.startswith("held-out puzzle") for t in titles)


def test_reveal_gives_away_solution_cells_in_training_only() -> None:
    plain = SudokuTask(SudokuOptions(size=6, train_puzzles=8, eval_size=4))
    shown = SudokuTask(SudokuOptions(size=6, train_puzzles=8, eval_size=4, reveal=0.9))
    stored = [p.grid.copy() for p in shown.training_set(0)]
    a, b = plain.train_batch(5, 32, 0), shown.train_batch(5, 32, 0)
    assert torch.equal(a.targets, b.targets)  # the same puzzles, the same clothes
    more = (~b.empty).sum(1) - (~a.empty).sum(1)
    assert (more >= 0).all() and more.sum() > 0 and b.empty.any(1).all()
    given = b.inputs[..., :7].argmax(-1) - 1  # -1 where empty
    revealed = a.empty & ~b.empty
    assert torch.equal(given[revealed], b.targets[revealed])  # what is given away is right
    assert all((p.grid == s).all() for p, s in zip(shown.training_set(0), stored, strict=True))
    held = next(iter(shown.eval_batches(4, 0)))  # evaluation puzzles stay as they are
    assert torch.equal(held.empty, next(iter(plain.eval_batches(4, 0))).empty)


def test_held_out_puzzles_of_another_seed_are_unseen_by_the_models_training_set() -> None:
    # `ctm eval RUN --seed 5` draws other held-out puzzles; they must still be new to the
    # model, which trained on the puzzles of the run's own seed
    def task(training_seed: int | None) -> SudokuTask:
        made = SudokuTask(SudokuOptions(size=6, train_puzzles=40, eval_size=20))
        made.training_seed = training_seed
        return made

    scoring = task(training_seed=0)
    trained_on = {signature(p.grid) for p in task(None).training_set(0)}
    held = scoring.held_out(5)
    assert held and not {signature(p.grid) for p in held} & trained_on
    assert {signature(p.grid) for p in scoring.training_set(0)} == trained_on


def test_the_guess_baseline_script_counts_every_empty_cell(monkeypatch, capsys) -> None:
    import runpy

    script = Path(__file__).resolve().parents[1] / "scripts" / "sudoku_guess_by_round.py"
    monkeypatch.setattr("sys.argv", [str(script), "--size", "4", "--train-puzzles", "4",
                                     "--eval-size", "6"])
    runpy.run_path(str(script), run_name="__main__")
    lines = capsys.readouterr().out.splitlines()
    task = SudokuTask(SudokuOptions(size=4, train_puzzles=4, eval_size=6))
    empty = sum(int((p.grid == 0).sum()) for p in task.held_out(0))
    assert sum(int(line.split(" of ")[1].split()[0]) for line in lines) == empty
    # a guess among at most 4 digits is right at least a quarter of the time
    assert all(25.0 <= float(line.split(": ")[1].split("%")[0]) <= 100.0 for line in lines)
