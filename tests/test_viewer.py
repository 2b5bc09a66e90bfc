"""The thought viewer in a real browser: Debian's Chromium driven by Playwright, headless.

Each page is written by `ctm viz RUN --html`, loaded with every network request refused (from
the file system, and from a local web server), and read back: the prediction and certainty the
page draws at a tick must be PyTorch's for the same input, after stepping the slider, after
flipping a bit and after drawing on a digit. Chromium and onnxruntime-web (fetched once with
npm into .cache/) are set up by scripts/setup.sh; under CI a missing one fails these tests.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from ctm.cli import main as cli
from ctm.losses import grouped_logits
from ctm.model import least_certainty
from ctm.run import load_run
from ctm.run.config import RunConfig
from ctm.train import Trainer

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
SMALL = {"d_model": 32, "d_input": 16, "heads": 2, "n_sync_out": 16, "n_sync_action": 8,
         "ticks": 6, "memory_length": 3}


def browser_missing() -> str | None:
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (scripts/setup.sh installs it)"
    if not Path(CHROMIUM).is_file():
        return "Chromium is not installed (apt-get install chromium; scripts/setup.sh)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    problem = browser_missing()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(problem)
        pytest.skip(problem)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module", autouse=True)
def runtime_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """onnxruntime-web is fetched once into the checkout's .cache/ (setup.sh does it first)."""
    previous = os.environ.get("CTM_CACHE")
    os.environ["CTM_CACHE"] = str(ROOT / ".cache")
    yield
    if previous is None:
        os.environ.pop("CTM_CACHE", None)
    else:
        os.environ["CTM_CACHE"] = previous


def train(tmp_path: Path, task: str, options: dict, steps: int = 30) -> Path:
    run = RunConfig.create(task, options, SMALL, {"steps": steps, "eval_every": steps,
                                                  "batch_size": 16, "threads": 1, "lr": 3e-3})
    Trainer(run, tmp_path / task, progress=False).fit()
    return tmp_path / task


def open_page(browser: object, url: str, allowed: str = "file://",
              state: str = "ctmViewer") -> object:
    """A page that may load only `allowed` URLs: every other request is refused. It is open
    once the page's `window.<state>` is ready, with no error."""
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(allowed)
               else route.abort())
    page.goto(url)
    page.wait_for_function(f"window.{state} && ({state}.ready || {state}.error)",
                           timeout=120_000)
    assert page.evaluate(f"{state}.error") is None
    assert not errors, errors
    return page


def parity_expected(model: torch.nn.Module, bits: list[float], tick: int) -> tuple[str, float]:
    with torch.no_grad():
        out = model(torch.tensor([bits]))
    picks = grouped_logits(out.logits, model.config.out_groups_shape)[0, tick - 1].argmax(-1)
    return "".join(str(int(p)) for p in picks), float(out.certainty[0, tick - 1])


@pytest.fixture(scope="module")
def parity_page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("parity")
    run = train(tmp, "parity", {"length": 8, "eval_size": 16})
    assert cli(["viz", str(run), "--html", str(tmp / "page"), "--count", "4"]) == 0
    return run, tmp / "page"


