"""Sudoku: attend over the grid's cells, think, and fill every empty cell.

Each of the n² cells is one token: its digit (or empty) one-hot, and its row, column and box
one-hot, which the attention's key/value projection turns into learned embeddings. The output
at each tick is n classes per cell; the loss covers the empty cells only, with the two-tick
rule. Training draws from a fixed set of puzzles (generated from the seed, or read from disk)
under augmentation (digit relabelling, band/stack/row/column permutations, transposition);
held-out puzzles come from another stream, and any whose augmentation-invariant signature
matches a training puzzle's is dropped, so no held-out puzzle appears in training in any
clothes. Generated puzzle sets are cached on disk (they take about 0.2 s a 9×9 puzzle).
"""

from __future__ import annotations

import hashlib
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...losses import TickLoss, grouped_logits, per_tick_cross_entropy, two_tick_loss
from ...metrics import per_tick_table
from ...model import CTMConfig, CTMOutput
from ...progress import Progress, reported
from ..base import Batch, Task, batch_counts, eval_seed, train_seed
from .data import (
    SHAPES,
    Puzzle,
    augment,
    generate_rated,
    read_puzzles,
    shape_of,
    signature,
    singles_rounds,
    solve,
    units,
)

EVAL_STREAM = 49_979_687
TRAIN_STREAM = 86_028_121  # the fixed training set's own stream (not a step's)
REVEAL_STREAM = 15_485_863  # which cells a training step gives away (--reveal)
RATING_BINS = ((0, 0), (1, 9), (10, 10**9))  # no search / some / much
GENERATOR = 1  # in cached sets' names: a change to generation or rating must raise it
MAX_DRAWS = 50  # held-out generation gives up after this many draws per puzzle wanted
# 4×4 has two essentially different solution grids and a few dozen signatures: nothing can be
# held out, and its figures measure fit (the summary says so)
FIT_ONLY = (4,)
INPUTS = ("attention", "direct")
EXIT_AT = 0.8  # the certainty at which the meter's early-exit ticks stop thinking


