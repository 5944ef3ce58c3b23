"""Whether a value has the shape a TypedDict of isvcperf.loadgen.protocol declares, recursively.

The protocol's TypedDicts are what every producer and consumer of the master's stats
document agree on; this checks that what a real master (or a rebuild of its document)
produces holds exactly those keys with values of those types, so a key added or renamed
on one side only fails a test.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints


def problems(value: Any, hint: Any, path: str = "$") -> list[str]:
    """Every place `value` departs from `hint` (empty when it conforms)."""
    if hint is Any:
        return []
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        options = [problems(value, option, path) for option in get_args(hint)]
        return [] if any(not found for found in options) else min(options, key=len)
    if origin is Literal:
        return [] if value in get_args(hint) else [f"{path}: {value!r} is not one of {get_args(hint)}"]
    if typing.is_typeddict(hint):
        if not isinstance(value, dict):
            return [f"{path}: {type(value).__name__}, not a {hint.__name__}"]
        missing = hint.__required_keys__ - set(value)
        extra = set(value) - hint.__required_keys__ - hint.__optional_keys__
        found = [f"{path}: {hint.__name__} lacks {sorted(missing)}"] if missing else []
        found += [f"{path}: {hint.__name__} has undeclared {sorted(extra)}"] if extra else []
        hints = get_type_hints(hint)
        for key in set(value) & set(hints):
            found += problems(value[key], hints[key], f"{path}.{key}")
        return found
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{path}: {type(value).__name__}, not a mapping"]
        _, item = get_args(hint)
        return [p for key, v in value.items() for p in problems(v, item, f"{path}[{key!r}]")]
    if origin is list:
        if not isinstance(value, list):
            return [f"{path}: {type(value).__name__}, not a list"]
        (item,) = get_args(hint)
        return [p for i, v in enumerate(value) for p in problems(v, item, f"{path}[{i}]")]
    if hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif hint is type(None):
        ok = value is None
    else:
        ok = isinstance(value, hint) and not (hint is int and isinstance(value, bool))
    return [] if ok else [f"{path}: {value!r} is not {getattr(hint, '__name__', hint)}"]
