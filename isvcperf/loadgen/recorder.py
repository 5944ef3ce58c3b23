"""Recorder: one worker's measurements, and their exact merge on the master.

Every measured latency goes into an HdrHistogram (microseconds, 1 µs to 1 h, 3
significant digits), not Locust's rounded buckets, so percentiles keep sub-millisecond
precision and merge exactly across workers. A worker ships its whole cumulative state
with every report; the master keeps the latest snapshot per worker, so a repeated or
late report changes nothing and a lost worker's last figures stay in the result.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 3_600_000_000
SIGNIFICANT_DIGITS = 3
EXAMPLE_CHARS = 300


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


def decode_histogram(encoded: str) -> HdrHistogram:
    """An encoded histogram back into one with our range (an empty string gives an empty one)."""
    histogram = new_histogram()
    if encoded:
        histogram.decode_and_add(encoded)
    return histogram


@dataclass
class Recorder:
    """Counts, errors and the latency histogram of the measured requests of one worker."""

    histogram: HdrHistogram = field(default_factory=new_histogram)
    requests: int = 0
    successes: int = 0
    errors: int = 0
    warmup_requests: int = 0
    dropped: int = 0
    error_groups: dict[str, list[Any]] = field(default_factory=dict)
    """type → [count, first example]."""
    measure_start: float | None = None
    """Wall-clock (epoch) time the worker started measuring."""
    measure_end: float | None = None
    """Wall-clock time of the last measured completion."""

    def record(self, latency_s: float | None, error: str | None, example: str = "") -> None:
        """One measured request: its latency when a response came, and its error type if any."""
        self.requests += 1
        self.measure_end = time.time()
        if latency_s is not None:
            self.histogram.record_value(max(LOWEST_US, min(HIGHEST_US, round(latency_s * 1e6))))
        if error is None:
            self.successes += 1
            return
        self.errors += 1
        group = self.error_groups.get(error)
        if group is None:
            self.error_groups[error] = [1, example[:EXAMPLE_CHARS]]
        else:
            group[0] += 1

    def snapshot(self) -> dict[str, Any]:
        """The cumulative state as plain data for Locust's msgpack transport."""
        return {
            "histogram": self.histogram.encode().decode("ascii") if self.histogram.get_total_count() else "",
            "requests": self.requests,
            "successes": self.successes,
            "errors": self.errors,
            "warmupRequests": self.warmup_requests,
            "dropped": self.dropped,
            "errorGroups": self.error_groups,
            "measureStart": self.measure_start,
            "measureEnd": self.measure_end,
        }


def merge(snapshots: list[dict[str, Any]]) -> dict[str, Any]:
    """Sum worker snapshots into one run-wide view: exact histogram merge, summed counts."""
    histogram = new_histogram()
    total: dict[str, Any] = {"requests": 0, "successes": 0, "errors": 0, "warmupRequests": 0, "dropped": 0}
    groups: dict[str, list[Any]] = {}
    starts, ends = [], []
    for snap in snapshots:
        if snap.get("histogram"):
            histogram.decode_and_add(snap["histogram"])
        for key in total:
            total[key] += snap.get(key, 0)
        for kind, (count, example) in snap.get("errorGroups", {}).items():
            if kind in groups:
                groups[kind][0] += count
            else:
                groups[kind] = [count, example]
        if snap.get("measureStart") is not None:
            starts.append(snap["measureStart"])
        if snap.get("measureEnd") is not None:
            ends.append(snap["measureEnd"])
    total["histogram"] = histogram.encode().decode("ascii") if histogram.get_total_count() else ""
    total["errorGroups"] = groups
    total["measureStart"] = min(starts) if starts else None
    total["measureEnd"] = max(ends) if ends else None
    return total