@dataclass
class SudokuOptions:
    size: int = 9  # 4, 6 or 9
    train_puzzles: int = 1000  # the fixed training set (augmented at every draw)
    min_rating: int = 0  # generated puzzles need at least this many search nodes
    eval_size: int = 200  # held-out puzzles
    eval_min_rating: int = 0  # held-out puzzles' minimum rating (e.g. 10: an "extreme" split)
    augment: bool = True  # draw each training puzzle in other clothes (relabel, permute)
    data: str = ""  # puzzles to train on (one per line, or a CSV with a question column)
    eval_data: str = ""  # puzzles to evaluate on
    input: str = "attention"  # "attention" over the cell tokens, or "direct": the whole grid
    # flattened into the synapse input every tick
    reapply: int = 5  # `ctm eval`: applications of the model, each filling in its most certain
    # cells as givens for the next (1: one pass)
    reveal: float = 0.0  # training: give away up to this fraction of a puzzle's empty cells
    # (drawn anew each time), so the partly filled grids re-application makes are familiar

    def __post_init__(self) -> None:
        if self.size not in SHAPES:
            raise ValueError(f"size must be one of {sorted(SHAPES)}, got {self.size}")
        if self.input not in INPUTS:
            raise ValueError(f"input must be one of {', '.join(INPUTS)}, got {self.input!r}")
        for name in ("train_puzzles", "eval_size", "reapply"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.reveal < 1.0:
            raise ValueError(f"reveal must be in [0, 1), got {self.reveal}")
        for name in ("min_rating", "eval_min_rating"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("data", "eval_data"):
            path = getattr(self, name)
            if path and Path(path).is_dir():
                raise ValueError(f"{name} {path!r} is a folder; give a file of puzzles (one "
                                 f"per line, or a CSV with a 'question' column)")
            if path and not Path(path).is_file():
                raise ValueError(f"{name} file {path!r} does not exist")
        for rating, data in (("min_rating", "data"), ("eval_min_rating", "eval_data")):
            if getattr(self, rating) and getattr(self, data):
                raise ValueError(f"{rating} picks generated puzzles and does not filter the "
                                 f"puzzles of {data}: drop one of them")


@dataclass
class SudokuBatch(Batch):
    empty: torch.Tensor  # (B, n²) bool: the cells to fill
    ratings: list[int]  # search nodes per puzzle (-1 where unknown)
    # (B, n²): the round of singles that fills each cell (`singles_rounds`); evaluation only
    rounds: torch.Tensor | None = None


def round_bin(rounds: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
    """(…) rounds of singles -> (label, mask) for each bin, in order (givens in none)."""
    return [("1", rounds == 1), ("2", rounds == 2), ("3", rounds == 3), ("4", rounds == 4),
            ("5+", rounds >= 5), ("search", rounds == -1)]


def tokens(grids: np.ndarray) -> torch.Tensor:
    """(B, n, n) grids, 0 for empty -> (B, n², 4n + 1) tokens: digit (n + 1, empty first),
    row, column and box one-hot."""
    b, n, _ = grids.shape
    shape = shape_of(n)
    out = torch.zeros(b, n * n, 4 * n + 1)
    flat = torch.from_numpy(grids.reshape(b, n * n)).long()
    out.scatter_(2, flat.unsqueeze(-1), 1.0)
    cells = torch.arange(n * n)
    rows, cols = cells // n, cells % n
    boxes = torch.tensor([shape.box_of(int(r), int(c)) for r, c in zip(rows, cols, strict=True)])
    out[:, cells, n + 1 + rows] = 1.0
    out[:, cells, 2 * n + 1 + cols] = 1.0
    out[:, cells, 3 * n + 1 + boxes] = 1.0
    return out


def violations(grid: np.ndarray) -> int:
    """Repeated digits over every row, column and box of a full grid."""
    n = grid.shape[0]
    flat = grid.flatten()
    return sum(n - len({int(flat[c]) for c in unit}) for unit in units(shape_of(n))[0])


def rating_bin(rating: int) -> str:
    """The RATING_BINS label of a puzzle's rating ("unrated" for -1, unknown)."""
    for lo, hi in RATING_BINS:
        if lo <= rating <= hi:
            return f"{lo}" if lo == hi else f"{lo}+" if hi > 10**8 else f"{lo}-{hi}"
    return "unrated"


def exact_grids(picks: torch.Tensor, targets: torch.Tensor, empty: torch.Tensor
                ) -> torch.Tensor:
    """(..., n²) picked digits, solution and empty-cell mask -> (...) bool: every empty cell
    right (the givens count as right)."""
    return ((picks == targets) | ~empty).all(-1)


def exit_ticks(certainty: torch.Tensor) -> torch.Tensor:
    """(B, T) certainty -> (B,) the 1-based tick early exit at EXIT_AT stops at: the first
    that reaches it, else the last."""
    reached = certainty >= EXIT_AT
    return torch.where(reached.any(1), reached.int().argmax(1) + 1, certainty.shape[1])


class SudokuMeter:
    """Exact grids and cells right (empty cells only) at the most-certain tick and at every
    tick; constraint violations of the filled grid; exact grids by the puzzles' rating."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.count = 0
        self.exact = 0.0
        self.cells = 0.0
        self.violations = 0.0
        self.tick_sum = 0.0
        self.exact_per_tick: torch.Tensor | None = None
        self.cells_per_tick: torch.Tensor | None = None
        self.by_rating: dict[str, list[int]] = {}
        self.exit_by_rating: dict[str, list[int]] = {}
        # by round of singles: cells right at the most-certain tick, at each tick, and cells
        self.by_round: dict[str, list[Any]] = {}

    def update(self, output: CTMOutput, batch: Batch) -> None:
        assert isinstance(batch, SudokuBatch)
        n = self.size
        logits = output.logits.detach().float().cpu().view(*output.logits.shape[:2], n * n, n)
        picks = logits.argmax(-1)  # (B, T, n²)
        targets, empty = batch.targets.cpu(), batch.empty.cpu()
        cells = ((picks == targets.unsqueeze(1)) & empty.unsqueeze(1)).sum(-1).float() \
            / empty.sum(-1, keepdim=True).clamp(min=1)  # (B, T)
        exact = exact_grids(picks, targets.unsqueeze(1), empty.unsqueeze(1)).float()  # (B, T)
        certainty = output.certainty.detach().float().cpu()
        tick = certainty.argmax(1)
        exit_tick = exit_ticks(certainty)
        rows = torch.arange(len(tick))
        self.count += len(tick)
        self.exact += exact[rows, tick].sum().item()
        self.cells += cells[rows, tick].sum().item()
        self.tick_sum += (tick + 1).sum().item()
        given = batch.inputs.cpu()[..., : n + 1].argmax(-1)  # (B, n²) 0 = empty
        for k in range(len(tick)):
            filled = torch.where(empty[k], picks[k, tick[k]] + 1, given[k]).view(n, n).numpy()
            self.violations += violations(filled)
            label = rating_bin(batch.ratings[k])
            self.by_rating.setdefault(label, []).append(int(exact[k, tick[k]].item()))
            self.exit_by_rating.setdefault(label, []).append(int(exit_tick[k]))
        if batch.rounds is not None:
            right = picks == targets.unsqueeze(1)  # (B, T, n²)
            right_at_tick = right[rows, tick]  # (B, n²)
            for label, mask in round_bin(batch.rounds.cpu()):
                entry = self.by_round.setdefault(label, [0, torch.zeros(right.shape[1]), 0])
                entry[0] += int((right_at_tick & mask).sum())
                entry[1] += (right & mask.unsqueeze(1)).sum((0, 2)).float()
                entry[2] += int(mask.sum())
        if self.exact_per_tick is None:
            self.exact_per_tick, self.cells_per_tick = exact.sum(0), cells.sum(0)
        else:
            self.exact_per_tick += exact.sum(0)
            self.cells_per_tick += cells.sum(0)

    def result(self) -> dict[str, Any]:
        c = max(1, self.count)
        return {"grid_accuracy": self.exact / c, "cell_accuracy": self.cells / c,
                "violations_per_grid": self.violations / c,
                "mean_certain_tick": self.tick_sum / c,
                "grid_accuracy_per_tick": (self.exact_per_tick / c).tolist(),
                "cell_accuracy_per_tick": (self.cells_per_tick / c).tolist(),
                "grid_accuracy_by_rating": {k: float(np.mean(v))
                                            for k, v in sorted(self.by_rating.items())},
                "puzzles_by_rating": {k: len(v) for k, v in sorted(self.by_rating.items())},
                f"exit_tick_by_rating_at_{EXIT_AT}": {
                    k: float(np.mean(v)) for k, v in sorted(self.exit_by_rating.items())},
                **self._by_round()}

    def _by_round(self) -> dict[str, Any]:
        # filled in round_bin's order, so the bins come out in it
        present = [k for k, entry in self.by_round.items() if entry[2]]
        if not present:
            return {}
        return {"cell_accuracy_by_singles_round": {
                    k: self.by_round[k][0] / self.by_round[k][2] for k in present},
                "cells_by_singles_round": {k: self.by_round[k][2] for k in present},
                "cell_accuracy_by_singles_round_per_tick": {
                    k: (self.by_round[k][1] / self.by_round[k][2]).tolist() for k in present}}


class SudokuTask(Task):
    name = "sudoku"
    description = "Sudoku: attend over the cells, think, fill every empty cell"
    Options = SudokuOptions
    headline_metrics = ("grid_accuracy", "cell_accuracy")

    def __init__(self, options: SudokuOptions) -> None:
        super().__init__(options)
        self._train: list[Puzzle] | None = None
        self._eval: list[Puzzle] | None = None
        self._eval_rounds: list[np.ndarray] | None = None  # singles_rounds of each of _eval

    # --- data ----------------------------------------------------------------------------------

    def _generated(self, count: int, seed: int, min_rating: int, what: str,
                   avoid: set[tuple] | None = None) -> list[Puzzle]:
        """`count` generated puzzles from `seed`, cached on disk; `avoid`: signatures the
        puzzles must not have (the training set's, for held-out puzzles)."""
        from ... import files

        o = self.options
        name = f"sudoku-v{GENERATOR}-{o.size}-{what}-seed{seed}-n{count}-rating{min_rating}"
        if avoid is not None:
            digest = hashlib.sha256(repr(sorted(avoid)).encode()).hexdigest()[:12]
            name += f"-avoiding-{digest}"
        cache = files.cache_dir() / "sudoku" / f"{name}.npz"
        if cache.is_file():
            with np.load(cache) as saved:
                return [Puzzle(g, s, int(r)) for g, s, r in zip(
                    saved["grids"], saved["solutions"], saved["ratings"], strict=True)]
        rng = random.Random(seed)
        puzzles: list[Puzzle] = []
        draws = 0
        with Progress(count, f"generating {what} sudoku puzzles", "puzzle") as bar:
            while len(puzzles) < count:
                puzzle = generate_rated(o.size, rng, min_rating, "--min-rating" if what == "train"
                                        else "--eval-min-rating")
                draws += 1
                if avoid is None or signature(puzzle.grid) not in avoid:
                    puzzles.append(puzzle)
                    bar.update(1)
                elif draws > MAX_DRAWS * count:
                    raise ValueError(f"after {draws} puzzles drawn, only {len(puzzles)} differ "
                                     f"from every training puzzle: {o.size}×{o.size} has too "
                                     f"few; lower --train-puzzles or --eval-size")
        files.write_npz(cache, grids=np.stack([p.grid for p in puzzles]),
                        solutions=np.stack([p.solution for p in puzzles]),
                        ratings=np.array([p.rating for p in puzzles]))
        return puzzles

    def _read(self, path: str) -> list[Puzzle]:
        puzzles = []
        for read in read_puzzles(path, self.options.size):
            if not (read.grid == 0).any():
                raise ValueError(f"{read.where}: the puzzle has no empty cell")
            solution, rated = read.solution, read.rating
            if solution is None or rated is None:
                solved = solve(read.grid)
                if len(solved.solutions) != 1:
                    raise ValueError(f"{read.where}: the puzzle has "
                                     f"{len(solved.solutions) or 'no'}"
                                     f"{'+' if len(solved.solutions) > 1 else ''} solutions; "
                                     f"every puzzle needs exactly one")
                solution = solution if solution is not None else solved.solutions[0]
                rated = solved.nodes if rated is None else rated
            puzzles.append(Puzzle(read.grid, solution, int(rated)))
        return puzzles

    def training_set(self, seed: int) -> list[Puzzle]:
        if self._train is None:
            o = self.options
            self._train = (self._read(o.data) if o.data else self._generated(
                o.train_puzzles, seed * 1_000_003 + TRAIN_STREAM, o.min_rating, "train"))
        return self._train

    def held_out(self, seed: int) -> list[Puzzle]:
        """Held-out puzzles drawn from `seed`: none shares a signature with a puzzle of the
        model's training set (generated from `training_seed`, which `ctm eval --seed` does not
        change), except at 4×4, too small to hold any out: there the figures measure fit."""
        if self._eval is None:
            o = self.options
            trained = self.training_seed if self.training_seed is not None else seed
            seen = ({signature(p.grid) for p in self.training_set(trained)}
                    if o.size not in FIT_ONLY else set())
            if o.eval_data:
                read = self._read(o.eval_data)
                unseen = [p for p in read if signature(p.grid) not in seen]
                self._eval = unseen[: o.eval_size]
                dropped = len(read) - len(unseen)
                if dropped == len(read):
                    raise ValueError(f"every puzzle in {o.eval_data} may be a training puzzle "
                                     f"in other clothes (same signature as one in "
                                     f"{o.data or 'the generated training set'}): nothing is "
                                     f"left to evaluate on")
                if dropped:
                    print(f"ctm: warning: {dropped} of {len(read)} puzzles in {o.eval_data} "
                          f"may be training puzzles in other clothes (same signature): left "
                          f"out of evaluation", file=sys.stderr)
            else:
                self._eval = self._generated(o.eval_size, eval_seed(seed, EVAL_STREAM),
                                             o.eval_min_rating, "eval",
                                             avoid=seen if o.size not in FIT_ONLY else None)
        return self._eval

    def example_inputs(self, count: int, seed: int) -> torch.Tensor:
        """`count` puzzles from the held-out stream, without building the training set (an
        export only needs inputs of the right shape and kind)."""
        rng = random.Random(eval_seed(seed, EVAL_STREAM))
        puzzles = [generate_rated(self.options.size, rng, self.options.eval_min_rating,
                                  "--eval-min-rating")
                   for _ in range(count)]
        return self._batch(puzzles, None).inputs

    def _batch(self, puzzles: list[Puzzle], rng: random.Random | None,
               reveal_rng: random.Random | None = None) -> SudokuBatch:
        """Tokens and targets; with `rng` (training), augmented, and with `reveal_rng` cells
        given away as the options ask (a stream of its own, so a run with --reveal sees the
        same puzzles in the same clothes as one without)."""
        grids, solutions = [], []
        for p in puzzles:
            grid, solution = (augment(p.grid, p.solution, rng)
                              if rng is not None and self.options.augment
                              else (p.grid, p.solution))
            if reveal_rng is not None and self.options.reveal > 0:
                grid = grid.copy()  # never the stored puzzle's own array
                empty = np.flatnonzero(grid == 0)
                shown = reveal_rng.sample(list(empty), reveal_rng.randint(
                    0, min(len(empty) - 1, int(self.options.reveal * len(empty)))))
                grid.flat[shown] = solution.flat[shown]
            grids.append(grid)
            solutions.append(solution)
        grid_array = np.stack(grids)
        n = self.options.size
        return SudokuBatch(tokens(grid_array),
                           torch.from_numpy(np.stack(solutions).reshape(-1, n * n) - 1).long(),
                           torch.from_numpy(grid_array.reshape(-1, n * n) == 0),
                           [p.rating for p in puzzles])

    def train_batch(self, step: int, batch_size: int, seed: int) -> SudokuBatch:
        rng = random.Random(train_seed(seed, step))
        pool = self.training_set(seed)
        picked = [pool[rng.randrange(len(pool))] for _ in range(batch_size)]
        return self._batch(picked, rng, random.Random(train_seed(seed, step) + REVEAL_STREAM))

    def eval_batches(self, batch_size: int, seed: int) -> Iterator[SudokuBatch]:
        puzzles = self.held_out(seed)
        if self._eval_rounds is None:
            self._eval_rounds = [singles_rounds(p.grid, p.solution) for p in puzzles]
        first = 0
        for count in batch_counts(len(puzzles), batch_size):
            batch = self._batch(puzzles[first: first + count], None)
            batch.rounds = torch.from_numpy(
                np.stack(self._eval_rounds[first: first + count]).reshape(count, -1))
            yield batch
            first += count

    # --- model, loss, metrics ------------------------------------------------------------------

    def model_defaults(self) -> CTMConfig:
        return CTMConfig(d_model=256, d_input=64, heads=4, ticks=16, memory_length=8,
                         synapse_depth=1, deep_nlm=True, nlm_hidden=16,
                         pairing="random-pairing", n_sync_out=128, n_sync_action=64, n_self=0,
                         **self.model_requirements())

    def model_requirements(self) -> dict[str, Any]:
        n = self.options.size
        fixed: dict[str, Any] = {"out_dims": n * n * n, "out_shape": (n * n, n),
                                 "backbone": "none", "in_channels": 4 * n + 1,
                                 "input_mode": self.options.input}
        if self.options.input == "direct":  # every cell's token, flattened
            fixed["input_size"] = n * n * (4 * n + 1)
        return fixed

    @classmethod
    def options_for_model(cls, config: CTMConfig) -> dict[str, Any]:
        size = round((config.in_channels - 1) / 4)
        if size not in SHAPES:
            return {}
        return {"size": size, "input": "direct" if config.input_mode == "direct" else "attention"}

    def train_defaults(self) -> dict[str, Any]:
        return {"lr": 1e-3, "steps": 5000, "eval_every": 500}

    def loss(self, output: CTMOutput, batch: Batch, config: CTMConfig) -> TickLoss:
        assert isinstance(batch, SudokuBatch)
        logits = grouped_logits(output.logits, config.out_groups_shape)
        return two_tick_loss(per_tick_cross_entropy(logits, batch.targets, batch.empty),
                             output.certainty)

    def exact_answers(self, logits: torch.Tensor, batch: Batch, config: CTMConfig
                      ) -> torch.Tensor:
        """A grid is exact when every empty cell is right (as the meter counts it)."""
        assert isinstance(batch, SudokuBatch)
        n = self.options.size
        return exact_grids(logits.reshape(len(logits), n * n, n).argmax(-1), batch.targets,
                           batch.empty)

    def meter(self, config: CTMConfig) -> SudokuMeter:
        return SudokuMeter(self.options.size)

    def summary(self, metrics: dict[str, Any]) -> str:
        n = self.options.size
        held = ("training fit, not generalisation: 4×4 is too small to hold puzzles out"
                 if n in FIT_ONLY else "held-out puzzles: none is a training puzzle under any "
                 "augmentation")
        lines = [f"sudoku {n}×{n} ({held}): at the most-certain tick (mean tick "
                 f"{metrics['mean_certain_tick']:.1f}) {100 * metrics['grid_accuracy']:.2f}% "
                 f"of grids exact, {100 * metrics['cell_accuracy']:.2f}% of empty cells right, "
                 f"{metrics['violations_per_grid']:.2f} repeated digits per grid"]
        lines.append("exact grids by rating (search nodes): " + ", ".join(
            f"{k}: {100 * v:.1f}% of {metrics['puzzles_by_rating'][k]}"
            for k, v in metrics["grid_accuracy_by_rating"].items()))
        exits = metrics.get(f"exit_tick_by_rating_at_{EXIT_AT}", {})
        if exits:
            lines.append(f"early exit at certainty {EXIT_AT}, mean ticks by rating: " + ", ".join(
                f"{k}: {v:.1f}" for k, v in exits.items()))
        if "grid_accuracy_reapplied" in metrics:
            lines.append(f"up to {self.options.reapply} applications, each filling in its most "
                         f"certain cells: {100 * metrics['grid_accuracy_reapplied']:.2f}% of "
                         f"grids exact ({metrics['applications_used']:.2f} applications on "
                         f"average)")
        by_round = metrics.get("cell_accuracy_by_singles_round", {})
        if by_round:
            lines.append("empty cells right by the round of singles that fills them (round r: "
                         "r rounds of naked and hidden singles from the givens): " + ", ".join(
                             f"{k}: {100 * v:.1f}% of {metrics['cells_by_singles_round'][k]}"
                             for k, v in by_round.items()))
        lines += per_tick_table({"grids": metrics["grid_accuracy_per_tick"],
                                 "cells": metrics["cell_accuracy_per_tick"]})
        return "\n".join(lines)

    def _title(self, k: int, rating: int) -> str:
        """An evaluation puzzle's title: held out, unless the size is too small for that."""
        if self.options.size in FIT_ONLY:
            return (f"puzzle {k} (rating {rating}; 4×4 is too small to hold puzzles out: it may "
                    f"be a training puzzle)")
        return f"held-out puzzle {k} (rating {rating})"

    def viewer_examples(self, config: CTMConfig, count: int, seed: int) -> dict[str, Any]:
        """Held-out puzzles, editable in the page: it rebuilds the cell tokens from `grid` as
        `tokens` does (digit, row, column and box one-hot; `box` is the box's rows and
        columns)."""
        n = self.options.size
        shape = shape_of(n)
        return {"kind": "sudoku", "tokens": [n, n], "groups": [n * n, n],
                "class_names": [str(d) for d in range(1, n + 1)],
                "box": [shape.box_rows, shape.box_cols],
                "examples": [{"input": tokens(p.grid[None])[0].tolist(),
                              "label": (p.solution.reshape(-1) - 1).tolist(),
                              "title": self._title(k, p.rating),
                              "grid": p.grid.tolist(), "solution": p.solution.tolist()}
                             for k, p in enumerate(self.held_out(seed)[:count])]}

    def final_evaluation(self, model: torch.nn.Module, batch_size: int, seed: int,
                         device: torch.device | str) -> dict[str, Any]:
        """Exact grids when the model may think again on its own most certain answers."""
        puzzles = self.held_out(seed)
        exact, used = [], []
        starts = range(0, len(puzzles), batch_size)
        for first in reported(starts, "re-applying the model to held-out puzzles"):
            right, applications = solve_by_reapplication(
                model, puzzles[first: first + batch_size], self.options.reapply, device)
            exact.append(right)
            used.append(applications)
        return {"grid_accuracy_reapplied": float(np.concatenate(exact).mean()),
                "applications_used": float(np.concatenate(used).mean())}

    @torch.no_grad()
    def visualise(self, model: torch.nn.Module, out_dir: Path, count: int, seed: int
                  ) -> list[Path]:
        """Per puzzle: the grid as the model fills it at a few ticks (givens black, right
        digits green, wrong ones red), with each tick's certainty; over the held-out set, the
        tick early exit would stop at against the puzzle's rating."""
        from ...analysis.figures import pyplot
        from ...analysis.thinking import stopping_ticks_by_difficulty

        batch = next(iter(self.eval_batches(count, seed)))
        out = model(batch.inputs)
        n = self.options.size
        picks = out.logits.view(*out.logits.shape[:2], n * n, n).argmax(-1) + 1  # (B, T, n²)
        ticks = sorted({1, (out.logits.shape[1] + 1) // 2, out.logits.shape[1]})
        plt = pyplot()
        written = []
        for k in range(min(count, len(batch.ratings))):
            figure, axes = plt.subplots(1, len(ticks), figsize=(3.2 * len(ticks), 3.4), dpi=110)
            given = batch.inputs[k, :, : n + 1].argmax(-1)
            for axis, tick in zip(np.atleast_1d(axes), ticks, strict=True):
                axis.set_xlim(0, n)
                axis.set_ylim(n, 0)
                axis.set_xticks([])
                axis.set_yticks([])
                shape = shape_of(n)
                for line in range(n + 1):
                    width = 2 if line % shape.box_cols == 0 else 0.5
                    axis.axvline(line, color="black", linewidth=width)
                    width = 2 if line % shape.box_rows == 0 else 0.5
                    axis.axhline(line, color="black", linewidth=width)
                for cell in range(n * n):
                    r, c = divmod(cell, n)
                    if given[cell]:
                        digit, colour = int(given[cell]), "black"
                    else:
                        digit = int(picks[k, tick - 1, cell])
                        colour = "green" if digit == int(batch.targets[k, cell]) + 1 else "red"
                    axis.text(c + 0.5, r + 0.55, str(digit), ha="center", va="center",
                              color=colour, fontsize=12 if n == 9 else 16)
                axis.set_title(f"tick {tick}: certainty {float(out.certainty[k, tick - 1]):.2f}",
                               fontsize=9)
            figure.suptitle(self._title(k, batch.ratings[k]), fontsize=10)
            path = out_dir / f"sudoku_{k}_thinking.png"
            figure.savefig(path, bbox_inches="tight")
            plt.close(figure)
            written.append(path)
        ticks, ratings = [], []
        for held in self.eval_batches(256, seed):
            ticks.append(exit_ticks(model(held.inputs).certainty).numpy())
            ratings += held.ratings
        written.append(stopping_ticks_by_difficulty(
            np.concatenate(ticks), np.array(ratings), EXIT_AT,
            out_dir / "stopping_ticks_by_rating.png",
            label="rating: search nodes our solver needs"))
        return written


@torch.no_grad()
def solve_by_reapplication(model: torch.nn.Module, puzzles: list[Puzzle], applications: int,
                           device: torch.device | str) -> tuple[np.ndarray, np.ndarray]:
    """Fill the puzzles in up to `applications` passes. Each pass reads the answer at the
    most-certain tick and writes in the empty cells the model is surest of (by the probability
    of its digit) as givens for the next pass: ceil(empty / passes left) of them, so the last
    pass fills whatever is left. One application is the plain one-pass answer. Returns, per
    puzzle, whether the filled grid is the solution, and the passes it took."""
    grids = np.stack([p.grid for p in puzzles]).copy()  # (B, n, n)
    b, n, _ = grids.shape
    flat = grids.reshape(b, n * n)  # a view: writes fill `grids`
    used = np.zeros(b, dtype=np.int64)
    for done in range(applications):
        todo = np.flatnonzero((flat == 0).any(1))
        if len(todo) == 0:
            break
        out = model(tokens(grids[todo]).to(device))
        tick = out.certainty.argmax(1)
        probs = out.logits[torch.arange(len(todo)), tick].float().view(len(todo), n * n, n)
        sure, digit = probs.softmax(-1).max(-1)
        sure, digit = sure.cpu().numpy(), digit.cpu().numpy() + 1
        for row, k in enumerate(todo):
            empty = np.flatnonzero(flat[k] == 0)
            fill = -(-len(empty) // (applications - done))
            chosen = empty[np.argsort(-sure[row, empty], kind="stable")[:fill]]
            flat[k, chosen] = digit[row, chosen]
        used[todo] += 1
    solutions = np.stack([p.solution for p in puzzles])
    return (grids == solutions).all(axis=(1, 2)), used
