"""Named building blocks: backbones, input modes and architectures.

Adding one is one decorated definition (`@BACKBONES.register("name", summary=...)`); config
validation, the model builder and `ctm train --help` all read the same registry, so a new entry
needs no edit anywhere else. The registries are filled when `ctm.model` is imported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    value: T
    summary: str  # one line for --help and error messages
    family: str  # entries of one family share a summary line in listings


class Registry(Generic[T]):
    """Names -> values, in registration order.

    >>> SHAPES = Registry("shape")
    >>> @SHAPES.register("square", summary="four equal sides")
    ... def square(side): return side * side
    >>> SHAPES.get("square")(3)
    9
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def add(self, name: str, value: T, summary: str, family: str = "") -> None:
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = Entry(name, value, summary, family or name)

    def register(self, name: str, *, summary: str) -> Callable[[T], T]:
        def decorate(value: T) -> T:
            self.add(name, value, summary)
            return value

        return decorate

    def get(self, name: str) -> T:
        return self.entry(name).value

    def entry(self, name: str) -> Entry[T]:
        if name not in self._entries:
            raise ValueError(f"unknown {self.kind} {name!r}; one of {self.listing()}")
        return self._entries[name]

    def names(self) -> list[str]:
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(self._entries.values())

    def listing(self) -> str:
        """The names, a family's members folded into one item: `parity, resnet18-1..4, ...`."""
        families: dict[str, list[str]] = {}
        for entry in self:
            families.setdefault(entry.family, []).append(entry.name)
        items = []
        for family, names in families.items():
            items.append(names[0] if len(names) == 1 else f"{family}-{_span(names, family)}")
        return ", ".join(items)

    def describe(self) -> str:
        """One line per family: name and summary."""
        families: dict[str, Entry[Any]] = {}
        for entry in self:
            families.setdefault(entry.family, entry)
        listing = self.listing().split(", ")
        return "\n".join(f"  {name:<22} {entry.summary}"
                         for name, entry in zip(listing, families.values(), strict=True))


def _span(names: list[str], family: str) -> str:
    suffixes = [n[len(family) + 1:] for n in names]
    return f"{suffixes[0]}..{suffixes[-1]}" if len(suffixes) > 2 else ",".join(suffixes)


# The package's registries, filled by the modules that define their entries (backbones.py,
# inputs.py, ctm.py, baselines.py).
BACKBONES: Registry[Any] = Registry("backbone")
INPUT_MODES: Registry[Any] = Registry("input mode")
ARCHITECTURES: Registry[Any] = Registry("architecture")

