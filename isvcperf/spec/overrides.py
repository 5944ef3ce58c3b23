"""`--set KEY=VALUE` overrides, in Helm's syntax (the one Iter8 users already type).

Keys are dotted paths (`load.users=8`); a literal dot inside a key is escaped (`\\.`) and
a key segment may be single-quoted (`p'97\\.5'`). A segment may end in list indices, as in
Helm (`metrics.errorRanges[0].lower=500`), so list items can be set one field at a time.
Values are data, never code: they are parsed as YAML scalars (so `8` is a number and
`true` a boolean) plus Helm's `{a,b}` list form. A malformed override is an error naming
the override.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from isvcperf.util.errors import SpecError

Part = str | int
"""One step of a key path: a mapping key, or a list index."""

MAX_INDEX = 65536
"""Helm's limit, so a typo such as `[99999999]` fails instead of allocating a huge list."""

_KEY_SPECIAL = re.compile(r"([\\.\[\]'])")


def split_override(text: str) -> tuple[list[Part], str]:
    """`a.b\\.c=v` → (['a', 'b.c'], 'v'); raise SpecError when it is not KEY=VALUE."""
    key, sep, value = text.partition("=")
    # An '=' inside a quoted key segment is not the separator; Helm keys never hold one.
    if not sep or not key.strip():
        raise SpecError("--set", f"{text!r} is not KEY=VALUE (e.g. --set load.users=8)")
    try:
        parts = split_key(key.strip())
    except ValueError as exc:
        raise SpecError("--set", f"{text!r}: {exc}") from None
    if any(p == "" for p in parts):
        raise SpecError("--set", f"{text!r} has an empty part in its key {key!r}")
    return parts, value


def split_key(key: str) -> list[Part]:
    """Split a dotted key into names and indices, honouring `\\.` escapes and single quotes.

    `a.b[0].c` → ['a', 'b', 0, 'c']; raise ValueError for a malformed index, so the
    caller can name the whole override.
    """
    parts: list[Part] = []
    current: list[str] = []
    quoted = after_index = False
    i = 0
    while i < len(key):
        ch = key[i]
        if not quoted and ch in ".[":
            if not after_index:
                parts.append("".join(current))
                current = []
            after_index = False
            if ch == "[":
                close = key.find("]", i)
                index = key[i + 1 : close] if close > 0 else ""
                if close < 0 or not index.isdigit():
                    raise ValueError(f"{key[i:]!r} is not a list index like [0]")
                if int(index) > MAX_INDEX:
                    raise ValueError(f"index {index} is more than {MAX_INDEX}")
                parts.append(int(index))
                after_index = True
                i = close + 1
            else:
                i += 1
            continue
        if after_index:
            raise ValueError(f"expected '.' or '[' after ']' in {key!r}")
        if ch == "\\" and i + 1 < len(key):
            current.append(key[i + 1])
            i += 2
            continue
        if ch == "'":
            quoted = not quoted
        else:
            current.append(ch)
        i += 1
    if not after_index:
        parts.append("".join(current))
    return parts


def join_key(parts: list[Part]) -> str:
    """The inverse of split_key: how to write `parts` as a key, for error messages."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + _KEY_SPECIAL.sub(r"\\\1", part)
    return text


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


def unescape_text(text: str) -> str:
    """A value read as Helm reads text: a backslash makes the next character literal.

    Helm splits `--set a=1,b=2` at commas, so commands written for Helm (and Iter8) carry
    `\\,` inside text such as a JSON payload; this yields the text they meant.
    """
    return re.sub(r"\\(.)", r"\1", text, flags=re.DOTALL)


def set_path(data: dict[str, Any], parts: list[Part], value: Any, original: str) -> None:
    """Set data[p0][p1]... = value, creating mappings and lists (padded with None) on the way."""
    node: Any = data
    for depth, part in enumerate(parts):
        prefix = join_key(parts[:depth])
        if isinstance(part, int):
            if not isinstance(node, list):
                raise SpecError("--set", f"{original!r}: {prefix} is not a list, so it has no [{part}]")
            node.extend([None] * (part + 1 - len(node)))
        elif isinstance(node, list):
            raise SpecError("--set", f"{original!r}: {prefix} is a list; set an item ({prefix}[0].{part})")
        elif not isinstance(node, dict):
            raise SpecError("--set", f"{original!r}: {prefix} is a value, not a group of fields")
        if depth == len(parts) - 1:
            node[part] = value
            return
        child = node[part] if isinstance(part, int) else node.get(part)
        if child is None:
            child = node[part] = [] if isinstance(parts[depth + 1], int) else {}
        node = child


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of `data` with every override applied in order."""
    result = _deep_copy(data)
    for text in overrides:
        parts, value = split_override(text)
        set_path(result, parts, parse_value(value), text)
    return result


def parse_overrides(overrides: list[str]) -> list[tuple[list[Part], Any]]:
    """Parse every override to (key parts, value), for callers with their own vocabulary."""
    return [(parts, parse_value(value)) for parts, value in map(split_override, overrides)]


def _deep_copy(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _deep_copy(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_deep_copy(v) for v in data]
    return data
