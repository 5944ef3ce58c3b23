"""Typed loading of nested dataclasses from plain YAML/JSON data.

The spec's classes declare their fields once, with type hints; this module turns a
mapping into those classes and reports the first problem with the dotted field path, the
offending value and a fix (the nearest valid name for a typo), so no other module has to
re-check types. Field names are snake_case in Python and camelCase in files, the
convention of Kubernetes and Iter8.

`null` — in a file, or `--set KEY=null`, which puts the same null in the data — is "not
given", as in Helm: a field takes its default (or is reported as required), and an entry of a
mapping (an SLO under `slos`, a header) is dropped. The one field whose default is a value but
which may be empty, `kubernetes.runAsUser`, is emptied by it. This is the only place the rule
is applied.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import types
import typing
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from isvcperf.util.durations import parse_duration
from isvcperf.util.errors import SpecError

T = TypeVar("T")

DURATION = "duration"
INTERNAL = "internal"


def duration_field(default: Any = None, **kwargs: Any) -> Any:
    """A float-seconds field that accepts `5m`-style strings in files (dataclasses.MISSING: required)."""
    return dataclasses.field(default=default, metadata={DURATION: True}, **kwargs)


def camel(name: str) -> str:
    """snake_case attribute name → camelCase file key."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def file_keys(cls: type) -> dict[str, dataclasses.Field]:
    """Map each file key of a dataclass to its field (fields marked internal are not in files)."""
    return {camel(f.name): f for f in dataclasses.fields(cls) if not f.metadata.get(INTERNAL)}


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def describe(value: Any) -> str:
    """Show a value the way the user wrote it, short, on one line (control characters escaped)."""
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def suggest(key: str, valid: typing.Iterable[str]) -> str:
    """A 'did you mean' clause for an unknown key, or a list of the valid ones."""
    valid = list(valid)
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
    if close:
        return f"did you mean {close[0]!r}?"
    return "valid fields: " + ", ".join(sorted(valid))


def load(cls: type[T], data: Any, path: str = "") -> T:
    """Build dataclass `cls` from `data`, raising SpecError at the first bad field."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SpecError(path or "spec", f"{describe(data)} is not a mapping (expected fields of {cls.__name__})")
    keys = file_keys(cls)
    hints = get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        key_text = str(key)
        field = keys.get(key_text)
        if field is None:
            raise SpecError(join(path, key_text), f"unknown field; {suggest(key_text, keys)}")
        if value is None and not _optional(hints[field.name]):
            continue  # null is "not given", as in Helm: the field's default applies (or it is required)
        kwargs[field.name] = convert(hints[field.name], value, join(path, key_text), field)
    for key, field in keys.items():
        if (
            field.name not in kwargs
            and field.default is dataclasses.MISSING
            and field.default_factory is dataclasses.MISSING
        ):
            raise SpecError(join(path, key), "is required")
    return cls(**kwargs)


def _optional(hint: Any) -> bool:
    return get_origin(hint) in (Union, types.UnionType) and type(None) in get_args(hint)


def convert(hint: Any, value: Any, path: str, field: dataclasses.Field | None = None) -> Any:
    """Check and convert one value against a type hint."""
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(hint) if a is not type(None)]
        if value is None:
            return None
        errors = []
        for option in options:
            try:
                return convert(option, value, path, field)
            except SpecError as exc:
                errors.append(exc)
        raise errors[0]
    if field is not None and field.metadata.get(DURATION):
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise SpecError(path, str(exc)) from None
    if origin is Literal:
        choices = get_args(hint)
        if value not in choices:
            raise SpecError(path, f"{describe(value)} is not one of {', '.join(map(str, choices))}")
        return value
    if origin is dict:
        key_type, value_type = get_args(hint)
        if not isinstance(value, dict):
            raise SpecError(path, f"{describe(value)} is not a mapping")
        return {
            convert(key_type, k, join(path, str(k))): convert(value_type, v, join(path, str(k)))
            for k, v in value.items()
            if v is not None or value_type is Any  # a null entry is not given (the module docstring's rule)
        }
    if origin is list:
        (item_type,) = get_args(hint)
        if not isinstance(value, list):
            raise SpecError(path, f"{describe(value)} is not a list")
        return [convert(item_type, v, f"{path}[{i}]") for i, v in enumerate(value)]
    if dataclasses.is_dataclass(hint):
        return load(hint, value, path)
    if hint is Any:
        return value
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise SpecError(path, f"{describe(value)} is not true or false")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        hint = " (a leading zero keeps a --set value text, as in Helm: drop the zero)" if (
            isinstance(value, str) and value.strip().lstrip("+-").isdigit()) else ""
        raise SpecError(path, f"{describe(value)} is not a whole number{hint}")
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise SpecError(path, f"{describe(value)} is not a number")
    if hint is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise SpecError(path, f"{describe(value)} is not text")
    raise TypeError(f"unsupported spec type {hint!r} at {path}")  # a bug in a spec class, not input


def dump(obj: Any) -> Any:
    """Dataclass → plain data with file keys, omitting None (the inverse of `load`)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out = {}
        for field in dataclasses.fields(obj):
            if field.metadata.get(INTERNAL):
                continue
            value = getattr(obj, field.name)
            if value is not None:
                out[camel(field.name)] = dump(value)
        return out
    if isinstance(obj, dict):
        return {k: dump(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [dump(v) for v in obj]
    return obj
