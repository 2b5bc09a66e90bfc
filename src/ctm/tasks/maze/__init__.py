"""Mazes: see the whole maze image at every tick, emit the route from start to goal as moves.

Data are generated from the seed, or read from a folder of images in the original data sets'
format (`--data DIR`). The loss counts route steps only up to the best correct prefix + 5 (the
auto-curriculum); a maze is solved when following the predicted moves reaches the goal without
entering a wall.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...losses import (
    TickLoss,
    curriculum_mask,
    grouped_logits,
    per_tick_cross_entropy,
    two_tick_loss,
)
from ...metrics import GroupedAccuracy, per_tick_table
from ...model import CTMConfig, CTMOutput
from ...progress import reported
from ..base import Batch, Task, eval_seed, train_seed
from ..maze_world import WAIT, Maze, generate_maze, is_held_out, shortest_route, step
from .data import follow, parse_image, read_image, render, route_targets, transform

IMAGE_SUFFIXES = (".png", ".bmp", ".gif", ".jpg", ".jpeg")
RECORDED_MAZES = 4  # held-out mazes whose per-tick routes a run keeps at each evaluation
MOVE_NAMES = ("U", "D", "L", "R", "W")  # up, down, left, right, wait: data.py's move order
EVAL_STREAM = 104_729


@dataclass
class MazeOptions:
    size: int = 15  # image side in pixels (2·cells + 1), for generated mazes
    route_length: int = 50  # R: moves predicted, the route padded with Wait
    loop_fraction: float = 0.0  # generated mazes: share of extra walls removed (0: perfect)
    augment: bool = True  # random rotations and flips of training mazes
    lookahead: int = 5  # curriculum: steps counted beyond the best correct prefix
    eval_size: int = 1000  # held-out mazes per evaluation
    data: str = ""  # folder of original-format maze images to train on ("" = generate)
    eval_data: str = ""  # folder to evaluate on ("" = generate held-out mazes)
    larger_sizes: tuple[int, ...] = (19, 31)  # `ctm eval`: generated mazes beyond training size
    reapply: int = 20  # re-applications of the model allowed on mazes larger than its route

    def __post_init__(self) -> None:
        if self.size < 5 or self.size % 2 == 0:
            raise ValueError(f"size must be odd and >= 5 (2·cells + 1 pixels), got {self.size}")
        for name in ("route_length", "eval_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.lookahead < 0:
            raise ValueError(f"lookahead must be >= 0, got {self.lookahead}")
        self.larger_sizes = tuple(int(v) for v in self.larger_sizes)
        if any(v < 5 or v % 2 == 0 for v in self.larger_sizes):
            raise ValueError(f"larger_sizes must be odd and >= 5, got {self.larger_sizes}")
        if self.reapply < 1:
            raise ValueError(f"reapply must be >= 1, got {self.reapply}")
        for name in ("data", "eval_data"):
            folder = getattr(self, name)
            if folder and not Path(folder).is_dir():
                raise ValueError(f"{name} folder {folder!r} does not exist")


@dataclass
class MazeBatch(Batch):
    mazes: list[Maze]
    route_lengths: list[int]  # moves in each target route before Wait padding or truncation


def image_tensor(image: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 with any blue path painted white -> (3, H, W) float in [-1, 1]."""
    image = image.copy()
    image[np.all(image == (0, 0, 255), axis=-1)] = (255, 255, 255)
    return torch.from_numpy(image).permute(2, 0, 1).float() / 127.5 - 1


def load_folder(folder: str | Path) -> list[tuple[Maze, list[int]]]:
    """Every maze image in `folder` (recursively), with its route: the blue path when painted,
    else a shortest route found by search. A file that is not a readable maze image is skipped
    with a warning naming it (so one stray file does not void a data set); a folder with no
    maze at all is an error."""
    paths = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise ValueError(f"no maze images ({', '.join(IMAGE_SUFFIXES)}) under {folder}")
    loaded, skipped = [], []
    for path in paths:
        try:
            maze, route = parse_image(read_image(path))
            loaded.append((maze, route if route is not None else shortest_route(maze)))
        except (OSError, ValueError, SyntaxError) as error:  # unreadable, or not a maze
            skipped.append(path)
            print(f"ctm: warning: skipped {path}: {str(error).splitlines()[0][:100]}",
                  file=sys.stderr)
    if skipped:
        print(f"ctm: warning: skipped {len(skipped)} of {len(paths)} files under {folder}",
              file=sys.stderr)
    if not loaded:
        raise ValueError(f"none of the {len(paths)} image files under {folder} is a readable "
                         f"maze (see the warnings above)")
    sizes = {maze.shape for maze, _ in loaded}
    if len(sizes) > 1:
        raise ValueError(f"mazes under {folder} differ in size ({sorted(sizes)}); "
                         f"a batch needs one size")
    return loaded


