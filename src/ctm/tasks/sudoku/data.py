"""Sudoku data: a solver that rates puzzles by the search they need, a generator of puzzles
with a unique solution, readers for puzzles on disk, and the augmentations training uses.

A grid is an (n, n) array of ints, 0 for an empty cell, for n = 4 (2×2 boxes), 6 (2×3) or 9
(3×3). The solver propagates constraints (a cell with one candidate left; a digit with one place
left in a row, column or box) and searches where propagation stops, on the cell with the fewest
candidates. A puzzle's rating is the number of search nodes needed to find its solution and prove
there is no other: 0 means propagation alone solves it; "extreme" puzzles need search.

Held-out puzzles must never appear in training, augmentations included. Every augmentation
(digit relabelling, band, stack, row-in-band and column-in-stack permutations, transposition)
keeps a puzzle's `signature`, so a held-out set that shares no signature with the training
puzzles contains none of their augmentations.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BLANKS = ".0"  # characters that mean an empty cell in the one-line format


@dataclass(frozen=True)
class Shape:
    box_rows: int
    box_cols: int

    @property
    def n(self) -> int:
        return self.box_rows * self.box_cols

    def box_of(self, row: int, col: int) -> int:
        return (row // self.box_rows) * (self.n // self.box_cols) + col // self.box_cols


SHAPES = {4: Shape(2, 2), 6: Shape(2, 3), 9: Shape(3, 3)}


def shape_of(size: int) -> Shape:
    if size not in SHAPES:
        raise ValueError(f"sudoku size must be one of {sorted(SHAPES)}, got {size}")
    return SHAPES[size]


def _units(shape: Shape) -> tuple[list[list[int]], list[list[int]]]:
    """Every unit (row, column, box) as cell indices, and each cell's peers."""
    n = shape.n
    rows = [[r * n + c for c in range(n)] for r in range(n)]
    cols = [[r * n + c for r in range(n)] for c in range(n)]
    boxes: list[list[int]] = [[] for _ in range(n)]
    for r in range(n):
        for c in range(n):
            boxes[shape.box_of(r, c)].append(r * n + c)
    units = rows + cols + boxes
    peers = [sorted({p for u in units if cell in u for p in u} - {cell})
             for cell in range(n * n)]
    return units, peers


_UNITS: dict[Shape, tuple[list[list[int]], list[list[int]]]] = {}


def units(shape: Shape) -> tuple[list[list[int]], list[list[int]]]:
    if shape not in _UNITS:
        _UNITS[shape] = _units(shape)
    return _UNITS[shape]


@dataclass
class Solved:
    solutions: list[np.ndarray]  # up to the limit asked for
    nodes: int  # search nodes: guesses made beyond what propagation decides


class _Contradiction(Exception):
    pass


def _propagate(candidates: list[int], shape: Shape) -> None:
    """Apply naked and hidden singles until nothing changes (in place); raise on a dead end."""
    unit_list, peers = units(shape)
    changed = True
    while changed:
        changed = False
        for cell, mask in enumerate(candidates):
            if mask == 0:
                raise _Contradiction
            if mask & (mask - 1) == 0:  # one candidate: no peer may keep it
                for peer in peers[cell]:
                    if candidates[peer] & mask:
                        candidates[peer] &= ~mask
                        if candidates[peer] == 0:
                            raise _Contradiction
                        changed = True
        for unit in unit_list:
            for digit in range(shape.n):
                bit = 1 << digit
                places = [cell for cell in unit if candidates[cell] & bit]
                if not places:
                    raise _Contradiction
                if len(places) == 1 and candidates[places[0]] != bit:
                    candidates[places[0]] = bit
                    changed = True


