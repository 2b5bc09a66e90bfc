"""Sudoku data: the solver, the rating, the generator, the readers and the augmentations."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from ctm.tasks.sudoku.data import (
    augment,
    format_line,
    generate,
    generate_rated,
    is_solution,
    parse_line,
    read_puzzles,
    signature,
    solve,
)

# a puzzle published as one of the hardest for people (Arto Inkala, 2012): unique, needs search
HARD = "8..........36......7..9.2...5...7.......457.....1...3...1....68..85...1..9....4.."
# an easy one: every empty cell follows by singles alone
EASY = ("53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79")
EASY_SOLUTION = ("534678912672195348198342567859761423426853791713924856961537284287419635"
                 "345286179")


def test_an_easy_puzzle_is_solved_by_propagation_alone() -> None:
    grid = parse_line(EASY)
    solved = solve(grid)
    assert len(solved.solutions) == 1 and solved.nodes == 0
    assert format_line(solved.solutions[0]) == EASY_SOLUTION
    assert is_solution(grid, solved.solutions[0])


def test_a_hard_puzzle_needs_search_and_has_one_solution() -> None:
    grid = parse_line(HARD)
    solved = solve(grid)
    assert len(solved.solutions) == 1 and solved.nodes > 50
    assert is_solution(grid, solved.solutions[0])


def test_the_solver_counts_solutions_up_to_its_limit_and_finds_none_for_a_broken_grid() -> None:
    assert len(solve(np.zeros((4, 4), dtype=np.int64), limit=5).solutions) == 5
    broken = parse_line(EASY)
    broken[0, 2] = 5  # a second 5 in the first row
    assert solve(broken).solutions == []
    unsolvable = parse_line("12.." "..12" "...." "....", size=4)
    unsolvable[2, 0], unsolvable[3, 0] = 3, 3  # two 3s in the first column
    assert solve(unsolvable).solutions == []


def test_is_solution_rejects_what_breaks_a_rule_or_a_given() -> None:
    grid = parse_line(EASY)
    good = parse_line(EASY_SOLUTION)
    assert is_solution(grid, good)
    swapped = good.copy()
    swapped[0, [0, 1]] = swapped[0, [1, 0]]  # rows still hold 1-9, columns no longer do
    assert not is_solution(grid, swapped)
    other = good.copy()
    other[[0, 1]] = other[[1, 0]]  # a valid grid only if it kept the givens: it does not
    assert not is_solution(grid, other)


@pytest.mark.parametrize("size", [4, 6, 9])
def test_generated_puzzles_have_one_solution_and_no_given_to_spare(size: int) -> None:
    rng = random.Random(size)
    for _ in range(3 if size == 9 else 10):
        puzzle = generate(size, rng)
        assert is_solution(puzzle.grid, puzzle.solution)
        solved = solve(puzzle.grid)
        assert len(solved.solutions) == 1 and solved.nodes == puzzle.rating
        assert np.array_equal(solved.solutions[0], puzzle.solution)
        for r, c in zip(*np.nonzero(puzzle.grid), strict=True):  # minimal
            fewer = puzzle.grid.copy()
            fewer[r, c] = 0
            assert len(solve(fewer).solutions) == 2


def test_generation_is_a_function_of_the_seed_and_rated_draws_meet_their_rating() -> None:
    a, b = generate(6, random.Random(7)), generate(6, random.Random(7))
    assert np.array_equal(a.grid, b.grid)
    hard = generate_rated(9, random.Random(1), min_rating=5)
    assert hard.rating >= 5 and solve(hard.grid).nodes == hard.rating


@pytest.mark.parametrize("size", [4, 6, 9])
def test_augmentations_keep_the_puzzle_its_solution_and_its_signature(size: int) -> None:
    rng = random.Random(3)
    puzzle = generate(size, rng)
    seen = set()
    for _ in range(20):
        grid, solution = augment(puzzle.grid, puzzle.solution, rng)
        assert is_solution(grid, solution)
        assert len(solve(grid).solutions) == 1
        assert (grid != 0).sum() == (puzzle.grid != 0).sum()
        assert signature(grid) == signature(puzzle.grid)
        seen.add(format_line(grid))
    assert len(seen) > 10  # it really moves things around


def test_signatures_tell_most_different_puzzles_apart() -> None:
    rng = random.Random(11)
    puzzles = [generate(9, rng).grid for _ in range(12)]
    assert len({signature(p) for p in puzzles}) >= 10


def test_the_one_line_reader_and_its_mistakes(tmp_path: Path) -> None:
    assert format_line(parse_line(HARD)) == HARD
    assert np.array_equal(parse_line(HARD.replace(".", "0")), parse_line(HARD))
    with pytest.raises(ValueError, match="has 81 characters, got 80"):
        parse_line(HARD[:-1])
    with pytest.raises(ValueError, match="character 3 is 'x'"):
        parse_line("12x" + HARD[3:])
    path = tmp_path / "puzzles.txt"
    path.write_text(f"# two puzzles\n{HARD}\n\n{EASY}\n")
    read = read_puzzles(path)
    assert [format_line(p.grid) for p in read] == [HARD, EASY]
    assert [p.where for p in read] == [f"{path}:2", f"{path}:4"]
    (tmp_path / "bad.txt").write_text(HARD + "\n" + HARD[:40] + "\n")
    with pytest.raises(ValueError, match="bad.txt:2: a 9×9 sudoku has 81 characters"):
        read_puzzles(tmp_path / "bad.txt")
    (tmp_path / "empty.txt").write_text("# nothing\n")
    with pytest.raises(ValueError, match="holds no puzzle"):
        read_puzzles(tmp_path / "empty.txt")


def test_the_csv_reader_takes_the_sudoku_extreme_columns(tmp_path: Path) -> None:
    path = tmp_path / "test.csv"
    path.write_text("source,question,answer,rating\n"
                    f"demo,{EASY},{EASY_SOLUTION},0\n"
                    f"demo,{HARD.replace('.', '0')},,\n")
    easy, hard = read_puzzles(path)
    assert format_line(easy.grid) == EASY and format_line(easy.solution) == EASY_SOLUTION
    assert easy.rating == 0 and hard.solution is None and hard.rating is None
    assert format_line(hard.grid) == HARD and hard.where == f"{path}:3"
    (tmp_path / "wrong.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="needs a 'question'"):
        read_puzzles(tmp_path / "wrong.csv")
    with pytest.raises(FileNotFoundError):
        read_puzzles(tmp_path / "missing.csv")


def _csv(tmp_path: Path, *rows: str, name: str = "p.csv", header: str = "question,answer,rating"
         ) -> Path:
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_a_csv_row_that_does_not_fit_the_header_names_its_line(tmp_path: Path) -> None:
    short = _csv(tmp_path, f"{EASY},{EASY_SOLUTION},0", f"{EASY},{EASY_SOLUTION}")
    with pytest.raises(ValueError, match=r"p.csv:3: 2 fields where the header has 3 "
                                         r"\(question, answer, rating\)"):
        read_puzzles(short)
    long = _csv(tmp_path, f"{EASY},{EASY_SOLUTION},0,extra", name="q.csv")
    with pytest.raises(ValueError, match="q.csv:2: 4 fields where the header has 3"):
        read_puzzles(long)


def test_answers_that_do_not_solve_and_givens_that_break_the_rules_are_refused(
        tmp_path: Path) -> None:
    wrong = EASY_SOLUTION[1] + EASY_SOLUTION[0] + EASY_SOLUTION[2:]  # two digits swapped
    with pytest.raises(ValueError, match="p.csv:2: the answer does not solve the question "
                                         r"\(digit \d twice in column"):
        read_puzzles(_csv(tmp_path, f"{EASY},{wrong},0"))
    # a valid grid, but not this puzzle's: its givens differ
    other = EASY_SOLUTION[9:18] + EASY_SOLUTION[:9] + EASY_SOLUTION[18:]
    with pytest.raises(ValueError, match=r"the answer does not solve the question \(it changes "
                                         r"a given\)"):
        read_puzzles(_csv(tmp_path, f"{EASY},{other},0", name="other.csv"))
    with pytest.raises(ValueError, match=r"it leaves cells empty"):
        read_puzzles(_csv(tmp_path, f"{EASY},{'.' + EASY_SOLUTION[1:]},0", name="gap.csv"))
    first_given = next(k for k, ch in enumerate(EASY) if ch not in ".0")
    twice = EASY[:first_given] + EASY[first_given] * 2 + EASY[first_given + 2:]
    assert twice != EASY
    path = tmp_path / "rules.txt"
    path.write_text(f"# header\n{twice}\n")
    with pytest.raises(ValueError, match=r"rules.txt:2: the givens break the rules \(digit "
                                         r"\d twice in row \d\)"):
        read_puzzles(path)


def test_ratings_must_be_whole_numbers(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="p.csv:2: rating 'hard' is not a whole number"):
        read_puzzles(_csv(tmp_path, f"{EASY},{EASY_SOLUTION},hard"))
    with pytest.raises(ValueError, match="n.csv:2: rating -3 is negative"):
        read_puzzles(_csv(tmp_path, f"{EASY},{EASY_SOLUTION},-3", name="n.csv"))


def test_a_byte_order_mark_is_read_past_and_binary_files_and_folders_are_named(
        tmp_path: Path) -> None:
    marked = tmp_path / "excel.csv"
    marked.write_bytes(b"\xef\xbb\xbfquestion,answer\n" + f"{EASY},\n".encode())
    assert format_line(read_puzzles(marked)[0].grid) == EASY
    text = tmp_path / "marked.txt"
    text.write_bytes(b"\xef\xbb\xbf" + EASY.encode() + b"\n")
    assert format_line(read_puzzles(text)[0].grid) == EASY
    binary = tmp_path / "puzzles.npz"
    binary.write_bytes(b"PK\x03\x04\x00\x00" + bytes(range(256)))
    with pytest.raises(ValueError, match="puzzles.npz is a binary file, not puzzles as text"):
        read_puzzles(binary)
    latin = tmp_path / "latin.txt"
    latin.write_bytes(EASY.encode() + b"\n# caf\xe9\n")
    with pytest.raises(ValueError, match="latin.txt:2: byte 88 is not UTF-8 text"):
        read_puzzles(latin)
    with pytest.raises(ValueError, match="is a folder; give a file of puzzles"):
        read_puzzles(tmp_path)


def test_a_minimum_rating_no_generated_puzzle_reaches_gives_up_in_one_line() -> None:
    # every 4×4 puzzle is solved by propagation alone: rating 0
    with pytest.raises(ValueError, match=r"none of 1000 generated 4×4 puzzles reached rating 1 "
                                         r"\(the highest: 0\); lower --eval-min-rating"):
        generate_rated(4, random.Random(0), 1, "--eval-min-rating")
