"""Every code block of the README runs as written: the library example, the command tour, and
the two commands (the quickstart with a short training; the test command is what CI runs)."""

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from ctm.cli import main

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def blocks(language: str) -> list[str]:
    return [body for lang, body in BLOCK.findall((ROOT / "README.md").read_text())
            if lang == language]


def test_every_block_says_what_it_is():
    languages = [lang for lang, _ in BLOCK.findall((ROOT / "README.md").read_text())]
    assert set(languages) <= {"bash", "python", "text"}, languages
    assert languages.count("python") == 1 and languages.count("bash") == 2


def test_the_library_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(blocks("python")[0], "README.md", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("torch.Size([8, 32])")
    assert printed[1].startswith("maze 15 ")
    assert (tmp_path / "my_model" / "model.safetensors").is_file()


@pytest.mark.slow
def test_the_command_tour_runs_line_by_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    tour = blocks("bash")[1]
    commands = [shlex.split(line, comments=True) for line in tour.splitlines()]
    commands = [c for c in commands if c]
    assert len(commands) >= 10 and all(c[0] == "ctm" for c in commands)
    for command in commands:
        try:
            status = main(command[1:])
        except SystemExit as exit_:  # --help ends through argparse
            status = exit_.code
        assert status == 0, (command, capsys.readouterr().err)
    assert (tmp_path / "runs" / "p8-tuned" / "model" / "model.safetensors").is_file()
    assert (tmp_path / "runs" / "p8" / "viz" / "ticks_sweep.png").is_file()
    assert "CTM_EPISODES" in (tmp_path / "runs" / "explore-page" / "data.js").read_text()


@pytest.mark.slow
def test_the_quickstart_runs(tmp_path):
    commands = [shlex.split(line, comments=True) for line in blocks("bash")[0].splitlines()]
    assert commands == [["bash", "scripts/quickstart.sh"], ["bash", "scripts/test.sh"]]
    # scripts/test.sh is the command CI runs, so it is running now; the quickstart runs with
    # a short training (its extra flags go to `ctm train`)
    done = subprocess.run(["bash", "scripts/quickstart.sh", "--steps", "20", "--eval-every",
                           "20", "--eval-size", "64"], cwd=ROOT, capture_output=True,
                          text=True, check=False, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "held-out: 22 distinct sequences that training never draws" in done.stdout
    run = re.search(r"run directory: (\S+)", done.stdout).group(1)
    shutil.rmtree(ROOT / run)