def solve(grid: np.ndarray, limit: int = 2, rng: random.Random | None = None) -> Solved:
    """Solutions of `grid` (at most `limit`) and the search nodes spent; `rng` shuffles the
    order digits are tried in (to draw a random full grid from an empty one)."""
    n = grid.shape[0]
    shape = shape_of(n)
    full = (1 << n) - 1
    start = [full if v == 0 else 1 << (int(v) - 1) for v in grid.flatten()]
    solutions: list[np.ndarray] = []
    nodes = 0

    def search(candidates: list[int]) -> None:
        nonlocal nodes
        try:
            _propagate(candidates, shape)
        except _Contradiction:
            return
        open_cells = [c for c, m in enumerate(candidates) if m & (m - 1)]
        if not open_cells:
            solutions.append(np.array([m.bit_length() for m in candidates],
                                      dtype=np.int64).reshape(n, n))
            return
        cell = min(open_cells, key=lambda c: bin(candidates[c]).count("1"))
        digits = [d for d in range(n) if candidates[cell] >> d & 1]
        if rng is not None:
            rng.shuffle(digits)
        for digit in digits:
            if len(solutions) >= limit:
                return
            nodes += 1
            branch = candidates.copy()
            branch[cell] = 1 << digit
            search(branch)

    if _consistent(grid, shape):
        search(start)
    return Solved(solutions, nodes)


def _consistent(grid: np.ndarray, shape: Shape) -> bool:
    """No digit twice in a unit among the givens."""
    flat = grid.flatten()
    for unit in units(shape)[0]:
        given = [int(flat[c]) for c in unit if flat[c]]
        if len(given) != len(set(given)):
            return False
    return True


def is_solution(grid: np.ndarray, solution: np.ndarray) -> bool:
    """`solution` fills every cell validly and agrees with the givens of `grid`."""
    n = grid.shape[0]
    shape = shape_of(n)
    flat = solution.flatten()
    if sorted(set(flat.tolist())) != list(range(1, n + 1)) or not _consistent(solution, shape):
        return False
    if any(len({int(flat[c]) for c in unit}) != n for unit in units(shape)[0]):
        return False
    givens = grid != 0
    return bool((grid[givens] == solution[givens]).all())


def rating(grid: np.ndarray) -> int:
    """Search nodes needed to solve `grid` and prove its solution unique."""
    return solve(grid, limit=2).nodes


def singles_rounds(grid: np.ndarray, solution: np.ndarray) -> np.ndarray:
    """For each cell, the round of singles that fills it, starting from the givens: in round r
    every empty cell that is a naked single (one candidate left) or a hidden single (the only
    place left for a digit in a row, column or box) on the grid as rounds 1..r-1 left it is
    filled, all at once. 0 for a given, -1 for a cell that singles never reach (it needs
    search or subtler deductions). A model that propagates one round per tick would need r
    ticks for a cell of round r."""
    n = grid.shape[0]
    unit_list, peers = units(shape_of(n))
    current = grid.flatten().astype(np.int64)
    answer = solution.flatten()
    rounds = np.where(current == 0, -1, 0)
    r = 0
    while True:
        r += 1
        candidates = [0 if current[c] else
                      ((1 << n) - 1) & ~sum({1 << (int(current[p]) - 1)
                                             for p in peers[c] if current[p]})
                      for c in range(n * n)]
        found = {c for c, mask in enumerate(candidates) if mask and mask & (mask - 1) == 0}
        for unit in unit_list:
            for digit in range(n):
                places = [c for c in unit if candidates[c] >> digit & 1]
                if len(places) == 1:
                    found.add(places[0])
        if not found:
            return rounds.reshape(n, n)
        for c in found:
            current[c] = answer[c]
            rounds[c] = r


def random_solution(size: int, rng: random.Random) -> np.ndarray:
    return solve(np.zeros((size, size), dtype=np.int64), limit=1, rng=rng).solutions[0]


@dataclass
class Puzzle:
    grid: np.ndarray  # (n, n), 0 for empty
    solution: np.ndarray
    rating: int  # search nodes (see `rating`)


def generate(size: int, rng: random.Random) -> Puzzle:
    """A puzzle with a unique solution: a random full grid, then givens removed one at a time
    in random order while the solution stays unique (a minimal puzzle)."""
    solution = random_solution(size, rng)
    grid = solution.copy()
    cells = list(range(size * size))
    rng.shuffle(cells)
    for cell in cells:
        r, c = divmod(cell, size)
        kept = grid[r, c]
        grid[r, c] = 0
        if len(solve(grid, limit=2).solutions) != 1:
            grid[r, c] = kept
    return Puzzle(grid, solution, rating(grid))


