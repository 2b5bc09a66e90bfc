"""The catalogue of user mistakes and damaged files that `ctm` must answer with one clear line.

`test_bad_inputs.py` runs every case; `scripts/bad_inputs_table.py` writes `docs/bad-inputs.md`
from the same list, so the table and the tests cannot drift apart. A case runs in a fresh
workspace `{ws}` holding `{ws}/run`, a copy of a tiny finished parity run with checkpoints at
steps 3 and 6; its `prepare` may damage files or add data folders first.
"""

from __future__ import annotations

import json
import os
import pickle
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

TINY_MODEL = ("--d-model", "16", "--d-input", "8", "--heads", "2", "--ticks", "3",
              "--n-sync-out", "8", "--n-sync-action", "8", "--n-self", "0")
TINY_RUN = ("--length", "4", "--eval-size", "32", *TINY_MODEL, "--batch-size", "8",
            "--eval-every", "3", "--checkpoint-every", "3", "--log-every", "1",
            "--no-progress")


@dataclass(frozen=True)
class Case:
    group: str
    what: str  # the mistake, as a user would put it
    argv: tuple[str, ...]  # the command, `{ws}` standing for the workspace
    says: str  # a fragment of the one line ctm answers with
    prepare: Callable[[Path], None] | None = None
    status: int = 2  # exit status; 0 where the command goes on (with a warning, or unharmed)
    warning: bool = False  # `says` is in a `ctm: warning:` line (else, with status 0, in the
    #                        output: the fault was absorbed without a word)

    @property
    def id(self) -> str:
        return "-".join(f"{self.group} {self.what}".lower().replace("/", " ").split()[:9])


# --- preparations: damage a file or lay out data -----------------------------------------------

def _edit_json(path: str, change: Callable[[dict], None]) -> Callable[[Path], None]:
    def prepare(ws: Path) -> None:
        file = ws / path
        data = json.loads(file.read_text())
        change(data)
        file.write_text(json.dumps(data))
    return prepare


def _write(path: str, content: bytes) -> Callable[[Path], None]:
    def prepare(ws: Path) -> None:
        (ws / path).parent.mkdir(parents=True, exist_ok=True)
        (ws / path).write_bytes(content)
    return prepare


def _truncate(path: str, keep: float = 0.5) -> Callable[[Path], None]:
    def prepare(ws: Path) -> None:
        data = (ws / path).read_bytes()
        (ws / path).write_bytes(data[: int(len(data) * keep)])
    return prepare


def _random_bytes(path: str) -> Callable[[Path], None]:
    return _write(path, random.Random(0).randbytes(4096))


def _tensors(path: str, change: Callable[[dict], None]) -> Callable[[Path], None]:
    def prepare(ws: Path) -> None:
        from safetensors.torch import load_file, save_file

        tensors = load_file(ws / path)
        change(tensors)
        save_file(tensors, ws / path)
    return prepare


def _drop_tensor(tensors: dict) -> None:
    del tensors[sorted(tensors)[0]]


def _reshape_tensor(tensors: dict) -> None:
    import torch

    name = next(k for k, v in sorted(tensors.items()) if v.ndim == 2)
    tensors[name] = torch.zeros(tensors[name].shape[0] + 1, tensors[name].shape[1])


def _nan_tensor(tensors: dict) -> None:
    name = next(k for k, v in sorted(tensors.items()) if v.is_floating_point())
    tensors[name] = tensors[name] * float("nan")


def _mazes(folder: str, stray: bool) -> Callable[[Path], None]:
    def prepare(ws: Path) -> None:
        from PIL import Image

        from ctm.tasks.maze.data import render
        from ctm.tasks.maze_world import generate_maze

        root = ws / folder
        root.mkdir(parents=True)
        for seed in range(3):
            maze = generate_maze(7, random.Random(seed))  # 15x15 pixels
            Image.fromarray(render(maze)).save(root / f"maze{seed}.png")
        if stray:
            (root / "x.png").write_text("not an image")
    return prepare


def _sudoku_csv(damage: str) -> Callable[[Path], None]:
    """puzzles.csv: three generated 4×4 puzzles with answers and ratings, then `damage`:
    `short-row`, `wrong-answer`, `broken-givens`, `rating-word`, `bom` (a byte-order mark
    first, as spreadsheets write) or `binary` (the file replaced by bytes)."""
    def prepare(ws: Path) -> None:
        from ctm.tasks.sudoku.data import format_line, generate

        rng = random.Random(0)
        rows = []
        for _ in range(3):
            puzzle = generate(4, rng)
            rows.append([format_line(puzzle.grid), format_line(puzzle.solution), "0"])
        if damage == "short-row":
            rows[1] = rows[1][:2]
        elif damage == "wrong-answer":
            answer = rows[1][1]
            rows[1][1] = answer[1] + answer[0] + answer[2:]
        elif damage == "broken-givens":
            grid = list(rows[1][0])
            given = next(k for k, ch in enumerate(grid) if ch != ".")
            grid[given + 1 if given % 4 < 3 else given - 1] = grid[given]  # twice in its row
            rows[1][0] = "".join(grid)
        elif damage == "rating-word":
            rows[1][2] = "hard"
        text = "question,answer,rating\n" + "".join(",".join(r) + "\n" for r in rows)
        data = b"\xef\xbb\xbf" + text.encode() if damage == "bom" else text.encode()
        if damage == "binary":
            data = b"PK\x03\x04" + bytes(range(256))
        (ws / "puzzles.csv").write_bytes(data)
    return prepare


