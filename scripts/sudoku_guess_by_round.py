"""What a model that has learned only the givens' constraints would score, by round of singles:
the accuracy of a uniform guess among the digits a cell's row, column and box leave open, on
the held-out puzzles `ctm eval` scores (docs/results.md sets it beside the CTM's figures).

    python scripts/sudoku_guess_by_round.py --size 6 --train-puzzles 1000 --eval-size 500
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import numpy as np
import torch

from ctm.tasks.sudoku import SudokuOptions, SudokuTask, round_bin
from ctm.tasks.sudoku.data import shape_of, singles_rounds, units


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=6)
    parser.add_argument("--train-puzzles", type=int, default=1000)
    parser.add_argument("--eval-size", type=int, default=500)
    parser.add_argument("--eval-min-rating", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    try:
        options = SudokuOptions(size=args.size, train_puzzles=args.train_puzzles,
                                eval_size=args.eval_size, eval_min_rating=args.eval_min_rating)
    except ValueError as error:  # the task's own checks, said as one line
        parser.error(str(error))
    task = SudokuTask(options)
    _, peers = units(shape_of(args.size))
    guesses: dict[str, list[float]] = defaultdict(list)
    for puzzle in task.held_out(args.seed):
        rounds = torch.from_numpy(singles_rounds(puzzle.grid, puzzle.solution).flatten())
        given = puzzle.grid.flatten()
        chance = np.array([1 / (args.size - len({int(given[p]) for p in peers[cell] if given[p]}))
                          if given[cell] == 0 else 0.0 for cell in range(given.size)])
        for label, cells in round_bin(rounds):  # givens fall in no bin
            guesses[label].extend(chance[cells.numpy()])
    for label, chances in guesses.items():  # in round_bin's order
        if chances:
            print(f"round {label}: {100 * np.mean(chances):.1f}% of {len(chances)} empty cells")


if __name__ == "__main__":
    main()
