"""Full garbage collections in the master at a steady pace.

HdrHistogram objects hold a reference cycle (histogram ↔ its encoder), so they are freed
by the cyclic collector, not when the last reference goes. The master makes many that
live a while — the timeline's recent intervals, the merge behind every stats fetch — and
those outlive the young generations; Python runs a full collection only when the survivors
reach a quarter of all long-lived objects, which in a process holding Locust and Flask
takes long. In a 30-minute soak the master's RSS grew 22% that way. A full collection
every COLLECT_EVERY seconds bounds it; it pauses the master for milliseconds, which
measures nothing (workers are never paused: their pauses would be latency).
"""

from __future__ import annotations

import gc

import gevent

COLLECT_EVERY = 30.0


def start() -> None:
    """Collect every COLLECT_EVERY seconds for the life of this (master) process."""
    gevent.spawn(_collect)


def _collect() -> None:
    while True:
        gevent.sleep(COLLECT_EVERY)
        gc.collect()