class MazeTask(Task):
    name = "maze"
    description = "solve mazes: emit the route from red start to green goal, move by move"
    Options = MazeOptions
    headline_metrics = ("solve_rate", "per_step_accuracy")

    def __init__(self, options: MazeOptions) -> None:
        super().__init__(options)
        self._train_set: list[tuple[Maze, list[int]]] | None = None

    def model_defaults(self) -> CTMConfig:
        r = self.options.route_length
        return CTMConfig(d_model=256, d_input=64, heads=4, ticks=30, memory_length=15,
                         synapse_depth=2, deep_nlm=True, nlm_hidden=16,
                         pairing="random-pairing", n_sync_out=128, n_sync_action=64, n_self=8,
                         out_dims=5 * r, out_shape=(r, 5), backbone="resnet18-1")

    def model_requirements(self) -> dict[str, Any]:
        r = self.options.route_length
        return {"out_dims": 5 * r, "out_shape": (r, 5), "in_channels": 3}

    @classmethod
    def options_for_model(cls, config: CTMConfig) -> dict[str, Any]:
        return {"route_length": config.out_groups_shape[0]}

    # --- data ----------------------------------------------------------------------------------

    def _batch(self, examples: list[tuple[Maze, list[int]]], rng: random.Random,
               augment: bool) -> MazeBatch:
        images, targets, mazes, lengths = [], [], [], []
        for maze, route in examples:
            image = render(maze)
            moves = route_targets(route, self.options.route_length)
            if augment:
                image, moves = transform(image, moves, rng.randrange(4), rng.random() < 0.5)
                maze, _ = parse_image(image)
            images.append(image_tensor(image))
            targets.append(torch.from_numpy(moves))
            mazes.append(maze)
            lengths.append(len(route))
        return MazeBatch(torch.stack(images), torch.stack(targets), mazes, lengths)

    def _generated(self, count: int, rng: random.Random, size: int | None = None,
                   held_out: bool | None = None) -> list[tuple[Maze, list[int]]]:
        """`count` generated mazes with their shortest routes: any (held_out None), or only
        those on one side of the held-out partition (redrawing the others)."""
        cells = ((size or self.options.size) - 1) // 2
        mazes = []
        while len(mazes) < count:
            maze = generate_maze(cells, rng, self.options.loop_fraction)
            if held_out is None or is_held_out(maze) == held_out:
                mazes.append(maze)
        return [(m, shortest_route(m)) for m in mazes]

    def train_batch(self, step: int, batch_size: int, seed: int) -> MazeBatch:
        rng = random.Random(train_seed(seed, step))
        if self.options.data:
            if self._train_set is None:
                self._train_set = load_folder(self.options.data)
            examples = [self._train_set[rng.randrange(len(self._train_set))]
                        for _ in range(batch_size)]
        else:
            examples = self._generated(batch_size, rng, held_out=False)
        return self._batch(examples, rng, self.options.augment)

    def eval_batches(self, batch_size: int, seed: int) -> Iterator[MazeBatch]:
        rng = random.Random(eval_seed(seed, EVAL_STREAM))
        if self.options.eval_data:
            examples = load_folder(self.options.eval_data)[: self.options.eval_size]
        else:
            examples = self._generated(self.options.eval_size, rng, held_out=True)
        for first in range(0, len(examples), batch_size):
            yield self._batch(examples[first: first + batch_size], rng, augment=False)

    # --- loss and metrics ------------------------------------------------------------------------

    def loss(self, output: CTMOutput, batch: Batch, config: CTMConfig) -> TickLoss:
        logits = grouped_logits(output.logits, config.out_groups_shape)
        mask = curriculum_mask(logits, batch.targets, self.options.lookahead)
        return two_tick_loss(per_tick_cross_entropy(logits, batch.targets, mask),
                             output.certainty)

    def meter(self, config: CTMConfig) -> MazeMeter:
        return MazeMeter(config, self.options.route_length)

    def final_evaluation(self, model: torch.nn.Module, batch_size: int, seed: int,
                         device: torch.device | str) -> dict[str, Any]:
        """Solve rate with re-application on held-out mazes of the training size and larger."""
        results = {}
        for size in (self.options.size, *self.options.larger_sizes):
            rng = random.Random(eval_seed(seed, EVAL_STREAM + size))
            # training sees only its own size, and none of that size's held-out half
            held_out = True if size == self.options.size else None
            mazes = [m for m, _ in self._generated(self.options.eval_size, rng, size, held_out)]
            starts = range(0, len(mazes), batch_size)
            solved = sum(solve_by_reapplication(model, mazes[i: i + batch_size],
                                                self.options.reapply, device)
                         for i in reported(starts, f"re-applying the model to {size}×{size} "
                                                   f"mazes"))
            results[f"solve_rate_reapplied_{size}"] = solved / len(mazes)
        return results

    def viewer_examples(self, config: CTMConfig, count: int, seed: int) -> dict[str, Any]:
        """Held-out generated mazes (the first of `evaluate`'s), editable in the page: the
        page rebuilds the image from `maze` (open cells, start, goal) as `image_tensor` does."""
        from ...analysis.figures import token_grid

        rng = random.Random(eval_seed(seed, EVAL_STREAM))
        examples = self._generated(count, rng, held_out=True)
        size = self.options.size
        return {"kind": "maze", "tokens": list(token_grid(config.backbone, size, size)),
                "groups": [self.options.route_length, len(MOVE_NAMES)],
                "class_names": list(MOVE_NAMES),
                "examples": [{"input": image_tensor(render(maze)).tolist(),
                              "label": route_targets(route, self.options.route_length).tolist(),
                              "title": f"held-out maze {k} (route of {len(route)} moves)",
                              "maze": {"open": maze.open.tolist(), "start": list(maze.start),
                                       "goal": list(maze.goal)}}
                             for k, (maze, route) in enumerate(examples)]}

    @torch.no_grad()
    def viewer_solved(self, model: torch.nn.Module, examples: list[dict[str, Any]]
                      ) -> list[bool]:
        """Whether the route of each example's most certain tick reaches its goal."""
        mazes = [Maze(np.array(e["maze"]["open"], dtype=bool), tuple(e["maze"]["start"]),
                      tuple(e["maze"]["goal"])) for e in examples]
        device = next(model.parameters()).device
        out = model(torch.stack([image_tensor(render(m)) for m in mazes]).to(device))
        moves = grouped_logits(out.logits, model.config.out_groups_shape).argmax(-1)
        chosen = moves[torch.arange(len(mazes)), out.certainty.argmax(1)].cpu().numpy()
        return [follow(maze, route)[0] for maze, route in zip(mazes, chosen, strict=True)]

    def visualise(self, model: torch.nn.Module, out_dir: Path, count: int, seed: int
                  ) -> list[Path]:
        from .viz import LEAPFROG_MAZES, attention_along_route, visualise_mazes

        batch = next(iter(self.eval_batches(count, seed)))
        assert isinstance(batch, MazeBatch)
        written = visualise_mazes(model, batch.mazes, batch.inputs, batch.targets, out_dir)
        many = next(iter(self.eval_batches(LEAPFROG_MAZES, seed)))
        assert isinstance(many, MazeBatch)
        routes = [row[:length].tolist() for row, length in zip(many.targets, many.route_lengths,
                                                               strict=True)]
        return written + attention_along_route(model, many.mazes, many.inputs, many.targets,
                                               routes, out_dir)

    @torch.no_grad()
    def training_record(self, model: torch.nn.Module, seed: int, device: torch.device | str
                        ) -> dict[str, Any]:
        """The moves predicted at every tick for the first RECORDED_MAZES held-out mazes."""
        batch = next(iter(self.eval_batches(RECORDED_MAZES, seed)))
        out = model(batch.inputs.to(device))
        moves = grouped_logits(out.logits, model.config.out_groups_shape).argmax(-1)
        return {"routes": moves.cpu().tolist(),  # (mazes, ticks, route_length)
                "most_certain_tick": out.certainty.argmax(1).cpu().tolist()}

    def visualise_training(self, records: list[dict[str, Any]], metrics: list[dict[str, Any]],
                           out_dir: Path, seed: int) -> list[Path]:
        from .viz import training_pictures

        batch = next(iter(self.eval_batches(RECORDED_MAZES, seed)))
        assert isinstance(batch, MazeBatch)
        return training_pictures(batch.mazes, records, metrics, out_dir)

    def summary(self, metrics: dict[str, Any]) -> str:
        lines = [
            f"maze: at the most-certain tick (mean tick {metrics['mean_certain_tick']:.1f}) "
            f"solved {100 * metrics['solve_rate']:.2f}%, route steps right "
            f"{100 * metrics['per_step_accuracy']:.2f}% "
            f"({100 * metrics['per_step_accuracy_with_padding']:.2f}% counting the Wait "
            f"padding), per-step ECE {100 * metrics['ece']:.2f}%",
        ]
        lines += per_tick_table({"per-step": metrics["per_step_accuracy_per_tick"],
                                 "solved": metrics["solve_rate_per_tick"]})
        if "backtrack_rate" in metrics:
            lines.append(f"over the ticks, the route took a wrong branch in "
                         f"{100 * metrics['wrong_branch_rate']:.1f}% of mazes and came back "
                         f"from one (a wrong step revised later) in "
                         f"{100 * metrics['backtrack_rate']:.1f}%")
        if "solve_rate_by_route_length" in metrics:
            counts = metrics["mazes_by_route_length"]
            lines.append("solved by shortest-route length (moves): " + ", ".join(
                f"{span} {100 * rate:.0f}% of {counts[span]}"
                for span, rate in metrics["solve_rate_by_route_length"].items()))
        for key, value in metrics.items():
            if key.startswith("solve_rate_reapplied_"):
                size = key.rsplit("_", 1)[1]
                lines.append(f"{size}×{size} mazes, up to {self.options.reapply} re-applications:"
                             f" solved {100 * value:.1f}%")
        return "\n".join(lines)