# draws allowed to find one puzzle at a minimum rating: enough for ratings one 9×9 puzzle in
# a hundred reaches, and a bound where none can be reached (every 4×4 puzzle rates 0)
MAX_RATED_DRAWS = 1000


def generate_rated(size: int, rng: random.Random, min_rating: int = 0,
                   flag: str = "--min-rating") -> Puzzle:
    """A generated puzzle rated at least `min_rating`, drawing again until one is; gives up
    (ValueError naming `flag`) after MAX_RATED_DRAWS draws below it."""
    best = -1
    for _ in range(MAX_RATED_DRAWS):
        puzzle = generate(size, rng)
        if puzzle.rating >= min_rating:
            return puzzle
        best = max(best, puzzle.rating)
    raise ValueError(f"none of {MAX_RATED_DRAWS} generated {size}×{size} puzzles reached "
                     f"rating {min_rating} (the highest: {best}); lower {flag}")


# --- the same puzzle in other clothes ---------------------------------------------------------


def augment(puzzle: np.ndarray, solution: np.ndarray, rng: random.Random
            ) -> tuple[np.ndarray, np.ndarray]:
    """The same puzzle up to symmetry: digits relabelled, bands and stacks permuted, rows
    within bands and columns within stacks permuted, and (square boxes only) transposed.
    The solution is transformed alike, so it stays the puzzle's unique solution."""
    n = puzzle.shape[0]
    shape = shape_of(n)
    digits = list(range(1, n + 1))
    rng.shuffle(digits)
    relabel = np.array([0, *digits])
    rows = _grouped_order(n // shape.box_rows, shape.box_rows, rng)
    cols = _grouped_order(n // shape.box_cols, shape.box_cols, rng)
    out = [relabel[g][np.ix_(rows, cols)] for g in (puzzle, solution)]
    if shape.box_rows == shape.box_cols and rng.random() < 0.5:
        out = [g.T for g in out]
    return out[0].copy(), out[1].copy()


def _grouped_order(groups: int, size: int, rng: random.Random) -> list[int]:
    """A permutation of groups·size indices that moves whole groups and indices within them."""
    order = list(range(groups))
    rng.shuffle(order)
    result = []
    for g in order:
        inside = list(range(size))
        rng.shuffle(inside)
        result += [g * size + i for i in inside]
    return result


def signature(grid: np.ndarray) -> tuple:
    """A summary every augmentation keeps: the givens' count per row and per column (as two
    sorted lists, in either order), per box (sorted), and how often each digit is given
    (sorted). Two puzzles with different signatures are not augmentations of each other."""
    n = grid.shape[0]
    shape = shape_of(n)
    given = grid != 0
    lines = sorted([tuple(sorted(given.sum(1).tolist())), tuple(sorted(given.sum(0).tolist()))])
    boxes = [0] * n
    for r, c in zip(*np.nonzero(given), strict=True):
        boxes[shape.box_of(int(r), int(c))] += 1
    digits = sorted(int((grid == d).sum()) for d in range(1, n + 1))
    return n, tuple(lines), tuple(sorted(boxes)), tuple(digits)


# --- reading puzzles from disk ----------------------------------------------------------------


def parse_line(text: str, size: int = 9, where: str = "line") -> np.ndarray:
    """A grid from the one-line format: size² characters, digits for givens and `.` or `0`
    for empty cells."""
    text = text.strip()
    if len(text) != size * size:
        raise ValueError(f"{where}: a {size}×{size} sudoku has {size * size} characters, got "
                         f"{len(text)}")
    values = []
    for k, ch in enumerate(text):
        if ch in BLANKS:
            values.append(0)
        elif ch.isdigit() and 1 <= int(ch) <= size:
            values.append(int(ch))
        else:
            raise ValueError(f"{where}: character {k + 1} is {ch!r}; expected 1-{size}, '.' or "
                             f"'0'")
    return np.array(values, dtype=np.int64).reshape(size, size)


def format_line(grid: np.ndarray) -> str:
    return "".join("." if v == 0 else str(int(v)) for v in grid.flatten())


@dataclass(frozen=True)
class FilePuzzle:
    """A puzzle read from disk, with where it stands there (`path:line`, for messages)."""

    grid: np.ndarray
    solution: np.ndarray | None  # None where the file gives no answer
    rating: int | None  # None where the file gives no rating
    where: str


def broken_rule(grid: np.ndarray) -> str | None:
    """How the filled cells of `grid` break the rules ("digit 5 twice in row 3"), or None."""
    n = grid.shape[0]
    shape = shape_of(n)
    flat = grid.flatten()
    for k, unit in enumerate(units(shape)[0]):
        seen: set[int] = set()
        for cell in unit:
            digit = int(flat[cell])
            if digit and digit in seen:
                kind = ("row", "column", "box")[k // n]
                return f"digit {digit} twice in {kind} {k % n + 1}"
            seen.add(digit)
    return None


def _text_of(path: Path) -> str:
    """The file's text, with a byte-order mark dropped; a clear error for a folder or a file
    that is not UTF-8 text."""
    if path.is_dir():
        raise ValueError(f"{path} is a folder; give a file of puzzles (one per line, or a CSV "
                         f"with a 'question' column)")
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found")
    raw = path.read_bytes()
    if b"\0" in raw:
        raise ValueError(f"{path} is a binary file, not puzzles as text (one per line, or a "
                         f"CSV with a 'question' column)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise ValueError(f"{path}:{line}: byte {error.start + 1} is not UTF-8 text; puzzles "
                         f"are text (one per line, or a CSV)") from None


def _checked(grid: np.ndarray, solution: np.ndarray | None, rating: int | None,
             where: str) -> FilePuzzle:
    broken = broken_rule(grid)
    if broken is not None:
        raise ValueError(f"{where}: the givens break the rules ({broken})")
    if solution is not None and not is_solution(grid, solution):
        why = ("it leaves cells empty" if not solution.all()
               else broken_rule(solution) or "it changes a given")
        raise ValueError(f"{where}: the answer does not solve the question ({why})")
    return FilePuzzle(grid, solution, rating, where)


def _rating(text: str | None, where: str) -> int | None:
    if text is None or not text.strip():
        return None
    try:
        value = int(text.strip())
    except ValueError:
        raise ValueError(f"{where}: rating {text.strip()!r} is not a whole number") from None
    if value < 0:
        raise ValueError(f"{where}: rating {value} is negative")
    return value


def read_puzzles(path: str | Path, size: int = 9) -> list[FilePuzzle]:
    """Every puzzle in `path`, checked: a text file of one puzzle per line (blank lines and
    lines starting with # skipped), or a CSV with a `question` (or `puzzle`) column and
    optionally `answer` (or `solution`) and `rating` columns, as the Sudoku-Extreme release
    has. Givens that break the rules, an answer that does not solve its question, a row that
    does not fit the header and a rating that is not a whole number are refused, each naming
    the file and line."""
    path = Path(path)
    text = _text_of(path)
    found: list[FilePuzzle] = []
    if path.suffix.lower() == ".csv":
        rows = csv.reader(text.splitlines())
        header = next(rows, [])
        fields = {name.strip(): k for k, name in enumerate(header)}
        question = next((f for f in ("question", "puzzle", "quizzes") if f in fields), None)
        if question is None:
            raise ValueError(f"{path}: a sudoku CSV needs a 'question' (or 'puzzle') column; "
                             f"it has {sorted(fields)}")
        answer = next((f for f in ("answer", "solution", "solutions") if f in fields), None)
        for row in rows:
            where = f"{path}:{rows.line_num}"
            if not row:
                continue
            if len(row) != len(header):
                raise ValueError(f"{where}: {len(row)} fields where the header has "
                                 f"{len(header)} ({', '.join(header)})")
            grid = parse_line(row[fields[question]], size, where)
            solution = (parse_line(row[fields[answer]], size, where)
                        if answer and row[fields[answer]].strip() else None)
            rated = _rating(row[fields["rating"]], where) if "rating" in fields else None
            found.append(_checked(grid, solution, rated, where))
    else:
        for k, line in enumerate(text.splitlines(), start=1):
            if line.strip() and not line.lstrip().startswith("#"):
                where = f"{path}:{k}"
                found.append(_checked(parse_line(line, size, where), None, None, where))
    if not found:
        raise ValueError(f"{path} holds no puzzle")
    return found
