"""Standard output for a reader that may stop reading: `isvcperf report DIR | head`,
`isvcperf run spec.yaml | head -3`.

Once the reader has gone, what is printed after it is dropped instead of raising
BrokenPipeError out of the middle of a command: a run still stops its Locust processes
and writes its result, every command's exit code stays its verdict, and no traceback is
printed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO


class ReaderMayLeave:
    """A text stream that forwards to `stream` until its reader leaves, then to /dev/null."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._drop()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._drop()
            self._stream.flush()  # what was still buffered goes to /dev/null now

    def _drop(self) -> None:
        """Point the stream's descriptor at /dev/null: what it still buffers, and the interpreter's
        last flush at exit, then go nowhere instead of failing again."""
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, self._stream.fileno())
        finally:
            os.close(devnull)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)  # isatty, fileno, encoding: what rich and print ask


@contextmanager
def reader_may_leave() -> Iterator[None]:
    """Within the block, sys.stdout tolerates its reader leaving; flushed at the end, while still guarded."""
    original = sys.stdout
    guarded = ReaderMayLeave(original)
    sys.stdout = guarded  # type: ignore[assignment]
    try:
        yield
    finally:
        guarded.flush()
        sys.stdout = original
