"""Long work says how far along it is: a bar on a terminal, plain lines in a log."""

from __future__ import annotations

import io

import pytest

from ctm import progress as progress_module
from ctm.progress import Progress, reported


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """A clock the test moves by hand."""
    now = [1000.0]
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: now[0])
    return now


def test_off_a_terminal_a_line_every_few_seconds_with_what_is_left(clock: list[float]) -> None:
    log = io.StringIO()
    with Progress(100, "generating train sudoku puzzles", "puzzle", file=log, every=10) as p:
        for k in range(100):
            clock[0] += 0.5  # 2 puzzles a second
            p.update()
            if k == 59:
                p.set_postfix(loss="0.1234")
    lines = log.getvalue().splitlines()
    # the first line after 2 s, then at 12, 22, 32 and 42 s, and the last one at the end
    assert len(lines) == 6 and "\r" not in log.getvalue()
    assert lines[0] == ("generating train sudoku puzzles: 4/100 puzzles (4%), 2 s, "
                        "about 48 s left")
    assert lines[1].startswith("generating train sudoku puzzles: 24/100 puzzles (24%), 12 s")
    assert lines[3].endswith("loss 0.1234")
    assert lines[-1].startswith("generating train sudoku puzzles: 100/100 puzzles (100%), 50 s")


def test_short_work_off_a_terminal_says_nothing(clock: list[float]) -> None:
    log = io.StringIO()
    for _ in reported(range(5), "evaluating", file=log):
        clock[0] += 0.3
    assert log.getvalue() == ""


def test_a_stage_of_a_few_seconds_says_where_it_is(clock: list[float]) -> None:
    """A command of several short stages is never silent for long: each stage that runs past
    two seconds says so, though it ends long before the ten-second lines."""
    log = io.StringIO()
    for stage in ("evaluating", "re-applying at 21x21"):
        for _ in reported(range(5), stage, file=log):
            clock[0] += 1
    assert log.getvalue().splitlines() == [
        "evaluating: 2/5 batches (40%), 2 s, about 3 s left",
        "evaluating: 5/5 batches (100%), 5 s",
        "re-applying at 21x21: 2/5 batches (40%), 2 s, about 3 s left",
        "re-applying at 21x21: 5/5 batches (100%), 5 s"]


def test_on_a_terminal_it_is_a_bar_and_lines_go_above_it(clock: list[float],
                                                          capsys: pytest.CaptureFixture) -> None:
    screen = Terminal()
    with Progress(4, "training parity", "step", file=screen) as p:
        p.update(2)
        p.write("step 2: accuracy 0.5")
    assert "training parity" in screen.getvalue() and "2/4" in screen.getvalue()
    assert capsys.readouterr().out == "step 2: accuracy 0.5\n"


def test_disabled_progress_still_writes_its_lines(clock: list[float],
                                                  capsys: pytest.CaptureFixture) -> None:
    log = Terminal()
    with Progress(10, "training", "step", file=log, enabled=False, every=0) as p:
        clock[0] += 100
        p.update(10)
        p.write("done")
    assert log.getvalue() == "" and capsys.readouterr().out == "done\n"


def test_unknown_totals_count_and_units_are_plural(clock: list[float]) -> None:
    log = io.StringIO()
    for _ in reported(iter(range(3)), "re-applying the model", file=log, every=0):
        clock[0] += 20
    assert log.getvalue().splitlines()[0] == "re-applying the model: 1 batch, 20 s"
    assert log.getvalue().splitlines()[-1] == "re-applying the model: 3 batches, 1 min 00 s"
