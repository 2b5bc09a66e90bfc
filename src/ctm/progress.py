"""How long work says how far along it is: a tqdm bar on a terminal, and where stderr is a log
file or a pipe, plain lines (tqdm's carriage returns would pile up in a log as one endless
line): the first once the work has run a couple of seconds, then one every ten.

    with Progress(total=1000, desc="generating train sudoku", unit="puzzle") as progress:
        for ...:
            progress.update()

`reported(iterable, desc)` wraps an iterable the same way.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TextIO, TypeVar

from tqdm import tqdm

T = TypeVar("T")

LINE_EVERY_S = 10.0  # off a terminal: seconds between progress lines
# off a terminal: a stage that has run this long says where it is, so that a command made of
# several short stages is never silent for long
FIRST_LINE_S = 2.0


def _on_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _plural(unit: str) -> str:
    return unit + ("es" if unit.endswith(("ch", "sh", "s", "x")) else "s")


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class Progress:
    """Progress of `total` units of work (None: unknown), said on `file` (stderr)."""

    def __init__(self, total: int | None, desc: str, unit: str = "it", *, initial: int = 0,
                 enabled: bool = True, file: TextIO | None = None,
                 every: float = LINE_EVERY_S, first: float = FIRST_LINE_S) -> None:
        self.total, self.desc, self.unit = total, desc, unit
        self.n = initial
        self.file = file or sys.stderr
        self.enabled = enabled
        self.every = every
        self._postfix = ""
        self._start = time.monotonic()
        self._first_after = min(first, every)
        self._next = self._start + self._first_after
        self._first = initial
        self._bar = (tqdm(total=total, initial=initial, desc=desc, unit=unit, file=self.file,
                          dynamic_ncols=True)
                     if enabled and _on_terminal(self.file) else None)

    def update(self, n: int = 1) -> None:
        self.n += n
        if self._bar is not None:
            self._bar.update(n)
        elif self.enabled and time.monotonic() >= self._next:
            self._line()

    def set_postfix(self, **values: Any) -> None:
        if self._bar is not None:
            self._bar.set_postfix(**values, refresh=False)
        self._postfix = ", ".join(f"{k} {v}" for k, v in values.items())

    def write(self, line: str, file: TextIO | None = None) -> None:
        """A line of its own on `file` (stdout unless told), which a bar on a terminal is
        redrawn below; said whether progress is shown or not."""
        target = file or sys.stdout
        if self._bar is not None:
            self._bar.write(line, file=target)
        else:
            print(line, file=target, flush=True)

    def _line(self) -> None:
        now = time.monotonic()
        self._next = now + self.every
        elapsed = now - self._start
        done = self.n - self._first
        rate = done / elapsed if elapsed > 0 else 0.0
        where = f"{self.n:,}/{self.total:,}" if self.total else f"{self.n:,}"
        unit = self.unit if self.n == 1 and not self.total else _plural(self.unit)
        parts = [f"{self.desc}: {where} {unit}"]
        if self.total:
            parts[0] += f" ({100 * self.n / self.total:.0f}%)"
        parts.append(f"{_duration(elapsed)}")
        if rate > 0 and self.total and self.n < self.total:
            parts.append(f"about {_duration((self.total - self.n) / rate)} left")
        if self._postfix:
            parts.append(self._postfix)
        print(", ".join(parts), file=self.file, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self.enabled and time.monotonic() - self._start >= self._first_after:
            self._line()  # long work off a terminal ends with where it got to
            self.enabled = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def reported(items: Iterable[T], desc: str, unit: str = "batch", total: int | None = None,
             enabled: bool = True, file: TextIO | None = None,
             every: float = LINE_EVERY_S, first: float = FIRST_LINE_S) -> Iterator[T]:
    """`items`, saying how far along they are (see Progress)."""
    if total is None:
        try:
            total = len(items)  # type: ignore[arg-type]
        except TypeError:
            total = None
    with Progress(total, desc, unit, enabled=enabled, file=file, every=every,
                  first=first) as progress:
        for item in items:
            yield item
            progress.update()