def test_the_page_runs_the_model_offline_and_draws_what_pytorch_computes(
        browser: object, parity_page: tuple[Path, Path], tmp_path: Path) -> None:
    run, page_dir = parity_page
    _, model = load_run(run)
    assert {"index.html", "viewer.js", "model.js", "model.onnx", "data.js", "ort-wasm.js",
            "ort.wasm.min.js"} <= {p.name for p in page_dir.iterdir()}
    page = open_page(browser, (page_dir / "index.html").as_uri())
    bits = page.evaluate("ctmViewer.input")
    for tick in (1, 3, 6):
        page.locator("#tick").fill(str(tick))  # the slider, as a user moves it
        prediction, certainty = parity_expected(model, bits, tick)
        assert page.inner_text("#tick-label") == f"{tick} of 6"
        assert page.inner_text("#prediction") == prediction
        assert page.evaluate("ctmViewer.certainty") == pytest.approx(certainty, abs=1e-5)
        assert page.inner_text("#certainty") == f"{certainty:.4f}"
    page.screenshot(path=str(tmp_path / "parity.png"), full_page=True)
    assert (tmp_path / "parity.png").stat().st_size > 10_000

    # flip a bit: the page thinks again, and answers as PyTorch does on the new input
    page.click(".bit[data-index='2']")
    page.wait_for_function("ctmViewer.runs >= 2")
    bits[2] = -bits[2]
    assert page.evaluate("ctmViewer.input") == bits
    prediction, certainty = parity_expected(model, bits, 6)
    assert page.inner_text("#prediction") == prediction
    assert page.evaluate("ctmViewer.certainty") == pytest.approx(certainty, abs=1e-5)


def test_the_early_exit_control_marks_the_first_tick_past_the_threshold(
        browser: object, parity_page: tuple[Path, Path]) -> None:
    run, page_dir = parity_page
    _, model = load_run(run)
    page = open_page(browser, (page_dir / "index.html").as_uri())
    bits = page.evaluate("ctmViewer.input")
    with torch.no_grad():
        certainty = model(torch.tensor([bits])).certainty[0]
    threshold = round(float(certainty.median()), 2)
    page.locator("#threshold").fill(str(threshold))
    reached = (certainty >= threshold).nonzero()
    expected = int(reached[0]) + 1 if len(reached) else None
    assert page.evaluate("ctmViewer.exitTick") == expected
    text = page.inner_text("#exit")
    assert (f"stops at tick {expected} of 6" in text) if expected else ("never reaches" in text)

    # reading the least certain output instead, as `ctm eval --halt-certainty least` does
    with torch.no_grad():
        out = model(torch.tensor([bits]))
    least = least_certainty(out.logits, model.config.out_groups_shape)[0]
    assert torch.all(least <= certainty + 1e-6)
    threshold = round(float(least.median()), 2)
    page.select_option("#exit-reads", "least")
    page.locator("#threshold").fill(str(threshold))
    reached = (least >= threshold).nonzero()
    expected = int(reached[0]) + 1 if len(reached) else None
    assert page.evaluate("ctmViewer.exitTick") == expected
    assert page.evaluate("ctmViewer.leastCertainty") == pytest.approx(least.tolist(), abs=1e-5)


def test_the_page_served_over_http_works_too(browser: object,
                                             parity_page: tuple[Path, Path]) -> None:
    _, page_dir = parity_page
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(page_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        origin = f"http://127.0.0.1:{server.server_address[1]}/"
        page = open_page(browser, origin + "index.html", allowed=origin)
        latency = page.evaluate("ctmViewer.lastRunMs")
        print(f"parity page over http: one thought of 6 ticks in {latency:.1f} ms")
        assert latency > 0
    finally:
        server.shutdown()


def test_a_digit_drawn_in_the_page_is_read_as_pytorch_reads_it(browser: object,
                                                                tmp_path: Path) -> None:
    run = train(tmp_path, "images", {}, steps=20)
    assert cli(["viz", str(run), "--html", str(tmp_path / "page"), "--count", "3"]) == 0
    _, model = load_run(run)
    page = open_page(browser, (tmp_path / "page" / "index.html").as_uri())
    names = page.evaluate("CTM_DATA.class_names")

    def expected(pixels: list[float], tick: int) -> tuple[str, float]:
        with torch.no_grad():
            out = model(torch.tensor(pixels, dtype=torch.float32).view(1, 1, 8, 8))
        return names[int(out.logits[0, tick - 1].argmax())], float(out.certainty[0, tick - 1])

    page.locator("#tick").fill("4")
    prediction, certainty = expected(page.evaluate("ctmViewer.input"), 4)
    assert page.inner_text("#prediction") == prediction
    assert page.evaluate("ctmViewer.certainty") == pytest.approx(certainty, abs=1e-5)
    # draw a stroke down the middle of the input canvas
    canvas = page.locator("#input canvas").first
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] - 2, steps=12)
    page.mouse.up()
    page.wait_for_function("ctmViewer.runs >= 2")
    drawn = page.evaluate("ctmViewer.input")
    assert sum(v == 1 for v in drawn) > sum(v == 1 for v in page.evaluate(
        "CTM_DATA.examples[0].input.flat(Infinity)"))
    prediction, certainty = expected(drawn, 4)
    assert page.inner_text("#prediction") == prediction
    assert page.evaluate("ctmViewer.certainty") == pytest.approx(certainty, abs=1e-5)
    page.screenshot(path=str(tmp_path / "digits.png"), full_page=True)
    # clear the image: a blank input, thought about as PyTorch does
    page.click("#clear")
    page.wait_for_function("ctmViewer.runs >= 3")
    assert set(page.evaluate("ctmViewer.input")) == {-1}
    prediction, certainty = expected(page.evaluate("ctmViewer.input"), 4)
    assert page.inner_text("#prediction") == prediction


