"""Cutting a long text to a length while keeping both ends.

An error body is most telling at its start (the status line, the JSON key) and at its
end: a Python traceback, which MLServer returns with a 500, names the exception in its
last line. A cut that kept only the first few hundred characters lost the cause, so every
error example (the workers' error groups, the reports' error tables) keeps a head and a
tail, with a marker saying how much there was.
"""

from __future__ import annotations

HEAD_SHARE = 0.3
"""Of the kept characters, the share from the start; the rest comes from the end."""


def clip(text: str, limit: int) -> str:
    """`text` when it fits in `limit` characters, else its head, a `…[N chars, middle cut]…` marker and its tail."""
    if len(text) <= limit:
        return text
    head, marker, tail = _parts(len(text), "chars", limit)
    return text[:head] + marker + text[len(text) - tail:]


def clip_bytes(body: bytes, limit: int) -> str:
    """A response body as text cut like `clip`, decoding only the two ends of a large body."""
    if len(body) <= limit:
        return body.decode("utf-8", "replace")
    head, marker, tail = _parts(len(body), "bytes", limit)
    return body[:head].decode("utf-8", "replace") + marker + body[len(body) - tail:].decode("utf-8", "replace")


def _parts(size: int, unit: str, limit: int) -> tuple[int, str, int]:
    """How many characters to keep from the start, the marker, and how many from the end."""
    marker = f" …[{size} {unit}, middle cut]… "
    room = max(limit - len(marker), 2)
    head = max(int(room * HEAD_SHARE), 1)
    return head, marker, room - head