class MazeMeter:
    """Solve rate (following the predicted moves reaches the goal without entering a wall),
    route steps right (the route's own steps, and counting the Wait padding), whole routes
    exact, ECE, at the most-certain tick and at every tick, and solve rate by route length."""

    def __init__(self, config: CTMConfig, route_length: int) -> None:
        self.groups_shape, self.route_length = config.out_groups_shape, route_length
        self.steps = GroupedAccuracy()
        self.solved_at_certain, self.solved_per_tick = 0, None
        self.real_right, self.real_right_per_tick, self.real_count = 0.0, None, 0
        self.route_lengths: list[int] = []
        self.solved_flags: list[bool] = []
        self.wrong_branches, self.backtracks = 0, 0

    def update(self, output: CTMOutput, batch: Batch) -> None:
        assert isinstance(batch, MazeBatch)
        logits = grouped_logits(output.logits, self.groups_shape).cpu()
        certainty = output.certainty.cpu()
        targets = batch.targets.cpu()
        self.steps.update(logits, targets, certainty)
        # the route's own steps, without the Wait padding after it
        lengths = torch.tensor(batch.route_lengths).clamp(max=logits.shape[2])
        real = torch.arange(logits.shape[2]) < lengths.unsqueeze(1)  # (B, R)
        right = (logits.argmax(-1) == targets.unsqueeze(1)) & real.unsqueeze(1)
        certain = certainty.argmax(1)
        self.real_right += right[torch.arange(len(certain)), certain].sum().item()
        by_tick = right.sum((0, 2)).double()
        self.real_right_per_tick = (by_tick if self.real_right_per_tick is None
                                    else self.real_right_per_tick + by_tick)
        self.real_count += int(real.sum())
        moves = logits.argmax(-1).numpy()  # (B, T, R)
        solves = np.array([[follow(maze, route)[0] for route in moves[i]]
                           for i, maze in enumerate(batch.mazes)])  # (B, T)
        ticks = certain.numpy()
        solved_here = solves[np.arange(len(ticks)), ticks]
        self.solved_at_certain += int(solved_here.sum())
        self.solved_flags += solved_here.tolist()
        self.route_lengths += batch.route_lengths
        branch, back = route_revisions(batch.mazes, moves, targets.numpy(), batch.route_lengths)
        self.wrong_branches += int(branch.sum())
        self.backtracks += int(back.sum())
        solved_by_tick = solves.sum(0)
        self.solved_per_tick = (solved_by_tick if self.solved_per_tick is None
                                else self.solved_per_tick + solved_by_tick)

    def result(self) -> dict[str, Any]:
        result = self.steps.result("per_step", "route")
        count = self.steps.count
        return {
            "per_step_accuracy": self.real_right / max(1, self.real_count),
            "per_step_accuracy_with_padding": result["per_step_accuracy"],
            "solve_rate": self.solved_at_certain / count,
            "route_exact": result["route_accuracy"],
            "ece": result["ece"],
            "mean_certain_tick": result["mean_certain_tick"],
            "per_step_accuracy_per_tick": (self.real_right_per_tick
                                           / max(1, self.real_count)).tolist(),
            "per_step_accuracy_with_padding_per_tick": result["per_step_accuracy_per_tick"],
            "solve_rate_per_tick": (self.solved_per_tick / count).tolist(),
            "wrong_branch_rate": self.wrong_branches / count,
            "backtrack_rate": self.backtracks / count,
            **by_route_length(self.route_lengths, self.solved_flags, self.route_length),
        }


