"""This Locust process's own resource use — open descriptors, live greenlets, RSS — for
leak checks (the soak test and benchmark read it from `/isvcperf/stats`).

Counting greenlets walks every object the garbage collector tracks, a pause of
milliseconds that would stall a worker's event loop under load, so the field is only
there when ISVCPERF_HEALTH=1 is in the processes' environment.
"""

from __future__ import annotations

import gc
import os
from typing import Any

import psutil
from greenlet import greenlet

HEALTH_ENV = "ISVCPERF_HEALTH"


def enabled() -> bool:
    return os.environ.get(HEALTH_ENV) == "1"


def sample() -> dict[str, Any]:
    """Open file descriptors, greenlets not yet finished, and resident memory of this process."""
    return {
        "fds": psutil.Process().num_fds(),
        "greenlets": sum(1 for obj in gc.get_objects() if isinstance(obj, greenlet) and not obj.dead),
        "rssBytes": psutil.Process().memory_info().rss,
    }
