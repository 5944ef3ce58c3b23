"""`--set KEY=VALUE` overrides, in Helm's syntax (the one Iter8 users already type).

Keys are dotted paths (`load.users=8`); a literal dot inside a key is escaped (`\\.`) and
a key segment may be single-quoted (`p'97\\.5'`). A segment may end in list indices, as in
Helm (`metrics.errorRanges[0].lower=500`), so list items can be set one field at a time.
Values are data, never code, typed by Helm's rules rather than YAML 1.1's: `true`/`false`
are booleans, `null` is null (`--set K=null` means what `K: null` in the file means: the
one rule is isvcperf.spec.schema's, "not given"), a whole number without a leading
zero is a number (`010` stays the text "010", as Helm keeps it), and so is a decimal
(`2.5`, which Helm would keep as text but every spec field with a point is a number); `yes`,
`on` and everything else stay text. Helm's `{a,b}` list form is read too, and one `--set`
may hold several overrides joined by commas (`--set a=1,b=2`; `\\,` is a literal comma).
A malformed override is an error naming the override.
"""

from __future__ import annotations

import re
from typing import Any

from isvcperf.util.errors import SpecError

Part = str | int
"""One step of a key path: a mapping key, or a list index."""

MAX_INDEX = 65536
"""Helm's limit, so a typo such as `[99999999]` fails instead of allocating a huge list."""

_KEY_SPECIAL = re.compile(r"([\\.\[\]'])")
_WHOLE = re.compile(r"^[-+]?(0|[1-9][0-9]*)$")
_DECIMAL = re.compile(r"^[-+]?(0|[1-9][0-9]*)\.[0-9]+$")
SLO_DOT_HINT = "escape a dot in a metric name as \\. (--set 'slos.http/latency-p99\\.9.upper=250')"


def split_commas(text: str) -> list[str]:
    """Helm's comma-joined overrides: `a=1,b=2` → ['a=1', 'b=2'].

    A comma escaped as `\\,` or inside a `{a,b}` list does not split (the escape stays for
    the value's reader); a piece that is not KEY=VALUE is an error that says how to keep a
    comma in a value.
    """
    pieces, current, depth, i = [], [], 0, 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            current.append(text[i : i + 2])
            i += 2
            continue
        depth += (ch == "{") - (ch == "}" and depth > 0)
        if ch == "," and depth == 0:
            pieces.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    pieces.append("".join(current))
    for piece in pieces[1:]:
        if "=" not in piece:
            raise SpecError("--set", f"{text!r}: {piece!r} after a comma is not KEY=VALUE; one --set takes "
                            "several overrides joined by commas, as in Helm: write a comma inside a value as \\,")
    return pieces


def expand(overrides: list[str]) -> list[str]:
    """Every `--set` argument split into its comma-joined overrides, in order."""
    return [piece for text in overrides for piece in split_commas(text)]


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
    """A value typed by Helm's rules (see the module docstring), or Helm's `{a,b,c}` list of them."""
    stripped = text.strip()
    if stripped.startswith("{") and stripped.endswith("}"):
        inner = stripped[1:-1].strip()
        return [parse_value(item) for item in inner.split(",")] if inner else []
    lowered = stripped.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    if _WHOLE.match(stripped):
        return int(stripped)
    if _DECIMAL.match(stripped):
        return float(stripped)
    return stripped.replace("\\,", ",")


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
    for text in expand(overrides):
        parts, value = split_override(text)
        check_slo_key(parts, text)
        set_path(result, parts, parse_value(value), text)  # KEY=null is `KEY: null` in the file (schema's rule)
    return result


def check_slo_key(parts: list[Part], text: str) -> None:
    """`slos.http/latency-p99.9.upper` split at the unescaped dot: say how to escape it, instead of
    the schema's "unknown field '9'"."""
    if parts[0] == "slos" and (len(parts) > 3 or (len(parts) == 3 and str(parts[2]).isdigit())):
        raise SpecError("--set", f"{text!r}: an SLO is set as slos.METRIC.upper or .lower; {SLO_DOT_HINT}")


def parse_overrides(overrides: list[str]) -> list[tuple[list[Part], Any]]:
    """Parse every override to (key parts, value), for callers with their own vocabulary."""
    return [(parts, parse_value(value)) for parts, value in map(split_override, expand(overrides))]


def _deep_copy(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _deep_copy(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_deep_copy(v) for v in data]
    return data
