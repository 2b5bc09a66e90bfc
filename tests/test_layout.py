"""The package's dependency rule (docs/design.md): cli -> train -> run -> tasks -> model, with
leaf helpers below; nothing imports upward and the units form no cycle. Imports inside
functions count: a late import is still a dependency."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "ctm"

# Higher may import lower, never the reverse. Units of one rank may import each other only
# where that makes no cycle.
RANKS = {
    "cli": 6,
    "train": 5,
    "run": 4,
    "tasks": 3,
    "analysis": 2, "inference": 2, "bench": 2,
    "metrics": 1, "losses": 1,
    "model": 0.5,
    "files": 0, "fields": 0, "compilation": 0, "optimizer": 0, "precision": 0, "device": 0,
    "flags": 0, "progress": 0,
}
DATA_ONLY = {"bundled"}  # imports nothing from ctm
ROOT = {"__init__", "__main__"}  # the package's own entry points may import anything


def unit_of(path: Path) -> str:
    return path.relative_to(SRC).parts[0].removesuffix(".py")


def imported_units(path: Path) -> set[str]:
    """The ctm units that the module at `path` imports, at any depth of its code."""
    package = path.relative_to(SRC).parent.parts
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the module's package
                base = list(package[: len(package) - (node.level - 1)])
                parts = base + (node.module.split(".") if node.module else [])
                if not parts:  # `from .. import x` at the top: x names the unit
                    found.update(alias.name for alias in node.names)
                    continue
                found.add(parts[0])
            elif node.module and node.module.split(".")[0] == "ctm":
                rest = node.module.split(".")[1:]
                found.update(rest[:1] or [a.name for a in node.names])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "ctm" and len(parts) > 1:
                    found.add(parts[1])
    return found


def unit_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        unit = unit_of(path)
        graph.setdefault(unit, set()).update(imported_units(path) - {unit})
    return graph


def test_every_unit_has_a_rank():
    units = set(unit_graph())
    assert units <= set(RANKS) | DATA_ONLY | ROOT, units - set(RANKS) - DATA_ONLY - ROOT


@pytest.mark.parametrize("unit", sorted(RANKS))
def test_nothing_imports_upward(unit):
    targets = unit_graph().get(unit, set())
    upward = sorted(t for t in targets if t in RANKS and RANKS[t] > RANKS[unit])
    assert not upward, f"{unit} imports {upward}, which sit above it"


def test_bundled_models_are_data():
    assert unit_graph().get("bundled", set()) == set()


def test_the_units_form_no_cycle():
    graph = {u: {t for t in ts if t not in ROOT} for u, ts in unit_graph().items()
             if u not in ROOT}
    state: dict[str, int] = {}

    def visit(unit: str, trail: list[str]) -> None:
        state[unit] = 1
        for target in sorted(graph.get(unit, ())):
            if state.get(target) == 1:
                raise AssertionError(" -> ".join([*trail, unit, target]))
            if target not in state:
                visit(target, [*trail, unit])
        state[unit] = 2

    for unit in sorted(graph):
        if unit not in state:
            visit(unit, [])


def test_the_checker_sees_late_imports(tmp_path):
    """A function-level `from ..train import x` inside run/ must count (the old cycle went
    through such an import)."""
    module = SRC / "run" / "lookup.py"
    assert "bundled" in imported_units(module) and "model" in imported_units(module)
    assert "run" in imported_units(SRC / "cli" / "eval.py")  # imported inside main()
