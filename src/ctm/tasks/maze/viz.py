"""Pictures of a maze CTM thinking: attention walking the maze, tick by tick."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...analysis.figures import figure_to_array, pyplot, save_figure, save_gif, token_grid
from ...losses import grouped_logits
from ..maze_world import Maze, step
from .data import follow, render

ACTION_NAMES = ("up", "down", "left", "right", "wait")


def walked_path(maze: Maze, moves: np.ndarray) -> list[tuple[int, int]]:
    """Positions visited following `moves` from the start, stopping at a wall or the goal."""
    path = [maze.start]
    for move in moves:
        if path[-1] == maze.goal:
            break
        there = step(path[-1], int(move))
        if not maze.is_open(there):
            break
        if there != path[-1]:
            path.append(there)
    return path


def _draw_maze(axis, maze: Maze, moves: np.ndarray, title: str) -> None:  # noqa: ANN001
    axis.imshow(render(maze), interpolation="nearest")
    path = np.array(walked_path(maze, moves))
    axis.plot(path[:, 1], path[:, 0], color="tab:blue", linewidth=2.5, alpha=0.8)
    axis.set_title(title, fontsize=9)
    axis.axis("off")


def _draw_attention(axis, maze: Maze, weights: np.ndarray, title: str) -> None:  # noqa: ANN001
    h, w = maze.shape
    axis.imshow(render(maze).mean(-1), cmap="gray", interpolation="nearest", alpha=0.5)
    axis.imshow(weights, cmap="magma", alpha=0.6, interpolation="bilinear",
                extent=(-0.5, w - 0.5, h - 0.5, -0.5))
    axis.set_title(title, fontsize=9)
    axis.axis("off")


@torch.no_grad()
def visualise_mazes(model: torch.nn.Module, mazes: list[Maze], images: torch.Tensor,
                    targets: torch.Tensor, out_dir: Path) -> list[Path]:
    """For every maze: `maze_K_thinking.gif` (per tick: the route predicted so far and each
    head's attention) and `maze_K_summary.png` (route at the most-certain tick, attention
    averaged over ticks, certainty and per-step accuracy over ticks)."""
    plt = pyplot()
    config = model.config
    out = model(images, trace=True)
    moves = grouped_logits(out.logits, config.out_groups_shape).argmax(-1).cpu().numpy()
    certainty = out.certainty.cpu().numpy()
    rows, cols = token_grid(config.backbone, *images.shape[-2:])
    attention = out.attention.cpu().numpy().reshape(*out.attention.shape[:3], rows, cols)
    correct = (moves == targets.numpy()[:, None, :]).mean(-1)  # (B, T)
    written = []
    for i, maze in enumerate(mazes):
        ticks, heads = attention.shape[1], attention.shape[2]
        frames = []
        for t in range(ticks):
            figure, axes = plt.subplots(1, heads + 1, figsize=(2.2 * (heads + 1), 2.6), dpi=90)
            _draw_maze(axes[0], maze, moves[i, t],
                       f"tick {t + 1}/{ticks}  certainty {certainty[i, t]:.2f}")
            for head in range(heads):
                _draw_attention(axes[head + 1], maze, attention[i, t, head], f"head {head + 1}")
            figure.tight_layout()
            frames.append(figure_to_array(figure))
        written.append(save_gif(frames, out_dir / f"maze_{i}_thinking.gif"))

        best = int(certainty[i].argmax())
        figure, axes = plt.subplots(1, 3, figsize=(10, 3.2), dpi=110)
        _draw_maze(axes[0], maze, moves[i, best], f"route at most-certain tick {best + 1}")
        _draw_attention(axes[1], maze, attention[i].mean((0, 1)), "attention, all ticks")
        axes[2].plot(range(1, ticks + 1), certainty[i], label="certainty")
        axes[2].plot(range(1, ticks + 1), correct[i], label="steps correct")
        axes[2].set(xlabel="tick", ylim=(-0.02, 1.02))
        axes[2].legend(fontsize=8)
        axes[2].grid(alpha=0.3)
        written.append(save_figure(figure, out_dir / f"maze_{i}_summary.png"))
    return written


def training_pictures(mazes: list[Maze], records: list[dict[str, Any]],
                      metrics: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    """How the routes formed along training: for each recorded maze `training_maze_K.png`
    (rows: evaluations along training, columns: ticks; each cell the route predicted at that
    tick, walked until it reaches the goal or a wall, green once it reaches the goal), and
    `training_backtracks.png`, the share of held-out mazes whose route took a wrong branch at
    some tick and the share that came back from one, against the training step."""
    plt = pyplot()
    by_step = {r["step"]: r for r in records}  # a resumed run may repeat a step: keep the last
    steps = sorted(by_step)
    shown = [steps[round(k)] for k in np.linspace(0, len(steps) - 1, min(6, len(steps)))]
    ticks = len(by_step[steps[0]]["routes"][0])
    columns = sorted({round(t) for t in np.linspace(0, ticks - 1, min(8, ticks))})
    written = []
    for i, maze in enumerate(mazes):
        figure, axes = plt.subplots(len(shown), len(columns), squeeze=False, dpi=80,
                                    figsize=(1.5 * len(columns), 1.6 * len(shown)))
        for row, step_ in enumerate(shown):
            routes = by_step[step_]["routes"][i]
            for col, t in enumerate(columns):
                solved, _, _ = follow(maze, routes[t])
                axis = axes[row, col]
                _draw_maze(axis, maze, np.array(routes[t]), f"tick {t + 1}" if row == 0 else "")
                axis.lines[-1].set_color("tab:green" if solved else "tab:blue")
                if col == 0:
                    axis.text(-1, maze.shape[0] / 2, f"step {step_}", rotation=90, fontsize=7,
                              ha="right", va="center")
        figure.suptitle(f"held-out maze {i}: the route at each tick, along training",
                        fontsize=9)
        figure.tight_layout()
        written.append(save_figure(figure, out_dir / f"training_maze_{i}.png"))
    rows = [m for m in metrics if "backtrack_rate" in m]
    if rows:
        figure, axis = plt.subplots(figsize=(5.5, 3.2), dpi=110)
        x = [m["step"] for m in rows]
        axis.plot(x, [m["wrong_branch_rate"] for m in rows], label="took a wrong branch")
        axis.plot(x, [m["backtrack_rate"] for m in rows], label="came back from one")
        axis.plot(x, [m["solve_rate"] for m in rows], label="solved (most certain tick)",
                  linestyle="--")
        axis.set(xlabel="training step", ylabel="share of held-out mazes", ylim=(-0.02, 1.02))
        axis.legend(fontsize=8)
        axis.grid(alpha=0.3)
        written.append(save_figure(figure, out_dir / "training_backtracks.png"))
    return written


LEAPFROG_MAZES = 64  # held-out mazes the attention-along-the-route figures are measured on


def attended_route_index(attention: np.ndarray, route: list[tuple[int, int]],
                         shape: tuple[int, int]) -> np.ndarray:
    """Where along the route each tick's attention looks: attention (T, rows, cols) over the
    token grid (heads averaged), route the positions walked from the start (index 0) to the
    goal. A tick's answer is the mean index of the route positions inside its most attended
    token; a token the route does not cross gives the route position nearest its centre."""
    t, rows, cols = attention.shape
    h, w = shape
    tokens = [(y * rows // h, x * cols // w) for y, x in route]
    attended = np.zeros(t)
    for tick in range(t):
        peak = np.unravel_index(int(attention[tick].argmax()), (rows, cols))
        inside = [k for k, token in enumerate(tokens) if token == peak]
        if inside:
            attended[tick] = float(np.mean(inside))
        else:
            centre = ((peak[0] + 0.5) * h / rows, (peak[1] + 0.5) * w / cols)
            attended[tick] = float(np.argmin([(y - centre[0]) ** 2 + (x - centre[1]) ** 2
                                              for y, x in route]))
    return attended


def leapfrog_measures(attended: np.ndarray, right: np.ndarray) -> dict[str, float]:
    """attended (B, T) route index under attention, right (B, T) route moves right so far
    (the correct prefix at each tick). `ahead`: the share of ticks whose attention looks more
    than one step beyond the correct prefix; `fill_in`: the share of ticks (after the first)
    whose attention comes back more than one step behind the furthest point it had reached;
    `leapfrog`: the share of mazes with both, attention that jumps ahead and then fills in."""
    reached = np.maximum.accumulate(attended, axis=1)
    ahead = attended > right + 1
    back = np.zeros_like(ahead)
    back[:, 1:] = attended[:, 1:] < reached[:, :-1] - 1
    return {"ahead": float(ahead.mean()), "fill_in": float(back[:, 1:].mean()),
            "leapfrog": float((ahead.any(1) & back.any(1)).mean())}


@torch.no_grad()
def attention_along_route(model: torch.nn.Module, mazes: list[Maze], images: torch.Tensor,
                          targets: torch.Tensor, routes: list[list[int]], out_dir: Path
                          ) -> list[Path]:
    """`attention_along_route.png`: tick by tick, where along the route attention looks
    against how much of the route is right so far, for the first 6 mazes, and
    `attention_along_route.json`: `leapfrog_measures` over all of them, with the ticks and
    the route length, so that models with few and with ample ticks can be compared."""
    import json

    plt = pyplot()
    config = model.config
    out = model(images, trace=True)
    rows, cols = token_grid(config.backbone, *images.shape[-2:])
    attention = out.attention.float().mean(2).cpu().numpy().reshape(
        len(mazes), -1, rows, cols)  # (B, T, rows, cols)
    moves = grouped_logits(out.logits, config.out_groups_shape).argmax(-1).cpu().numpy()
    lengths = np.array([len(r) for r in routes])
    same = moves == targets.numpy()[:, None, :]
    right = np.minimum(np.cumprod(same, axis=2).sum(2), lengths[:, None])  # (B, T)
    attended = np.stack([attended_route_index(attention[i], _positions(maze, routes[i]),
                                              maze.shape) for i, maze in enumerate(mazes)])
    measures = {**leapfrog_measures(attended, right), "ticks": int(attention.shape[1]),
                "mean_route_length": float(lengths.mean()), "mazes": len(mazes)}
    figure, axes = plt.subplots(2, 3, figsize=(9, 5), dpi=100, sharex=True)
    ticks = np.arange(1, attention.shape[1] + 1)
    for i, axis in enumerate(axes.flat[: min(6, len(mazes))]):
        axis.plot(ticks, attended[i], marker="o", markersize=3, label="attention's route step")
        axis.plot(ticks, right[i], drawstyle="steps-post", label="route right so far")
        axis.axhline(lengths[i], color="grey", linestyle=":", linewidth=1)
        axis.set_title(f"maze {i} (route {lengths[i]} moves)", fontsize=8)
        axis.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=6)
    for axis in axes[-1]:
        axis.set_xlabel("tick")
    figure.suptitle(f"where attention looks along the route, {attention.shape[1]} ticks: "
                    f"ahead {100 * measures['ahead']:.0f}% of ticks, filling in behind "
                    f"{100 * measures['fill_in']:.0f}%, both in "
                    f"{100 * measures['leapfrog']:.0f}% of {len(mazes)} mazes", fontsize=9)
    figure.tight_layout()
    written = [save_figure(figure, out_dir / "attention_along_route.png")]
    path = out_dir / "attention_along_route.json"
    path.write_text(json.dumps(measures, indent=1) + "\n")
    return [*written, path]


def _positions(maze: Maze, moves: list[int]) -> list[tuple[int, int]]:
    at = maze.start
    positions = [at]
    for move in moves:
        at = step(at, int(move))
        positions.append(at)
    return positions
