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
    assert "run" in imported_units(SRC / "cli" / "common.py")  # inside load_for_use()


def module_graph() -> dict[str, set[str]]:
    """Every ctm module and the ctm modules it imports (a package's `__init__` is the
    package), at any depth of its code, type-checking imports included."""
    def name_of(path: Path) -> str:
        parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
        return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)

    modules = {name_of(p): p for p in SRC.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package[: len(package) - (node.level - 1)]
                    target = ".".join(base + (node.module.split(".") if node.module else []))
                elif node.module and node.module.split(".")[0] == "ctm":
                    target = node.module
                else:
                    continue
                for alias in node.names:  # `from . import x` may name a module
                    found = f"{target}.{alias.name}" if f"{target}.{alias.name}" in modules \
                        else target
                    if found in modules and found != name:
                        graph[name].add(found)
            elif isinstance(node, ast.Import):
                graph[name].update(a.name for a in node.names
                                   if a.name in modules and a.name != name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_modules_import_each_other_round_in_a_circle():
    assert cycles(module_graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_every_task_is_a_package():
    """One layout for a task: a package named after it (its task in __init__, its data and
    pictures beside), registered in ctm.tasks; the other modules there serve every task."""
    from ctm.tasks import TASKS

    tasks_dir = SRC / "tasks"
    packages = {p.name for p in tasks_dir.iterdir() if (p / "__init__.py").is_file()}
    assert packages == set(TASKS)
    assert {p.stem for p in tasks_dir.glob("*.py")} == SHARED_TASK_MODULES


SHARED_TASK_MODULES = {"__init__", "base", "held_out", "image_data", "maze_world", "play",
                       "play_viz", "ppo"}


def test_no_task_imports_another():
    # a task's modules are its package's; the modules beside the packages serve every task
    shared = {f"ctm.tasks.{m}" for m in SHARED_TASK_MODULES - {"__init__"}} | {"ctm.tasks"}

    def task_of(module: str) -> str | None:
        if not module.startswith("ctm.tasks.") or module in shared:
            return None
        return module.split(".")[2]

    crossing = sorted((m, t) for m, targets in module_graph().items() for t in targets
                      if task_of(m) and task_of(t) and task_of(m) != task_of(t))
    assert crossing == []