def _mnist(damage: str) -> Callable[[Path], None]:
    """mnist/: the four IDX files of a tiny MNIST (images gzipped, labels plain), one of them
    cut short: `gz` halves the gzipped training images (an interrupted download), `idx` the
    plain training labels."""
    def prepare(ws: Path) -> None:
        import gzip

        import numpy as np

        root = ws / "mnist"
        root.mkdir()
        rng = np.random.default_rng(0)
        for prefix, n in (("train", 40), ("t10k", 20)):
            for kind, array in (("images-idx3", rng.integers(0, 256, (n, 8, 8))),
                                ("labels-idx1", np.arange(n) % 10)):
                data = bytes([0, 0, 8, array.ndim]) + b"".join(
                    int(d).to_bytes(4, "big") for d in array.shape) + array.astype(
                    np.uint8).tobytes()
                name = f"{prefix}-{kind}-ubyte"
                if kind.startswith("images"):
                    data, name = gzip.compress(data), name + ".gz"
                if (damage, prefix, kind[:6]) in (("gz", "train", "images"),
                                                  ("idx", "train", "labels")):
                    data = data[: len(data) // 2]
                (root / name).write_bytes(data)
    return prepare


def _images(layout: str) -> Callable[[Path], None]:
    """An image folder of 8x8 PNGs: `empty-class` adds a class folder with nothing in it,
    `corrupt` lays out train/ and val/ with a damaged JPEG among the held-out images."""
    def prepare(ws: Path) -> None:
        import numpy as np
        from PIL import Image

        rng = np.random.default_rng(0)
        parts = ["train", "val"] if layout == "corrupt" else [""]
        for part in parts:
            for name in ("cat", "dog"):
                folder = ws / "images" / part / name
                folder.mkdir(parents=True)
                for k in range(3):
                    pixels = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
                    Image.fromarray(pixels).save(folder / f"{k}.png")
        if layout == "empty-class":
            (ws / "images" / "bird").mkdir()
        if layout == "corrupt":
            (ws / "images" / "val" / "dog" / "broken.jpg").write_bytes(b"\xff\xd8\xff" + b"0" * 50)
    return prepare


def _code_pickle(ws: Path) -> None:
    class Payload:  # unpickling this would call os.system
        def __reduce__(self):  # noqa: ANN204
            return (os.system, ("echo pwned > " + str(ws / "pwned"),))

    (ws / "evil.pt").write_bytes(pickle.dumps({"model_state_dict": Payload()}))
    (ws / "ctor.json").write_text("{}")


def _convert_inputs(ws: Path) -> None:
    import torch

    torch.save({"weight": torch.zeros(2)}, ws / "plain.pt")
    (ws / "ctor.json").write_text(json.dumps({"d_model": 16}))


def _no_checkpoints(ws: Path) -> None:
    import shutil

    shutil.rmtree(ws / "run" / "checkpoints")
    shutil.rmtree(ws / "run" / "model")


_HOLDER = """
import sys, time
from ctm.run.lock import RunLock
lock = RunLock(sys.argv[1])
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


def hold_lock(run_dir: Path, seconds: float = 60) -> object:
    """Another process holding `run_dir`'s lock for `seconds`, as a `ctm train` still running
    there does (returned: its Popen, to stop it early)."""
    import subprocess
    import sys

    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(run_dir), str(seconds)],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def _being_trained(ws: Path) -> None:
    hold_lock(ws / "run", seconds=30)


def _every_checkpoint_damaged(ws: Path) -> None:
    for weights in (ws / "run" / "checkpoints").glob("*/model.safetensors"):
        weights.write_bytes(b"")


def _checkpoint_from_another_run(ws: Path) -> None:
    """The newest checkpoint replaced by the same step of another run of the same config."""
    import shutil

    from ctm.cli import main

    assert main(["train", "parity", "--steps", "6", "--keep-checkpoints", "2", *TINY_RUN,
                 "--out", str(ws / "other")]) == 0
    shutil.rmtree(ws / "run" / "checkpoints" / "step-000006")
    shutil.copytree(ws / "other" / "checkpoints" / "step-000006",
                    ws / "run" / "checkpoints" / "step-000006")


def _lstm_run(ws: Path) -> None:
    from ctm.cli import main

    assert main(["train", "parity", "--architecture", "lstm", "--steps", "1", *TINY_RUN,
                 "--out", str(ws / "lstm")]) == 0


def _sort_run(ws: Path) -> None:
    from ctm.cli import main

    assert main(["train", "sort", "--length", "4", "--eval-size", "8", *TINY_MODEL,
                 "--ticks", "5", "--steps", "1", "--batch-size", "4", "--no-progress",
                 "--out", str(ws / "sort")]) == 0


def _explore_run(ws: Path) -> None:
    from ctm.cli import main

    assert main(["train", "explore", "--size", "7", "--eval-episodes", "2", "--d-model", "16",
                 "--memory-slots", "4", "--steps", "1", "--batch-size", "2",
                 "--rollout-steps", "8", "--chunk", "8", "--minibatches", "1",
                 "--no-progress", "--out", str(ws / "explore")]) == 0


TRAIN = ("train", "parity", "--out", "{ws}/new", *TINY_RUN, "--steps", "1")
SUDOKU_FILE = ("train", "sudoku", "--size", "4", "--data", "{ws}/puzzles.csv", "--steps", "1",
               "--eval-size", "4", "--batch-size", "2", *TINY_MODEL, "--no-progress", "--out",
               "{ws}/x")
CASES: list[Case] = [
    # --- the command line ----------------------------------------------------------------------
    Case("command", "unknown command", ("trian",), "unknown command 'trian'"),
    Case("command", "no command at all", (), "name a command: tasks, train"),
    Case("train flags", "zero processes", (*TRAIN, "--processes", "0"),
         "--processes must be >= 1"),
    Case("train flags", "a batch that does not split over --processes",
         (*TRAIN, "--processes", "3"), "--batch-size 8 does not split evenly over 3 processes"),
    Case("train flags", "an unknown way to share a model over processes",
         (*TRAIN[:-2], "--strategy", "zero"), "strategy must be one of ddp, fsdp"),
    Case("train flags", "an unknown way for Sudoku's grid to reach the model",
         ("train", "sudoku", "--size", "4", "--input", "flat", "--out", "{ws}/x"),
         "input must be one of attention, direct"),
    Case("train flags", "no pass at all for Sudoku's re-application",
         ("train", "sudoku", "--size", "4", "--reapply", "0", "--out", "{ws}/x"),
         "reapply must be >= 1"),
    Case("train flags", "every empty Sudoku cell given away in training",
         ("train", "sudoku", "--size", "4", "--reveal", "1", "--out", "{ws}/x"),
         "reveal must be in [0, 1)"),
    Case("train flags", "a baseline that reads tokens, on a direct-input task",
         ("train", "sort", "--architecture", "recursive", "--out", "{ws}/x"),
         "the recursive architecture takes input_mode attention, not 'direct'"),
    Case("train flags", "unknown task", ("train", "nosuchtask", "--out", "{ws}/x"),
         "unknown task 'nosuchtask'"),
    Case("train flags", "no task and no config", ("train", "--out", "{ws}/x"), "name a task"),
    Case("train flags", "no --out", ("train", "parity"), "--out RUN_DIR"),
    Case("train flags", "a word for an integer", (*TRAIN, "--d-model", "big"),
         "invalid int value: 'big'"),
    Case("train flags", "a word for a boolean", (*TRAIN, "--deep-nlm", "maybe"),
         "expected true or false"),
    Case("train flags", "a flag that does not exist", (*TRAIN, "--no-such-field", "1"),
         "unrecognized arguments"),
    Case("train flags", "a flag of another task", (*TRAIN, "--route-length", "9"),
         "unrecognized arguments"),
    Case("train flags", "unknown pairing", (*TRAIN, "--pairing", "all"),
         "pairing must be one of"),
    Case("train flags", "unknown architecture", (*TRAIN, "--architecture", "transformer"),
         "architecture must be one of"),
    Case("train flags", "unknown backbone", ("train", "images", "--backbone", "vgg", "--out",
                                             "{ws}/x"), "backbone must be one of"),
    Case("train flags", "learning rate 0", (*TRAIN, "--lr", "0"), "lr must be > 0"),
    Case("train flags", "negative learning rate", (*TRAIN, "--lr", "-0.1"), "lr must be > 0"),
    Case("train flags", "infinite learning rate", (*TRAIN, "--lr", "inf"),
         "lr must be a finite number"),
    Case("train flags", "NaN learning rate", (*TRAIN, "--lr", "nan"),
         "lr must be a finite number"),
    Case("train flags", "zero steps", (*TRAIN, "--steps", "0"), "steps must be >= 1"),
    Case("train flags", "zero batch size", (*TRAIN, "--batch-size", "0"),
         "batch_size must be >= 1"),
    Case("train flags", "negative weight decay", (*TRAIN, "--weight-decay", "-1"),
         "weight_decay must be >= 0"),
    Case("train flags", "negative warm-up", (*TRAIN, "--warmup-steps", "-5"),
         "warmup_steps must be >= 0"),
    Case("train flags", "zero checkpoints kept", (*TRAIN, "--keep-checkpoints", "0"),
         "keep_checkpoints must be >= 1"),
    Case("train flags", "negative threads", (*TRAIN, "--threads", "-2"),
         "threads must be >= 0"),
    Case("train flags", "unknown precision", (*TRAIN, "--precision", "fp8"),
         "precision must be one of"),
    Case("train flags", "unknown compile mode", (*TRAIN, "--compile-mode", "fast"),
         "compile_mode must be one of"),
    Case("train flags", "compile true, as before compile had scopes", (*TRAIN, "--compile",
                                                                       "true"),
         "got 'true'; compile true is now compile tick"),
    Case("train flags", "compiled ticks of a baseline",
         (*TRAIN, "--architecture", "lstm", "--compile", "tick"),
         "--compile tick and --checkpoint-ticks apply to the CTM's ticks"),
    Case("train flags", "negative data workers", (*TRAIN, "--data-workers", "-1"),
         "data_workers must be >= 0"),
    Case("train flags", "unknown optimiser", (*TRAIN, "--optimizer", "sgd"),
         "optimizer must be one of adamw, muon, got 'sgd'"),
    Case("train flags", "Muon on sharded matrices", (*TRAIN, "--optimizer", "muon",
                                                     "--strategy", "fsdp"),
         "Muon orthogonalises whole weight matrices and fsdp shards them"),
    Case("train flags", "the cell read-out for one softmax",
         ("train", "images", "--readout", "cells", "--out", "{ws}/x"),
         "readout cells reads groups of classes (out_shape (groups, classes)); out_shape (-1,) "
         "is one softmax: use readout linear"),
    Case("train flags", "the cell read-out for a baseline without one",
         (*TRAIN, "--architecture", "feedforward", "--readout", "cells"),
         "the feedforward architecture has only its own read-out"),
    Case("train flags", "TRM-style training for an LSTM",
         (*TRAIN, "--architecture", "lstm", "--deep-supervision", "true"),
         "deep_supervision trains the recursive and ctm architectures TRM-style; the lstm "
         "architecture takes none"),
    Case("train flags", "a deep-supervised CTM's ticks not whole steps",
         (*TRAIN, "--deep-supervision", "true", "--cycles", "2"),
         "a deep-supervised CTM thinks `cycles` ticks a step: ticks (3) must be a multiple of "
         "cycles (2)"),
    Case("train flags", "the CTM's cycles without deep supervision",
         (*TRAIN, "--cycles", "3"),
         "cycles counts the ctm architecture's ticks per supervised step only with "
         "deep_supervision"),
    Case("train flags", "no recursion in a recursive model's tick",
         (*TRAIN, "--architecture", "recursive", "--cycles", "0"), "cycles must be >= 1"),
    Case("train flags", "deep supervision compiled",
         (*TRAIN, "--architecture", "recursive", "--deep-supervision", "true", "--compile",
          "thought"), "--deep-supervision steps through a model's own `supervise`, which "
                    "--compile thought does not compile"),
    Case("train flags", "deep supervision of a one-softmax answer",
         ("train", "images", "--architecture", "recursive", "--deep-supervision", "true",
          "--steps", "1", "--out", "{ws}/x"),
         "--deep-supervision's halting head learns whether every output group is right"),
    Case("train flags", "Q&A digits shown neither as images nor as labels",
         ("train", "qa", "--digit-input", "words", "--out", "{ws}/x"),
         "digit_input must be one of images, labels, got 'words'"),
    Case("train flags", "unknown non-finite policy", (*TRAIN, "--on-nonfinite", "ignore"),
         "on_nonfinite must be one of"),
    Case("train flags", "device tpu", (*TRAIN, "--device", "tpu"),
         "device must be cpu, cuda, cuda:N or mps, got 'tpu'"),
    Case("train flags", "a GPU this machine does not have", (*TRAIN, "--device", "cuda:99"),
         "device 'cuda:99'"),
    Case("train flags", "heads that do not divide the attention width",
         (*TRAIN, "--d-input", "10", "--heads", "4"), "must be divisible by heads"),
    Case("train flags", "output size the task fixes", (*TRAIN, "--out-dims", "10"),
         "parity fixes out_dims=8"),
    Case("train flags", "dropout of 1.5", (*TRAIN, "--dropout", "1.5"),
         "dropout must be in [0, 1)"),
    Case("train flags", "more self-pairs than pairs", (*TRAIN, "--n-self", "100"),
         "n_self (100) must be smaller"),
    Case("train flags", "n_self with dense pairing",
         (*TRAIN, "--pairing", "dense", "--n-self", "2"), "n_self only applies"),
    Case("train flags", "dense pairs that need more neurons than there are",
         (*TRAIN, "--pairing", "dense", "--n-sync-out", "12", "--n-sync-action", "12"),
         "must be <= d_model"),
    Case("train flags", "zero ticks", (*TRAIN, "--ticks", "0"), "ticks must be >= 1"),
    Case("train flags", "parity of length 0", (*TRAIN, "--length", "0"),
         "length must be >= 1"),
    Case("train flags", "--match-ctm on the CTM itself", (*TRAIN, "--match-ctm"),
         "--match-ctm sizes a baseline"),
    Case("train flags", "early exit flag on train", (*TRAIN, "--halt-at", "0.5"),
         "unrecognized arguments"),
    Case("train flags", "--out is a file", ("train", "parity", "--out", "{ws}/file", *TINY_RUN),
         "is a file, not a folder", _write("file", b"x")),
    Case("train flags", "--out already holds a run", ("train", "parity", "--out", "{ws}/run",
                                                      *TINY_RUN), "ctm train --resume"),
    Case("task options", "maze of even size", ("train", "maze", "--size", "4", "--out",
                                               "{ws}/x"), "size must be odd and >= 5"),
    Case("task options", "maze data folder that does not exist",
         ("train", "maze", "--data", "{ws}/nowhere", "--out", "{ws}/x"),
         "data folder '{ws}/nowhere' does not exist"),
    Case("task options", "maze route length 0", ("train", "maze", "--route-length", "0",
                                                 "--out", "{ws}/x"), "route_length must be"),
    Case("task options", "unknown image data set", ("train", "images", "--dataset", "svhn",
                                                    "--out", "{ws}/x"),
         "dataset must be one of"),
    Case("task options", "MNIST folder without its files",
         ("train", "images", "--dataset", "mnist", "--path", "{ws}", "--out", "{ws}/x"),
         "train-images-idx3-ubyte[.gz] missing under"),
    Case("task options", "sort a single number", ("train", "sort", "--length", "1", "--out",
                                                  "{ws}/x"), "length must be in [2, 255]"),
    Case("task options", "sort with fewer ticks than numbers",
         ("train", "sort", "--length", "8", "--ticks", "5", "--out", "{ws}/x"),
         "ticks must be >= 8"),
    Case("task options", "sort on the feedforward baseline",
         ("train", "sort", "--architecture", "feedforward", "--out", "{ws}/x"),
         "the feedforward baseline thinks once"),
    Case("task options", "Q&A with five digits", ("train", "qa", "--digits", "5", "--out",
                                                  "{ws}/x"),
         "digits (5) must be <= index_slots (4): index tokens have room for 4 digits (train "
         "with --index-slots 5 to show more)"),
    Case("task options", "Q&A patch that does not divide the image",
         ("train", "qa", "--patch", "3", "--out", "{ws}/x"), "patch 3 does not divide"),
    Case("task options", "Q&A on the feedforward baseline",
         ("train", "qa", "--architecture", "feedforward", "--out", "{ws}/x"),
         "feedforward architecture takes input_mode"),
    Case("task options", "RL environment that is not offered",
         ("train", "rl", "--env", "Pong-v5", "--out", "{ws}/x"), "env must be one of"),
    Case("task options", "RL chunk that does not divide the rollout",
         ("train", "rl", "--chunk", "7", "--out", "{ws}/x"),
         "chunk (7) must divide rollout_steps (512)"),
    Case("task options", "RL on the feedforward baseline",
         ("train", "rl", "--architecture", "feedforward", "--out", "{ws}/x"),
         "the feedforward baseline has none"),
    Case("task options", "RL with batch-building workers",
         ("train", "rl", "--data-workers", "2", "--out", "{ws}/x"),
         "--data-workers must be 0"),
    Case("task options", "the original's RL recipe in a MiniGrid world",
         ("train", "rl", "--recipe", "original", "--env", "MiniGrid-Empty-5x5-v0", "--out",
          "{ws}/x"), "the original recipe is offered for CartPole-v1 and Acrobot-v1"),
    Case("task options", "the original's RL agent with random pairs",
         ("train", "rl", "--architecture", "original-rl", "--pairing", "random-pairing",
          "--out", "{ws}/x"), "the original-rl agent pairs the last n_sync_out neurons densely"),
    Case("task options", "the original's RL agent on an image task",
         ("train", "images", "--architecture", "original-rl", "--out", "{ws}/x"),
         "the original-rl architecture takes input_mode direct"),
    Case("task options", "explore with a maze of even side",
         ("train", "explore", "--size", "8", "--out", "{ws}/x"), "size must be odd and >= 5"),
    Case("task options", "explore with no step budget",
         ("train", "explore", "--budget", "0", "--out", "{ws}/x"),
         "budget must be > 0 steps per open pixel"),
    Case("task options", "explore on the feedforward baseline",
         ("train", "explore", "--architecture", "feedforward", "--out", "{ws}/x"),
         "the feedforward baseline has none"),
    Case("task options", "explore with a team that does not divide the batch",
         ("train", "explore", "--agents", "3", "--batch-size", "16", "--out", "{ws}/x"),
         "--batch-size counts agents: 16 is not a whole number of teams of 3"),
    Case("task options", "explore paying a lone agent as a team",
         ("train", "explore", "--team-reward", "first", "--out", "{ws}/x"),
         "team_reward first pays a team for its first arrival: it needs --agents 2 or more"),
    Case("task options", "explore with an unknown team reward",
         ("train", "explore", "--agents", "2", "--team-reward", "all", "--out", "{ws}/x"),
         "team_reward must be own or first, got 'all'"),
    Case("task options", "explore with no agents",
         ("train", "explore", "--agents", "0", "--out", "{ws}/x"), "agents must be >= 1, got 0"),
    Case("train flags", "an explicit memory on the feedforward baseline",
         ("train", "parity", "--architecture", "feedforward", "--memory-slots", "4", "--out",
          "{ws}/x"), "the feedforward architecture has no explicit memory: memory_slots must be 0"),
    Case("train flags", "a negative memory",
         ("train", "explore", "--memory-slots", "-1", "--out", "{ws}/x"),
         "memory_slots must be >= 0, got -1"),
    Case("task options", "masking velocities in a MiniGrid world",
         ("train", "rl", "--env", "MiniGrid-Empty-5x5-v0", "--mask-velocity", "true", "--out",
          "{ws}/x"), "--mask-velocity does nothing here: MiniGrid-Empty-5x5-v0's observations "
         "hold no velocities to mask"),
    Case("task options", "unknown input mode", ("train", "parity", "--input-mode", "telepathy",
                                                "--out", "{ws}/x"),
         "input_mode must be one of attention, direct, schedule"),
    Case("task options", "direct input without its size",
         ("train", "parity", "--input-mode", "direct", "--positional-embedding", "none",
          "--out", "{ws}/x"), "needs input_size >= 1"),
    Case("task options", "CIFAR without its folder", ("train", "images", "--dataset",
                                                      "cifar10", "--out", "{ws}/x"),
         "give --path"),
    Case("task options", "held-out share of 1.5",
         ("train", "images", "--dataset", "folder", "--path", "{ws}", "--test-share", "1.5",
          "--out", "{ws}/x"), "test_share must be in (0, 1)"),
    Case("task options", "CIFAR folder without CIFAR files",
         ("train", "images", "--dataset", "cifar10", "--path", "{ws}", "--out", "{ws}/x",
          *TINY_MODEL), "data_batch_1.bin"),
    # --- config files --------------------------------------------------------------------------
    Case("config files", "--config that is not JSON", ("train", "--config", "{ws}/bad.json",
                                                       "--out", "{ws}/x"),
         "bad.json is not valid JSON: Expecting value at line 1, column 1",
         _write("bad.json", b"nonsense")),
    Case("config files", "--config cut short", ("train", "--config", "{ws}/cut.json", "--out",
                                                "{ws}/x"),
         "cut.json is not valid JSON", _write("cut.json", b'{"task": "parity", "options": {')),
    Case("config files", "--config that is a folder", ("train", "--config", "{ws}/run",
                                                       "--out", "{ws}/x"),
         "is a folder, not a run config file"),
    Case("config files", "--config that does not exist", ("train", "--config",
                                                          "{ws}/none.json", "--out", "{ws}/x"),
         "none.json not found"),
    Case("config files", "--config with a word for d_model",
         ("train", "--config", "{ws}/run/config.json", "--out", "{ws}/x"),
         "model field d_model must be an integer, got 'abc'",
         _edit_json("run/config.json", lambda d: d["model"].update(d_model="abc"))),
    Case("config files", "--config with steps as a string",
         ("train", "--config", "{ws}/run/config.json", "--out", "{ws}/x"),
         "train field steps must be an integer, got '300'",
         _edit_json("run/config.json", lambda d: d["train"].update(steps="300"))),
    Case("config files", "--config with lr null",
         ("train", "--config", "{ws}/run/config.json", "--out", "{ws}/x"),
         "train field lr must be a number, got None",
         _edit_json("run/config.json", lambda d: d["train"].update(lr=None))),
    Case("config files", "--config with an unknown field",
         ("train", "--config", "{ws}/run/config.json", "--out", "{ws}/x"),
         "unknown model field(s): d_modle",
         _edit_json("run/config.json", lambda d: d["model"].update(d_modle=3))),
    Case("config files", "--config without its train section",
         ("train", "--config", "{ws}/run/config.json", "--out", "{ws}/x"),
         "run config lacks train", _edit_json("run/config.json", lambda d: d.pop("train"))),
    Case("config files", "--config naming an unknown task",
         ("train", "--config", "{ws}/run/config.json", "--out", "{ws}/x"),
         "unknown task 'chess'", _edit_json("run/config.json", lambda d: d.update(task="chess"))),
    Case("config files", "--config of a saved model, not a run",
         ("train", "--config", "{ws}/run/model/config.json", "--out", "{ws}/x"),
         "run config lacks model, options, task, train"),
    Case("config files", "--config that is a JSON list",
         ("train", "--config", "{ws}/list.json", "--out", "{ws}/x"),
         "a run config is a JSON object, got list", _write("list.json", b"[1, 2]")),
    Case("config files", "--config of another task than named",
         ("train", "maze", "--config", "{ws}/run/config.json", "--out", "{ws}/x"),
         "is a parity run, not maze"),
    Case("config files", "--config that is binary", ("train", "--config", "{ws}/bin.json",
                                                     "--out", "{ws}/x"),
         "is not a text file", _write("bin.json", b"\xff\xfe\x00\x81")),
    # --- resume and init-from ------------------------------------------------------------------
    Case("resume", "--resume with --out", ("train", "--resume", "{ws}/run", "--out", "{ws}/x"),
         "drop --out and --config"),
    Case("resume", "--resume of a folder that does not exist",
         ("train", "--resume", "{ws}/nowhere"), "no such run directory"),
    Case("resume", "--resume of a folder that is no run", ("train", "--resume", "{ws}/empty"),
         "is not a run directory", _write("empty/readme.txt", b"hi")),
    Case("resume", "--resume changing the model", ("train", "--resume", "{ws}/run",
                                                   "--d-model", "8"),
         "cannot change --d-model"),
    Case("resume", "--resume changing a task option", ("train", "--resume", "{ws}/run",
                                                       "--length", "6"),
         "cannot change --length"),
    Case("resume", "--resume changing the learning rate", ("train", "--resume", "{ws}/run",
                                                           "--lr", "0.5"),
         "cannot change --lr"),
    Case("resume", "--resume changing the step count", ("train", "--resume", "{ws}/run",
                                                        "--steps", "12"),
         "--init-from {ws}/run --steps N"),
    Case("resume", "--resume naming another task", ("train", "maze", "--resume", "{ws}/run"),
         "is a parity run, not maze"),
    Case("resume", "--resume with --match-ctm", ("train", "--resume", "{ws}/run",
                                                 "--match-ctm"),
         "a resumed run keeps its own"),
    Case("resume", "--resume with a damaged config.json", ("train", "--resume", "{ws}/run"),
         "config.json is not valid JSON", _write("run/config.json", b"{nope")),
    Case("resume", "--resume when the newest checkpoint's weights are cut short",
         ("train", "--resume", "{ws}/run", "--no-progress"),
         "step-000006 is damaged (model.safetensors does not match its checksum); "
         "using step-000003",
         _truncate("run/checkpoints/step-000006/model.safetensors"), status=0, warning=True),
    Case("resume", "--resume when the newest trainer state is cut short",
         ("train", "--resume", "{ws}/run", "--no-progress"),
         "trainer_state.pt does not match its checksum",
         _truncate("run/checkpoints/step-000006/trainer_state.pt"), status=0, warning=True),
    Case("resume", "--resume with a damaged latest.json",
         ("train", "--resume", "{ws}/run", "--no-progress", "--steps", "6"),
         "run directory: {ws}/run", _write("run/checkpoints/latest.json", b"{garbage"),
         status=0),
    Case("resume", "--resume of a run that crashed before its first checkpoint",
         ("train", "--resume", "{ws}/run", "--no-progress"),
         "starting it again from step 0 with its saved config", _no_checkpoints, status=0,
         warning=True),
    Case("resume", "--resume when every checkpoint is damaged (the final model intact)",
         ("train", "--resume", "{ws}/run", "--no-progress"),
         "cannot resume {ws}/run: none of its 2 checkpoints is usable", _every_checkpoint_damaged),
    Case("resume", "--resume with a checkpoint copied in from another run",
         ("train", "--resume", "{ws}/run", "--no-progress"),
         "step-000006 is not this run's (it belongs to another run", _checkpoint_from_another_run,
         status=0, warning=True),
    Case("resume", "a second --resume of a run that is still training",
         ("train", "--resume", "{ws}/run", "--no-progress"),
         "{ws}/run is being trained by another process (pid", _being_trained),
    Case("resume", "--init-from a folder that does not exist",
         (*TRAIN, "--init-from", "{ws}/nowhere"), "--init-from: {ws}/nowhere not found"),
    Case("resume", "--init-from a model of another size",
         (*TRAIN, "--init-from", "{ws}/run", "--d-model", "32"),
         "its model differs (d_model: 16 there, 32 here)"),
    Case("resume", "--init-from a model of another task",
         ("train", "parity", "--init-from", "bundled:maze15", "--out", "{ws}/x"),
         "--init-from bundled:maze15 is a maze model; a parity run cannot start from it"),
    Case("resume", "--init-from an empty folder", (*TRAIN, "--init-from", "{ws}/empty"),
         "neither a run directory", _write("empty/readme.txt", b"hi")),
    # --- evaluating a model --------------------------------------------------------------------
    Case("eval", "no model named", ("eval",), "the following arguments are required"),
    Case("eval", "a path that does not exist", ("eval", "{ws}/nowhere"),
         "{ws}/nowhere not found: give a run directory"),
    Case("eval", "a bundled model that does not exist", ("eval", "bundled:nothing"),
         "no bundled model 'nothing'"),
    Case("eval", "a folder that is neither run nor model", ("eval", "{ws}/empty"),
         "neither a run directory", _write("empty/readme.txt", b"hi")),
    Case("eval", "a saved model without --task", ("eval", "{ws}/run/model"),
         "say which task it solves with --task"),
    Case("eval", "--task that contradicts the run", ("eval", "{ws}/run", "--task", "maze"),
         "is a parity run, not maze: drop --task"),
    Case("eval", "weights cut short", ("eval", "{ws}/run"),
         "model.safetensors is damaged or not a safetensors file",
         _truncate("run/model/model.safetensors")),
    Case("eval", "weights file empty", ("eval", "{ws}/run"),
         "model.safetensors is damaged or not a safetensors file",
         _write("run/model/model.safetensors", b"")),
    Case("eval", "weights file of random bytes", ("eval", "{ws}/run"),
         "model.safetensors is damaged or not a safetensors file",
         _random_bytes("run/model/model.safetensors")),
    Case("eval", "weights with a tensor missing", ("eval", "{ws}/run"),
         "does not fit its model config: missing tensors",
         _tensors("run/model/model.safetensors", _drop_tensor)),
    Case("eval", "weights of the wrong shape", ("eval", "{ws}/run"),
         "does not fit its model config: wrong shapes",
         _tensors("run/model/model.safetensors", _reshape_tensor)),
    Case("eval", "weights that are NaN (a run that diverged)", ("eval", "{ws}/run"),
         "model.safetensors holds non-finite weights",
         _tensors("run/model/model.safetensors", _nan_tensor)),
    Case("train flags", "training on from NaN weights",
         (*TRAIN, "--init-from", "{ws}/run", "--on-nonfinite", "skip"),
         "model.safetensors holds non-finite weights",
         _tensors("run/model/model.safetensors", _nan_tensor)),
    Case("eval", "a run config whose model differs from the saved model's",
         ("eval", "{ws}/run"), "describe different models (ticks: 7 there, 3 here)",
         _edit_json("run/config.json", lambda d: d["model"].update(ticks=7))),
    Case("eval", "model config with a word for d_model", ("eval", "{ws}/run"),
         "CTMConfig field d_model must be an integer, got 'abc'",
         _edit_json("run/model/config.json", lambda d: d.update(d_model="abc"))),
    Case("eval", "model config that is not JSON", ("eval", "{ws}/run"),
         "model/config.json is not valid JSON", _write("run/model/config.json", b"{")),
    Case("eval", "run config with lr null", ("eval", "{ws}/run"),
         "train field lr must be a number, got None",
         _edit_json("run/config.json", lambda d: d["train"].update(lr=None))),
    Case("eval", "certainty threshold above 1", ("eval", "{ws}/run", "--halt-at", "2"),
         "thresholds must be in [0, 1]"),
    Case("eval", "thresholds that are not numbers", ("eval", "{ws}/run", "--halt-sweep",
                                                     "a,b"),
         "expected numbers such as 0.5,0.9"),
    Case("eval", "halting certainty without early exit", ("eval", "{ws}/run",
                                                           "--halt-certainty", "least"),
         "--halt-certainty says what early exit reads: give --halt-at or --halt-sweep"),
    Case("eval", "unknown halting certainty", ("eval", "{ws}/run", "--halt-at", "0.5",
                                               "--halt-certainty", "most"),
         "invalid choice: 'most' (choose from 'mean', 'least')"),
    Case("eval", "negative batch size", ("eval", "{ws}/run", "--batch-size", "-1"),
         "--batch-size must be >= 1"),
    Case("eval", "zero timing repeats", ("eval", "{ws}/run", "--halt-at", "0.5", "--repeats",
                                         "0"), "--repeats >= 1"),
    Case("eval", "--data for a task that reads no data", ("eval", "{ws}/run", "--data",
                                                          "{ws}"),
         "the parity task does not read data from disk"),
    Case("eval", "a task option that is not a number", ("eval", "{ws}/run", "--eval-size",
                                                        "many"),
         "argument --eval-size: invalid int value"),
    Case("eval", "a task option out of range", ("eval", "{ws}/run", "--eval-size", "0"),
         "eval_size must be >= 1"),
    Case("eval", "a task option the model was not built for", ("eval", "{ws}/run",
                                                                 "--length", "6"),
         "length=6 needs a model with out_dims=12, out_shape=[6, 2]; this one has out_dims=8"),
    Case("eval", "a maze route longer than the model emits",
         ("eval", "bundled:maze15", "--route-length", "20", "--quick"),
         "route_length=20 needs a model with out_dims=100"),
    Case("viz", "a task option the model was not built for", ("viz", "{ws}/run", "--length",
                                                                "6"),
         "length=6 needs a model with"),
    Case("eval", "device tpu", ("eval", "{ws}/run", "--device", "tpu"),
         "device must be cpu, cuda, cuda:N or mps"),
    Case("eval", "early exit on a baseline", ("eval", "{ws}/lstm", "--halt-at", "0.5"),
         "early exit needs a CTM, not a lstm model", _lstm_run),
    Case("eval", "early exit on sorting, whose answer unfolds over ticks",
         ("eval", "{ws}/sort", "--halt-at", "0.5"),
         "the sort task's answer is not read at one tick", _sort_run),
    Case("eval", "temperature scaling on sorting",
         ("eval", "{ws}/sort", "--temperature-scaling"),
         "--temperature-scaling needs one class per answer", _sort_run),
    Case("viz", "a tick sweep on sorting", ("viz", "{ws}/sort", "--ticks", "2,4"),
         "the sort task's ticks are its answer's own", _sort_run),
    Case("viz", "onnxruntime for an agent's page, which runs no model",
         ("viz", "{ws}/explore", "--html", "{ws}/page", "--ort-dir", "{ws}"),
         "the explore page plays episodes PyTorch recorded and runs no model: drop --ort-dir",
         _explore_run),
    Case("eval", "--best for a run that kept no best model",
         ("eval", "bundled:maze15", "--best"), "has no best model yet"),
    Case("eval", "the weights file instead of its folder",
         ("eval", "{ws}/run/model/model.safetensors", "--task", "parity"),
         "model.safetensors is a file; give the folder that holds it"),
    Case("eval", "a run with no model or checkpoint yet", ("eval", "{ws}/run"),
         "has no trained model or intact checkpoint yet", _no_checkpoints),
    # --- data on disk --------------------------------------------------------------------------
    Case("data on disk", "maze --data folder with one stray file",
         ("eval", "bundled:maze15", "--data", "{ws}/mazes", "--quick"),
         "skipped {ws}/mazes/x.png", _mazes("mazes", stray=True), status=0, warning=True),
    Case("data on disk", "maze --data that is a file",
         ("eval", "bundled:maze15", "--data", "{ws}/run/config.json"), "is not a folder"),
    Case("data on disk", "maze training folder with one stray file",
         ("train", "maze", "--data", "{ws}/mazes", "--steps", "1", "--route-length", "8",
          "--eval-size", "4", "--eval-batch-size", "4", "--batch-size", "2", *TINY_MODEL,
          "--no-progress", "--out", "{ws}/x"),
         "skipped 1 of 4 files under {ws}/mazes", _mazes("mazes", stray=True), status=0,
         warning=True),
    Case("data on disk", "maze folder with no maze in it",
         ("eval", "bundled:maze15", "--data", "{ws}/junk"), "none of the 1 image files",
         _write("junk/x.png", b"text")),
    Case("data on disk", "a Sudoku CSV row with fewer fields than its header", SUDOKU_FILE,
         "{ws}/puzzles.csv:3: 2 fields where the header has 3", _sudoku_csv("short-row")),
    Case("data on disk", "a Sudoku answer that does not solve its question", SUDOKU_FILE,
         "{ws}/puzzles.csv:3: the answer does not solve the question",
         _sudoku_csv("wrong-answer")),
    Case("data on disk", "Sudoku givens that break the rules", SUDOKU_FILE,
         "{ws}/puzzles.csv:3: the givens break the rules", _sudoku_csv("broken-givens")),
    Case("data on disk", "a Sudoku rating that is a word", SUDOKU_FILE,
         "{ws}/puzzles.csv:3: rating 'hard' is not a whole number", _sudoku_csv("rating-word")),
    Case("data on disk", "a Sudoku CSV saved with a byte-order mark", SUDOKU_FILE,
         "exact grids", _sudoku_csv("bom"), status=0),
    Case("data on disk", "a binary file as Sudoku puzzles", SUDOKU_FILE,
         "{ws}/puzzles.csv is a binary file, not puzzles as text", _sudoku_csv("binary")),
    Case("data on disk", "a folder as Sudoku puzzles",
         ("train", "sudoku", "--size", "4", "--data", "{ws}", "--out", "{ws}/x"),
         "is a folder; give a file of puzzles"),
    Case("data on disk", "a minimum rating with Sudoku puzzles from a file",
         (*SUDOKU_FILE, "--min-rating", "5"), "min_rating picks generated puzzles and does "
         "not filter the puzzles of data", _sudoku_csv("bom")),
    Case("data on disk", "a held-out rating no 4×4 Sudoku reaches",
         ("train", "sudoku", "--size", "4", "--eval-min-rating", "1", "--steps", "1",
          "--train-puzzles", "4", "--eval-size", "4", "--batch-size", "2", *TINY_MODEL,
          "--no-progress", "--out", "{ws}/x"),
         "none of 1000 generated 4×4 puzzles reached rating 1 (the highest: 0); lower "
         "--eval-min-rating"),
    Case("data on disk", "images: a gzipped MNIST file cut short",
         ("train", "images", "--dataset", "mnist", "--path", "{ws}/mnist", "--out", "{ws}/x"),
         "{ws}/mnist/train-images-idx3-ubyte.gz is cut short (an interrupted download?)",
         _mnist("gz")),
    Case("data on disk", "Q&A: a gzipped MNIST file cut short",
         ("train", "qa", "--dataset", "mnist", "--path", "{ws}/mnist", "--out", "{ws}/x"),
         "{ws}/mnist/train-images-idx3-ubyte.gz is cut short (an interrupted download?)",
         _mnist("gz")),
    Case("data on disk", "a plain MNIST file cut short",
         ("train", "images", "--dataset", "mnist", "--path", "{ws}/mnist", "--out", "{ws}/x"),
         "{ws}/mnist/train-labels-idx1-ubyte is cut short", _mnist("idx")),
    Case("data on disk", "image folder with an empty class folder",
         ("train", "images", "--dataset", "folder", "--path", "{ws}/images", "--out", "{ws}/x",
          *TINY_MODEL), "class folder {ws}/images/bird holds no images",
         _images("empty-class")),
    Case("data on disk", "image folder with a damaged JPEG",
         ("train", "images", "--dataset", "folder", "--path", "{ws}/images", "--steps", "1",
          "--batch-size", "4", *TINY_MODEL, "--no-progress", "--out", "{ws}/x"),
         "skipped unreadable image {ws}/images/val/dog/broken.jpg", _images("corrupt"),
         status=0, warning=True),
    # --- viz -------------------------------------------------------------------------------------
    Case("viz", "zero examples", ("viz", "{ws}/run", "--count", "0"), "--count must be >= 1"),
    Case("viz", "zero ticks", ("viz", "{ws}/run", "--ticks", "0"), "--ticks must be positive"),
    Case("viz", "ticks that are not numbers", ("viz", "{ws}/run", "--ticks", "a"),
         "expected comma-separated integers"),
    Case("viz", "a path that does not exist", ("viz", "{ws}/nowhere"), "not found"),
    Case("viz", "pictures of training from a run that kept no records",
         ("viz", "{ws}/run", "--training"), "holds no records.jsonl: its task keeps none"),
    Case("viz", "pictures of training for a task that draws none",
         ("viz", "{ws}/run", "--training"), "the parity task draws no pictures of training",
         _write("run/records.jsonl", b'{"step": 6}\n')),
    Case("viz", "a records file with a broken row",
         ("viz", "{ws}/run", "--training"), "records.jsonl, line 1: not a JSON object",
         _write("run/records.jsonl", b'[6]\n{"step": 6}\n')),
    Case("viz", "--training with --html", ("viz", "{ws}/run", "--training", "--html",
                                           "{ws}/page"), "give one of them"),
    Case("viz", "--static without --html", ("viz", "{ws}/run", "--static"), "add --html DIR"),
    Case("viz", "--html onto an existing file", ("viz", "{ws}/run", "--html", "{ws}/page.html"),
         "--html {ws}/page.html is a file, and this writes into a folder",
         _write("page.html", b"<html></html>")),
    Case("viz", "an onnxruntime-web folder without the runtime",
         ("viz", "{ws}/run", "--html", "{ws}/page", "--ort-dir", "{ws}"),
         "does not hold onnxruntime-web"),
    # --- convert-original ------------------------------------------------------------------------
    Case("convert", "weights that do not exist", ("convert-original", "{ws}/w.pt",
                                                  "{ws}/c.json", "{ws}/out"), "w.pt not found"),
    Case("convert", "constructor JSON that is not JSON",
         ("convert-original", "{ws}/plain.pt", "{ws}/bad.json", "{ws}/out"),
         "bad.json is not valid JSON", lambda ws: (_convert_inputs(ws),
                                                   _write("bad.json", b"{")(ws))),
    Case("convert", "a pickle that would run code",
         ("convert-original", "{ws}/evil.pt", "{ws}/ctor.json", "{ws}/out"),
         "not a plain checkpoint of tensors that loads without running code", _code_pickle),
    Case("convert", "weights that are random bytes",
         ("convert-original", "{ws}/noise.pt", "{ws}/ctor.json", "{ws}/out"),
         "not a plain checkpoint of tensors", lambda ws: (_convert_inputs(ws),
                                                     _random_bytes("noise.pt")(ws))),
    Case("convert", "weights that do not fit the constructor",
         ("convert-original", "{ws}/plain.pt", "{ws}/ctor.json", "{ws}/out"),
         "does not match", _convert_inputs),
    Case("convert", "a bare state dict without the constructor's arguments",
         ("convert-original", "{ws}/plain.pt", "{ws}/out"), "holds no training arguments",
         _convert_inputs),
    Case("convert", "four paths", ("convert-original", "{ws}/a", "{ws}/b", "{ws}/c", "{ws}/d"),
         "give WEIGHTS OUT_DIR, or WEIGHTS CONFIG.json OUT_DIR"),
    # --- export ----------------------------------------------------------------------------------
    Case("export", "a path that does not exist", ("export", "{ws}/nowhere", "--out", "{ws}/x"),
         "not found"),
    Case("export", "--out onto an existing file", ("export", "{ws}/run", "--out", "{ws}/m.onnx"),
         "--out {ws}/m.onnx is a file, and this writes into a folder", _write("m.onnx", b"x")),
    Case("export", "zero ticks", ("export", "{ws}/run", "--out", "{ws}/x", "--ticks", "0"),
         "--ticks must be >= 1"),
    Case("export", "a batch of zero", ("export", "{ws}/run", "--out", "{ws}/x", "--batch", "0"),
         "--batch must be >= 1"),
    Case("export", "attention from a stepping export",
         ("export", "{ws}/run", "--out", "{ws}/x", "--per-tick", "--attention"),
         "--attention goes with whole-thought exports"),
    Case("export", "an unknown format", ("export", "{ws}/run", "--out", "{ws}/x", "--format",
                                         "tflite"), "invalid choice: 'tflite'"),
    # --- bench -----------------------------------------------------------------------------------
    Case("bench", "more processes than cores",
         ("bench", "--distributed", "--threads", "2", "--processes", "1,3"),
         "--processes must be between 1 and --threads (2)"),
    Case("bench", "process counts that are not numbers",
         ("bench", "--distributed", "--processes", "one,two"), "--processes takes counts like"),
    Case("bench", "scaling an unknown task", ("bench", "--distributed", "--task", "chess"),
         "unknown task 'chess'"),
    Case("bench", "unknown benchmark", ("bench", "nosuchbench"), "unknown benchmark"),
    Case("bench", "zero timed steps", ("bench", "parity16", "--steps", "0"),
         "--steps must be >= 1, got 0"),
    Case("bench", "device tpu", ("bench", "parity16", "--device", "tpu"),
         "device must be cpu, cuda, cuda:N or mps"),
    Case("bench", "unknown compile mode", ("bench", "parity16", "--compile-mode", "fast"),
         "--compile-mode must be one of"),
    Case("bench", "a growth sweep of two configurations",
         ("bench", "--growth", "parity16", "maze15"), "--growth varies one configuration"),
    Case("bench", "a growth plot that is not a PNG",
         ("bench", "--growth", "--plot", "{ws}/growth.pdf"), "--plot writes a PNG file"),
    Case("bench", "a growth factor that does not exist",
         ("bench", "--growth", "--factors", "ticks,heads"), "--factors takes names from"),
    Case("bench", "a plot without the growth sweep", ("bench", "--plot", "{ws}/growth.png"),
         "--plot draws the --growth sweep"),
]
