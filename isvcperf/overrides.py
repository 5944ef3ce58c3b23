"""`--set KEY=VALUE` overrides, in Helm's syntax (the one Iter8 users already type).

Keys are dotted paths (`load.users=8`); a literal dot inside a key is escaped (`\\.`) and
a key segment may be single-quoted (`p'97\\.5'`). Values are data, never code: they are
parsed as YAML scalars (so `8` is a number and `true` a boolean) plus Helm's `{a,b}` list
form. A malformed override is an error naming the override.
"""

from __future__ import annotations

from typing import Any

import yaml

from isvcperf.errors import SpecError


def split_override(text: str) -> tuple[list[str], str]:
    """`a.b\\.c=v` → (['a', 'b.c'], 'v'); raise SpecError when it is not KEY=VALUE."""
    key, sep, value = text.partition("=")
    # An '=' inside a quoted key segment is not the separator; Helm keys never hold one.
    if not sep or not key.strip():
        raise SpecError("--set", f"{text!r} is not KEY=VALUE (e.g. --set load.users=8)")
    parts = split_key(key.strip())
    if any(not p for p in parts):
        raise SpecError("--set", f"{text!r} has an empty part in its key {key!r}")
    return parts, value


def split_key(key: str) -> list[str]:
    """Split a dotted key, honouring `\\.` escapes and single-quoted stretches."""
    parts, current, quoted, i = [], [], False, 0
    while i < len(key):
        ch = key[i]
        if ch == "\\" and i + 1 < len(key):
            current.append(key[i + 1])
            i += 2
            continue
        if ch == "'":
            quoted = not quoted
        elif ch == "." and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    parts.append("".join(current))
    return parts


def parse_value(text: str) -> Any:
    """A YAML scalar, or Helm's `{a,b,c}` list of scalars; anything else stays text."""
    stripped = text.strip()
    if stripped.startswith("{") and stripped.endswith("}"):
        inner = stripped[1:-1].strip()
        return [parse_value(item) for item in inner.split(",")] if inner else []
    if stripped == "":
        return ""
    try:
        value = yaml.safe_load(stripped)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, (str, int, float, bool)) or value is None else text


def set_path(data: dict[str, Any], parts: list[str], value: Any, original: str) -> None:
    """Set data[p0][p1]... = value, creating mappings on the way."""
    node = data
    for depth, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif not isinstance(child, dict):
            prefix = ".".join(parts[: depth + 1])
            raise SpecError("--set", f"{original!r}: {prefix} is a value, not a group of fields")
        node = child
    node[parts[-1]] = value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of `data` with every override applied in order."""
    result = _deep_copy(data)
    for text in overrides:
        parts, value = split_override(text)
        set_path(result, parts, parse_value(value), text)
    return result


def parse_overrides(overrides: list[str]) -> list[tuple[list[str], Any]]:
    """Parse every override to (key parts, value), for callers with their own vocabulary."""
    return [(parts, parse_value(value)) for parts, value in map(split_override, overrides)]


def _deep_copy(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _deep_copy(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_deep_copy(v) for v in data]
    return data