def test_a_static_page_replays_pytorchs_outputs_without_a_model(browser: object,
                                                                parity_page: tuple[Path, Path],
                                                                tmp_path: Path) -> None:
    run, _ = parity_page
    assert cli(["viz", str(run), "--html", str(tmp_path / "static"), "--static",
                "--count", "2"]) == 0
    assert (tmp_path / "static" / "model.js").stat().st_size < 200  # no model inside
    _, model = load_run(run)
    page = open_page(browser, (tmp_path / "static" / "index.html").as_uri())
    page.locator("#tick").fill("5")
    prediction, certainty = parity_expected(model, page.evaluate("ctmViewer.input"), 5)
    assert page.inner_text("#prediction") == prediction
    assert page.evaluate("ctmViewer.certainty") == pytest.approx(certainty, abs=1e-6)
    assert page.locator(".bit").first.is_visible()
    assert page.locator(".bit.head").count() == 2 * 8  # each head's attention over 8 bits


def test_viewer_mistakes_are_one_line(parity_page: tuple[Path, Path], tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    run, _ = parity_page
    assert cli(["viz", str(run), "--static"]) == 2
    assert "add --html DIR" in capsys.readouterr().err
    sort = RunConfig.create("sort", {"length": 4, "eval_size": 8},
                            {"d_model": 16, "ticks": 6}, {"steps": 1, "eval_every": 1,
                                                          "batch_size": 4})
    Trainer(sort, tmp_path / "sort", progress=False).fit()
    assert cli(["viz", str(tmp_path / "sort"), "--html", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "no thought viewer yet (explore, images, maze, parity, sudoku" in err[0]
    assert cli(["viz", str(run), "--html", str(tmp_path / "y"), "--ort-dir",
                str(tmp_path)]) == 2
    assert "does not hold onnxruntime-web" in capsys.readouterr().err


def maze_expected(model: torch.nn.Module, maze: dict, tick: int) -> tuple[list[int], bool]:
    """PyTorch's moves at `tick` for the maze the page shows, and whether they solve it."""
    import numpy as np

    from ctm.tasks.maze import image_tensor
    from ctm.tasks.maze.data import follow, render
    from ctm.tasks.maze_world import Maze

    built = Maze(np.array(maze["open"], dtype=bool), tuple(maze["start"]), tuple(maze["goal"]))
    with torch.no_grad():
        out = model(image_tensor(render(built)).unsqueeze(0))
    moves = grouped_logits(out.logits, model.config.out_groups_shape)[0, tick - 1].argmax(-1)
    return moves.tolist(), follow(built, moves.tolist())[0]


@pytest.fixture(scope="module")
def maze_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    page = tmp_path_factory.mktemp("maze") / "page"
    assert cli(["viz", "bundled:maze15", "--html", str(page), "--count", "4"]) == 0
    return page


def test_the_bundled_maze_model_thinks_in_the_page_and_rethinks_an_edited_maze(
        browser: object, maze_page: Path, tmp_path: Path) -> None:
    _, model = load_run("bundled:maze15")
    page = open_page(browser, (maze_page / "index.html").as_uri())
    page.set_viewport_size({"width": 1280, "height": 1000})
    for tick in (1, 15, 30):
        page.locator("#tick").fill(str(tick))
        moves, solved = maze_expected(model, page.evaluate("ctmViewer.maze"), tick)
        assert page.evaluate("ctmViewer.moves") == moves
        assert page.evaluate("ctmViewer.solved") == solved
    before = page.evaluate("ctmViewer.moves")

    # click the first cell the route enters: it becomes a wall, and the model thinks again
    route = page.evaluate("ctmViewer.route")
    y, x = route[1] if len(route) > 1 else (1, 1)
    canvas = page.locator("#maze")
    box = canvas.bounding_box()
    size = len(page.evaluate("ctmViewer.maze.open"))
    page.mouse.click(box["x"] + (x + 0.5) * box["width"] / size,
                     box["y"] + (y + 0.5) * box["height"] / size)
    page.wait_for_function("ctmViewer.runs >= 2")
    maze = page.evaluate("ctmViewer.maze")
    assert maze["open"][y][x] is False
    moves, solved = maze_expected(model, maze, 30)
    assert page.evaluate("ctmViewer.moves") == moves != before
    assert page.evaluate("ctmViewer.solved") == solved

    # drag the goal onto another open cell
    goal = maze["goal"]
    target = next((r, c) for r in range(size) for c in range(size)
                  if maze["open"][r][c] and [r, c] not in (maze["start"], goal))
    cell = box["width"] / size
    page.mouse.move(box["x"] + (goal[1] + 0.5) * cell, box["y"] + (goal[0] + 0.5) * cell)
    page.mouse.down()
    page.mouse.move(box["x"] + (target[1] + 0.5) * cell, box["y"] + (target[0] + 0.5) * cell,
                    steps=5)
    page.mouse.up()
    page.wait_for_function("ctmViewer.runs >= 3")
    maze = page.evaluate("ctmViewer.maze")
    assert maze["goal"] == list(target)
    moves, solved = maze_expected(model, maze, 30)
    assert page.evaluate("ctmViewer.moves") == moves
    assert page.evaluate("ctmViewer.solved") == solved

    # per-tick latency: five more thoughts of the same maze
    times = []
    for k in range(5):
        page.evaluate("ctmViewer.think()")
        page.wait_for_function(f"ctmViewer.runs >= {4 + k}")
        times.append(page.evaluate("ctmViewer.lastRunMs"))
    times.sort()
    print(f"bundled maze15 in the page: median {times[2]:.1f} ms per thought of 30 ticks, "
          f"{times[2] / 30:.2f} ms per tick")
    page.screenshot(path=str(tmp_path / "maze.png"), full_page=True)


def most_certain_walk(model: torch.nn.Module, maze: dict) -> tuple[bool, list[int]]:
    """PyTorch's most certain route for the maze the page shows: solved, and where it ends."""
    import numpy as np

    from ctm.tasks.maze import image_tensor
    from ctm.tasks.maze.data import follow, render
    from ctm.tasks.maze_world import Maze

    built = Maze(np.array(maze["open"], dtype=bool), tuple(maze["start"]), tuple(maze["goal"]))
    with torch.no_grad():
        out = model(image_tensor(render(built)).unsqueeze(0))
    moves = grouped_logits(out.logits, model.config.out_groups_shape)[0].argmax(-1)
    solved, end, _ = follow(built, moves[int(out.certainty[0].argmax())].tolist())
    return solved, list(end)


def test_the_maze_page_opens_on_a_solved_maze_and_teleports_as_eval_reapplies(
        browser: object, maze_page: Path) -> None:
    _, model = load_run("bundled:maze15")
    page = open_page(browser, (maze_page / "index.html").as_uri())
    titles = page.evaluate("CTM_DATA.examples.map((e) => e.title)")
    solved = [t.endswith(": solved by the model") for t in titles]
    assert solved[0] and solved == sorted(solved, reverse=True), titles
    maze = page.evaluate("ctmViewer.maze")
    assert most_certain_walk(model, maze)[0]

    # the route at a tick that goes nowhere says so (it used to read "in 0 moves:")
    start = maze["start"]
    wall = next(k for k, (dy, dx) in enumerate(((-1, 0), (1, 0), (0, -1), (0, 1)))
                if not maze["open"][start[0] + dy][start[1] + dx])
    line = page.evaluate(f"ctmViewer.describe([{wall}, ...Array(49).fill(4)])")
    assert line == f"does not move: its first move, {'UDLR'[wall]}, runs into a wall"

    # a wall across the route: the goal is cut off (no loops), so the route stops short;
    # teleport moves the start to where the most certain route ends, as `ctm eval` re-applies
    route = page.evaluate("ctmViewer.route")
    y, x = route[len(route) // 2]
    page.evaluate(f"ctmViewer.editMaze({y}, {x}, 'wall')")
    page.wait_for_function("ctmViewer.runs >= 2")
    cut = page.evaluate("ctmViewer.maze")
    reached, end = most_certain_walk(model, cut)
    assert not reached
    moved = page.evaluate("ctmViewer.teleport()")
    assert moved == (end != cut["start"]) and moved  # this maze's route stops mid-way
    assert page.evaluate("ctmViewer.maze.start") == end
    # the wall removed again, auto-solve teleports until the route reaches the goal
    page.evaluate(f"ctmViewer.editMaze({y}, {x}, 'wall')")
    page.wait_for_function("ctmViewer.runs >= 4")
    assert page.evaluate("ctmViewer.autoSolve()") is True
    assert most_certain_walk(model, page.evaluate("ctmViewer.maze"))[0]
    assert "reaches the goal after" in page.locator("#hops").inner_text()
    hops = page.evaluate("ctmViewer.hops")
    assert hops >= 1 and page.evaluate("ctmViewer.journey.length") >= hops  # walked, in grey


def sudoku_expected(model: torch.nn.Module, grid: list[list[int]], tick: int) -> list[int]:
    """PyTorch's digit (1..n) for every cell at `tick`, for the grid the page shows."""
    import numpy as np

    from ctm.tasks.sudoku import tokens

    with torch.no_grad():
        out = model(tokens(np.array([grid])))
    picks = grouped_logits(out.logits, model.config.out_groups_shape)[0, tick - 1].argmax(-1)
    return (picks + 1).tolist()


@pytest.mark.parametrize("variant", ["attention", "direct"])
def test_a_sudoku_thinks_in_the_page_and_again_after_an_edit(browser: object, tmp_path: Path,
                                                              variant: str) -> None:
    run = train(tmp_path, "sudoku", {"size": 4, "train_puzzles": 32, "eval_size": 4,
                                     "input": variant}, steps=20)
    assert cli(["viz", str(run), "--html", str(tmp_path / "page"), "--count", "3"]) == 0
    _, model = load_run(run)
    page = open_page(browser, (tmp_path / "page" / "index.html").as_uri())
    grid = page.evaluate("ctmViewer.grid")
    n = len(grid)
    for tick in (1, 6):
        page.locator("#tick").fill(str(tick))
        digits = sudoku_expected(model, grid, tick)
        filled = [[grid[r][c] or digits[r * n + c] for c in range(n)] for r in range(n)]
        assert page.evaluate("ctmViewer.fill.filled") == filled
        cells = page.locator("#sudoku .cell")
        assert cells.count() == n * n
        assert [int(t) for t in cells.all_inner_texts()] == [v for row in filled for v in row]
    # the colours say right or wrong against the puzzle's solution
    solution = page.evaluate("CTM_DATA.examples[0].solution")
    wrong = sum(1 for r in range(n) for c in range(n)
                if not grid[r][c] and filled[r][c] != solution[r][c])
    assert page.locator("#sudoku .cell.wrong").count() == wrong
    assert page.locator("#sudoku .cell.given").count() == sum(v > 0 for row in grid for v in row)
    assert (page.locator("#sudoku .cell.given").count() + page.locator("#sudoku .cell.right")
            .count() + wrong) == n * n
    # an empty cell clicked twice gets the given 2; the page thinks again, as PyTorch does
    empty = next(r * n + c for r in range(n) for c in range(n) if not grid[r][c])
    page.click(f"#sudoku .cell[data-cell='{empty}']")
    page.wait_for_function("ctmViewer.runs >= 2")
    page.click(f"#sudoku .cell[data-cell='{empty}']")
    page.wait_for_function("ctmViewer.runs >= 3")
    grid[empty // n][empty % n] = 2
    assert page.evaluate("ctmViewer.grid") == grid
    digits = sudoku_expected(model, grid, 6)
    assert page.evaluate("ctmViewer.fill.filled") == [[grid[r][c] or digits[r * n + c]
                                                  for c in range(n)] for r in range(n)]
    assert "repeat a digit" in page.inner_text("#prediction") or "solved" in page.inner_text(
        "#prediction")
    page.screenshot(path=str(tmp_path / "sudoku.png"), full_page=True)


def explore_run(tmp: Path, name: str, agents: int, model: dict) -> Path:
    run = RunConfig.create("explore", {"size": 7, "eval_episodes": 4, "agents": agents},
                           model, {"steps": 2, "eval_every": 2, "checkpoint_every": 2,
                                   "batch_size": 4, "threads": 1})
    Trainer(run, tmp / name, progress=False).fit()
    return tmp / name


def replay_team(model: torch.nn.Module, maze: object, budget: float,
                agents: list[dict]) -> tuple[list[list[tuple[int, int]]], list]:
    """The page's recorded actions walked again in a fresh world by the model, independently of
    the recording: where each agent stood before each step, and the model's probabilities."""
    import numpy as np

    from ctm.tasks.explore.world import TeamWalk

    world = TeamWalk(len(agents), 7, budget, held_out=True)
    obs, _ = world.reset(maze=maze)
    state = model.initial_state(len(agents))
    stood: list[list[tuple[int, int]]] = [[] for _ in agents]
    probabilities = []
    with torch.no_grad():
        for t in range(len(agents[0]["actions"])):
            out = model(torch.from_numpy(obs), state=state)
            probabilities.append(torch.softmax(out.logits[:, -1], -1))
            for k, member in enumerate(world.members):
                stood[k].append(member.at)
            obs, *_ = world.step(np.array([a["actions"][t] for a in agents]))
            state = out.state
    return stood, probabilities


def test_the_episode_page_plays_a_team_through_a_held_out_maze_step_by_step(
        browser: object, tmp_path: Path) -> None:
    """explore (two agents, one shared memory): the page's positions, choices and probabilities
    are those of the model walking the same held-out maze again outside the recording; its
    memory rings sit where an agent stood earlier; stepping, the keys and play move it."""
    from ctm.run.config import build_task

    run_dir = explore_run(tmp_path, "team", 2, {"d_model": 32, "n_sync_out": 16,
                                                "memory_slots": 8})
    assert cli(["viz", str(run_dir), "--html", str(tmp_path / "page"), "--count", "3"]) == 0
    run, model = load_run(run_dir)
    task = build_task(run)
    page = open_page(browser, (tmp_path / "page" / "index.html").as_uri(), state="ctmEpisodes")
    data = page.evaluate("window.CTM_EPISODES")
    assert len(data["episodes"]) == 3 and data["memory"] == "shared" and data["slots"] == 16
    solved = [e["solved"] for e in data["episodes"]]
    assert solved == sorted(solved, reverse=True)  # the page opens on a solved maze if any
    world = task.world(held_out=True)
    mazes = {tuple("".join("." if c else "#" for c in row) for row in m.open): m
             for m in (world.draw_maze(s) for s in task.eval_seeds(3, run.train.seed))}
    episode = data["episodes"][0]
    maze = mazes[tuple(episode["maze"])]  # a held-out maze of the run's evaluation
    stood, probabilities = replay_team(model, maze, task.options.budget, episode["agents"])
    for k, agent in enumerate(episode["agents"]):
        assert [tuple(p) for p in agent["at"][:-1]] == stood[k]
        for t, p in enumerate(probabilities):
            assert agent["probabilities"][t] == pytest.approx(p[k].tolist(), abs=2e-4)

    page.select_option("#agent", "1")
    agent = episode["agents"][1]
    for t in (1, 2, min(5, episode["steps"])):
        page.locator("#step").fill(str(t))
        assert tuple(page.evaluate("ctmEpisodes.position")) == stood[1][t - 1]
        circle = page.locator("#walker")
        y, x = stood[1][t - 1]
        assert (float(circle.get_attribute("cx")), float(circle.get_attribute("cy"))) == (
            x * 20 + 10, y * 20 + 10)
        assert page.inner_text("#chosen").split()[0] == data["actions"][agent["actions"][t - 1]]
        rings = page.locator("circle.read").count()
        assert rings == len(agent["reads"][t - 1])
        earlier = {p for walked in stood for p in walked[:t - 1]}
        assert all((ry, rx) in earlier for ry, rx, _ in agent["reads"][t - 1])
        if t == 1:
            assert "empty" in page.inner_text("#memory") and rings == 0
            h, w = maze.shape
            window = sum(1 for dy in range(-2, 3) for dx in range(-2, 3)
                         if 0 <= y + dy < h and 0 <= x + dx < w)
            assert page.locator("rect.seen").count() == window
        else:
            assert 0.9 < sum(w for *_, w in agent["reads"][t - 1]) <= 1 + 1e-3
            assert "steps back on average" in page.inner_text("#memory")
    page.click("h1")  # the keys step the episode anywhere on the page
    page.keyboard.press("ArrowLeft")
    assert page.evaluate("ctmEpisodes.step") == min(5, episode["steps"]) - 1
    page.click("#next")
    page.locator("#step").fill("1")
    page.click("#play")
    page.wait_for_function(f"ctmEpisodes.step >= {min(4, episode['steps'] + 1)}")
    page.click("#play")
    assert not page.evaluate("ctmEpisodes.playing")
    page.locator("#step").fill(str(episode["steps"] + 1))
    assert "the end" in page.inner_text("#step-label")
    page.screenshot(path=str(tmp_path / "episode.png"), full_page=True)
    assert (tmp_path / "episode.png").stat().st_size > 10_000


def test_the_episode_page_of_an_agent_without_memory_says_so(browser: object,
                                                             tmp_path: Path) -> None:
    run_dir = explore_run(tmp_path, "lone", 1, {"architecture": "lstm", "d_model": 32,
                                                "memory_slots": 0})
    assert cli(["viz", str(run_dir), "--html", str(tmp_path / "page"), "--count", "1"]) == 0
    page = open_page(browser, (tmp_path / "page" / "index.html").as_uri(), state="ctmEpisodes")
    assert "no explicit memory" in page.inner_text("#memory")
    assert not page.locator("#agent-box").is_visible()
    agent = page.evaluate("CTM_EPISODES.episodes[0].agents[0]")
    assert page.locator("#neurons rect").count() == len(agent["activity"]) * 32  # hidden units
    assert page.locator("circle.read").count() == 0
