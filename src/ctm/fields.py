"""Config dataclasses from JSON: every field's type checked, with one error naming the field.

A config file edited by hand (`"d_model": "abc"`, `"lr": null`) must fail with a sentence, not
with a TypeError deep inside the model. Integers are accepted where floats are expected, and
lists where tuples are; nothing else is converted.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any


def _type_ok(value: Any, annotation: Any) -> bool:
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    if typing.get_origin(annotation) is tuple:
        return isinstance(value, list | tuple) and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value)
    return True  # a type this module does not check (nested objects) is the class's business


def _type_name(annotation: Any) -> str:
    if typing.get_origin(annotation) is tuple:
        return "a list of integers"
    return {bool: "true or false", int: "an integer", float: "a number",
            str: "a string"}.get(annotation, str(annotation))


def build_checked(cls: type, values: Any, what: str) -> Any:
    """`cls(**values)` after checking that `values` is a mapping of known fields of the right
    types; `what` names the place in messages ("model field", "config.json: train")."""
    if not isinstance(values, dict):
        raise ValueError(f"{what}: expected an object of fields, got {type(values).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ValueError(f"unknown {what}(s): {', '.join(unknown)}; known: "
                         f"{', '.join(sorted(names))}")
    for name, value in values.items():
        if not _type_ok(value, hints[name]):
            raise ValueError(f"{what} {name} must be {_type_name(hints[name])}, "
                             f"got {value!r}")
    return cls(**values)
