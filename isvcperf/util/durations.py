"""Durations as people write them (`300s`, `5m`, `1h30m`, `250ms`) and back.

Go-style duration strings are what Iter8, k6 and Kubernetes users already type, so the
spec accepts them everywhere a time is asked for; a bare number means seconds.
"""

from __future__ import annotations

import re

_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|us|µs|s|m|h)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6}
HINT = "use 300s, 5m or 1h30m"


def parse_duration(value: object) -> float:
    """Return seconds for a duration string or number; raise ValueError with a hint."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration ({HINT})")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"{value!r} is negative ({HINT})")
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a duration ({HINT})")
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if seconds < 0:
            raise ValueError(f'"{value}" is negative ({HINT})')
        return seconds
    pos, total = 0, 0.0
    for match in _PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if pos == 0 or pos != len(text):
        raise ValueError(f'"{value}" is not a duration ({HINT})')
    return total


def format_duration(seconds: float) -> str:
    """Render seconds compactly (`1h30m`, `45s`, `1.5s`, `250ms`) for reports and messages."""
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    whole = int(seconds)
    if whole != seconds or seconds < 60:
        return f"{seconds:g}s"
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else "", f"{secs}s" if secs else ""]
    return "".join(parts)
