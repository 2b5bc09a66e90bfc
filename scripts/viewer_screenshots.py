"""Screenshots of the thought viewer for the docs: the bundled maze model, and a digits model
and a 4×4 Sudoku model trained here (the Sudoku one with the slow test's recipe); with
--explore RUN, also the episode viewer of that explore run (docs/results.md says which).

    python scripts/viewer_screenshots.py WORK_DIR [--images docs/images] [--explore RUN]

Needs Debian's Chromium and Playwright (scripts/setup.sh installs Playwright; apt-get install
chromium). Pages load from the file system with every network request refused.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def ctm(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "ctm", *args], check=True)


def load(browser: object, page_dir: Path, state: str) -> object:
    """The folder's page, offline, once its `window.<state>` is ready (or failed)."""
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:")
               else r.abort())
    page.goto((page_dir / "index.html").as_uri())
    page.wait_for_function(f"window.{state} && ({state}.ready || {state}.error)",
                           timeout=120_000)
    return page


def shoot(browser: object, page_dir: Path, tick: int, target: Path) -> float:
    page = load(browser, page_dir, "ctmViewer")
    page.locator("#tick").fill(str(tick))
    page.screenshot(path=str(target), full_page=True)
    milliseconds = page.evaluate("ctmViewer.lastRunMs")
    page.close()
    print(f"wrote {target} (one thought: {milliseconds:.1f} ms)")
    return milliseconds


def shoot_episode(browser: object, page_dir: Path, step: int, target: Path) -> None:
    page = load(browser, page_dir, "ctmEpisodes")
    page.locator("#step").fill(str(step))
    page.screenshot(path=str(target), full_page=True)
    page.close()
    print(f"wrote {target}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("work", type=Path, help="folder for the pages and the digits run")
    parser.add_argument("--images", type=Path, default=Path("docs/images"))
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--explore", type=Path, help="an explore run: shoot its episode page")
    parser.add_argument("--explore-step", type=int, default=12,
                        help="the step of the first episode the explore shot shows")
    parser.add_argument("--explore-only", action="store_true",
                        help="with --explore: that shot only")
    args = parser.parse_args()
    args.images.mkdir(parents=True, exist_ok=True)
    if not args.explore_only:
        ctm("viz", "bundled:maze15", "--html", str(args.work / "maze-page"), "--count", "8")
        run = args.work / "digits-run"
        if not (run / "model").is_dir():
            ctm("train", "images", "--steps", "400", "--threads", "2", "--no-progress",
                "--out", str(run))
        ctm("viz", str(run), "--html", str(args.work / "digits-page"))
        sudoku = args.work / "sudoku-run"
        if not (sudoku / "model").is_dir():
            ctm("train", "sudoku", "--size", "4", "--input", "direct", "--d-model", "128",
                "--ticks", "8", "--steps", "1500", "--lr", "3e-3", "--threads", "2",
                "--no-progress", "--out", str(sudoku))
        ctm("viz", str(sudoku), "--html", str(args.work / "sudoku-page"))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=ARGS)
        if not args.explore_only:
            shoot(browser, args.work / "maze-page", 30, args.images / "viewer-maze.png")
            shoot(browser, args.work / "digits-page", 10, args.images / "viewer-digits.png")
            shoot(browser, args.work / "sudoku-page", 4, args.images / "viewer-sudoku.png")
        if args.explore is not None:
            ctm("viz", str(args.explore), "--html", str(args.work / "explore-page"))
            shoot_episode(browser, args.work / "explore-page", args.explore_step,
                          args.images / "viewer-explore.png")
        browser.close()


if __name__ == "__main__":
    main()
