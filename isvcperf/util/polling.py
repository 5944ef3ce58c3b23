"""Poll until a deadline: the one loop behind readiness, the runners and API retries.

Waiting for a target, following a run and riding out a throttled API server are the same
loop: ask, and either have an answer, or sleep and ask again until the time is up, then
say what was seen last. Written once so every wait is bounded the same way (the last
sleep never overshoots the deadline) and none of them can spin or hang.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def poll_until(step: Callable[[], T | None], deadline: float | None, interval: float,
               expired: Callable[[], T], backoff: float = 1.0, max_interval: float | None = None) -> T:
    """Call `step` until it returns something other than None and return that.

    `deadline` is a time.monotonic() value (None: no bound but the step's own). When the
    next sleep would end past it, `expired()` decides: it returns a value or raises.
    `backoff` multiplies the interval after each try, up to `max_interval`.
    """
    while True:
        answer = step()
        if answer is not None:
            return answer
        if deadline is not None and time.monotonic() + interval > deadline:
            return expired()
        time.sleep(interval)
        interval = min(interval * backoff, max_interval or interval * backoff)


def deadline_after(seconds: float | None) -> float | None:
    """The monotonic deadline `seconds` from now (None stays None: unbounded)."""
    return None if seconds is None else time.monotonic() + seconds