def route_revisions(mazes: list[Maze], moves: np.ndarray, targets: np.ndarray,
                    route_lengths: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Whether each maze's predicted route goes down a wrong branch at some tick, and whether
    it then comes back: at tick t the route leaves the shortest route through an open pixel
    (a branch taken, not a bump into a wall nor a Wait short of the goal), and at a later
    tick the move it got wrong is right (the step revised). moves (B, T, R) are the predicted
    moves per tick, targets (B, R) the shortest routes. Returns two (B,) bool arrays: a wrong
    branch taken, and one later revised."""
    b, t, r = moves.shape
    lengths = np.minimum(np.asarray(route_lengths), r)
    same = moves == targets[:, None, :]  # (B, T, R)
    right = np.cumprod(same, axis=2).sum(2)  # (B, T): moves right before the first wrong one
    right = np.minimum(right, lengths[:, None])
    branch = np.zeros((b, t), dtype=bool)
    for i, maze in enumerate(mazes):
        along = [maze.start]  # positions along the shortest route
        for move in targets[i, : lengths[i]]:
            along.append(step(along[-1], int(move)))
        for tick in range(t):
            k = right[i, tick]
            move = int(moves[i, tick, k]) if k < lengths[i] else WAIT
            branch[i, tick] = move != WAIT and maze.is_open(step(along[k], move))
    # the most moves right at any later tick
    later = np.full((b, t), -1)
    later[:, :-1] = np.maximum.accumulate(right[:, ::-1], axis=1)[:, ::-1][:, 1:]
    return branch.any(1), (branch & (later > right)).any(1)


def by_route_length(lengths: list[int], solved: list[bool], route_length: int,
                    width: int = 10) -> dict[str, dict[str, Any]]:
    """Solve rate per span of target-route lengths ("1-10", "11-20", ..., ">R"; for generated
    mazes the shortest route): how far the model can trace a route, which the overall solve
    rate hides. Routes longer than the R moves the model emits cannot be solved in one pass;
    they get their own span."""
    edges = list(range(0, route_length, width)) + [route_length]
    spans = [(lo + 1, hi) for lo, hi in zip(edges, edges[1:], strict=False)]
    names = [f"{lo}-{hi}" for lo, hi in spans] + [f">{route_length}"]
    totals, wins = dict.fromkeys(names, 0), dict.fromkeys(names, 0)
    for length, ok in zip(lengths, solved, strict=True):
        name = next((n for n, (_, hi) in zip(names, spans, strict=False) if length <= hi),
                    names[-1])
        totals[name] += 1
        wins[name] += int(ok)
    present = [n for n in names if totals[n]]
    return {"solve_rate_by_route_length": {n: wins[n] / totals[n] for n in present},
            "mazes_by_route_length": {n: totals[n] for n in present}}


@torch.no_grad()
def solve_by_reapplication(model: torch.nn.Module, mazes: list[Maze], applications: int,
                           device: torch.device | str) -> int:
    """How many of `mazes` the model solves when it may be applied repeatedly: after each
    application the start moves to the furthest position its moves reach without entering a
    wall (the paper's method for mazes larger than the route it predicts). A maze counts as
    solved once a walk reaches the goal."""
    current = list(mazes)
    solved = [False] * len(mazes)
    for _ in range(applications):
        active = [i for i, done in enumerate(solved) if not done]
        if not active:
            break
        images = torch.stack([image_tensor(render(current[i])) for i in active]).to(device)
        out = model(images)
        moves = grouped_logits(out.logits, model.config.out_groups_shape).argmax(-1)
        chosen = moves[torch.arange(len(active)), out.certainty.argmax(1)].cpu().numpy()
        progressed = False
        for row, i in enumerate(active):
            done, at, _ = follow(current[i], chosen[row])
            solved[i] = done
            if at != current[i].start:
                current[i] = Maze(current[i].open, at, current[i].goal)
                progressed = True
        if not progressed:
            break
    return sum(solved)
