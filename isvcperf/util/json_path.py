"""A tiny path language into parsed JSON, for response checks: `outputs[0].shape`.

Dotted object keys and `[N]` list indices (negative counts from the end), nothing else:
the checks a load test needs ("this output exists", "this shape is [2, 1]") read one
value at a known place, and a language this small is parsed once when the spec is
validated, so a typo is bad input (exit 2) instead of thousands of failed checks.
JSONPath libraries add filters and wildcards a check never needs, at a cost per call.
"""

from __future__ import annotations

import re
from typing import Any

Step = str | int
_FIRST = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*)|\[(-?\d+)\]")
_NEXT = re.compile(r"\.([A-Za-z_][A-Za-z0-9_-]*)|\[(-?\d+)\]")
MISSING = object()
"""What `lookup` returns when the path leads nowhere (None is a JSON value: null)."""


def parse(path: str) -> tuple[Step, ...]:
    """`outputs[0].shape` → ("outputs", 0, "shape"); ValueError says where it stops making sense."""
    steps: list[Step] = []
    at = 0
    while at < len(path):
        match = (_NEXT if steps else _FIRST).match(path, at)
        if match is None:
            raise ValueError(f"cannot read {path!r} at character {at + 1} ({path[at:at + 10]!r}); "
                             "write keys with dots and list indices in brackets, e.g. outputs[0].shape")
        steps.append(match.group(1) if match.group(1) is not None else int(match.group(2)))
        at = match.end()
    if not steps:
        raise ValueError("is empty; e.g. outputs[0].shape")
    return tuple(steps)


def lookup(document: Any, steps: tuple[Step, ...]) -> Any:
    """The value at `steps` in `document`, or MISSING."""
    node = document
    for step in steps:
        if isinstance(step, int):
            if not isinstance(node, list) or not -len(node) <= step < len(node):
                return MISSING
        elif not isinstance(node, dict) or step not in node:
            return MISSING
        node = node[step]
    return node
