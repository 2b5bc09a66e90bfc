"""Command-line flags generated from config dataclasses: every field gets `--field-name`."""

from __future__ import annotations

import argparse
import dataclasses
import re
import textwrap
import typing
from typing import Any


def parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def parse_int_tuple(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers such as 16,2, got {text!r}") from None


def _parser_for(annotation: Any) -> tuple[Any, str]:
    """(argparse type function, metavar) for a field's annotation."""
    origin = typing.get_origin(annotation)
    if annotation is bool:
        return parse_bool, "BOOL"
    if annotation is int:
        return int, "INT"
    if annotation is float:
        return float, "FLOAT"
    if annotation is str:
        return str, "STR"
    if origin is tuple:
        return parse_int_tuple, "INTS"
    raise TypeError(f"no command-line parser for fields of type {annotation}")


def field_descriptions(cls: type) -> dict[str, str]:
    """Each field's comment in `cls`'s source, as one line: the comment after the field and
    any comment lines right under it (a dataclass documents its fields where they are
    declared, and --help says the same)."""
    import ast
    import inspect

    described: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            lines, _ = inspect.getsourcelines(klass)
        except (OSError, TypeError):
            continue
        body = ast.parse(textwrap.dedent("".join(lines))).body[0]
        for node in getattr(body, "body", []):
            if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
                continue
            end = node.end_lineno or node.lineno
            last = lines[end - 1]
            parts: list[str] = []
            if "#" in last:  # a comment after the field, and the comment lines under it,
                parts.append(last.partition("#")[2].strip())
                under = []
                for line in lines[end:]:
                    if not line.strip().startswith("#"):
                        # unless they stand above a field without a comment of its own: then
                        # they are that field's
                        if "#" in line or not re.match(r"\s*\w+\s*:", line):
                            parts += under
                        break
                    under.append(line.strip().lstrip("#").strip())
            else:  # else the comment lines right above it
                above = node.lineno - 2
                while above >= 0 and lines[above].strip().startswith("#"):
                    parts.insert(0, lines[above].strip().lstrip("#").strip())
                    above -= 1
            if parts:
                described[node.target.id] = " ".join(parts)
    return described


def add_dataclass_flags(parser: argparse.ArgumentParser, cls: type, section: str,
                        title: str, defaults: Any | None = None,
                        skip: tuple[str, ...] = (), description: str | None = None) -> None:
    """Add `--name` for every field of `cls` but those in `skip`; parsed values land in
    `dest=section.name` and stay None unless given. `defaults` (an instance) fills the help
    text; `description` is a line under the group's title."""
    group = parser.add_argument_group(title, description)
    hints = typing.get_type_hints(cls)
    # fields with a fixed set of values (registries) list them: `--backbone` names every one
    choices = cls.field_choices() if hasattr(cls, "field_choices") else {}
    described = field_descriptions(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        kind, metavar = _parser_for(hints[f.name])
        shown = getattr(defaults, f.name) if defaults is not None else f.default
        if isinstance(shown, tuple):
            shown = ",".join(str(v) for v in shown)
        group.add_argument(f"--{f.name.replace('_', '-')}", dest=f"{section}.{f.name}",
                           type=kind, metavar=metavar, default=None,
                           help=" ".join(part for part in (
                               described.get(f.name, ""),
                               f"(one of: {choices[f.name]})" if f.name in choices else "",
                               f"(default: {shown})") if part))


def collect(namespace: argparse.Namespace, section: str) -> dict[str, Any]:
    """The fields of one section that were given on the command line."""
    prefix = f"{section}."
    return {key[len(prefix):]: value for key, value in vars(namespace).items()
            if key.startswith(prefix) and value is not None}


def parse_assignments(cls: type, assignments: list[str]) -> dict[str, Any]:
    """`["eval_size=1000", "larger_sizes=19,31"]` -> typed values for fields of `cls`."""
    hints = typing.get_type_hints(cls)
    values = {}
    for assignment in assignments:
        name, sep, text = assignment.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in hints:
            raise ValueError(f"expected FIELD=VALUE with FIELD one of "
                             f"{', '.join(sorted(hints))}; got {assignment!r}")
        kind, _ = _parser_for(hints[name])
        try:
            values[name] = kind(text)
        except (ValueError, argparse.ArgumentTypeError) as error:
            raise ValueError(f"{name}: {error}") from None
    return values
