"""Recorder: one worker's measurements, and their exact merge on the master.

Every measured latency goes into an HdrHistogram (microseconds, 1 µs to 1 h, 3
significant digits), not Locust's rounded buckets, so percentiles keep sub-millisecond
precision and merge exactly across workers. In open loop the latency is measured from the
request's intended start (coordinated-omission corrected, as wrk2 does) and the raw
service time, from the moment it was really sent, is kept in a second histogram; a third
holds each measured request's send lateness (really sent − intended, the generator's own
pacing error), merged like the others so it is a metric like the others.

With several endpoints a worker also keeps Counts (and, in open loop, the service-time
histogram) per endpoint, so each endpoint's percentiles come from its own histogram,
never from a mix of endpoints. Besides the totals a worker keeps one small record per
interval of its measured window (the timeline: counts, a 2-significant-digit histogram,
its CPU and users) and one per load stage. A worker ships its cumulative totals with every report (the master keeps the
latest per worker, so repeats change nothing and a lost worker's figures stay) and each
closed interval once.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from hdrh.histogram import HdrHistogram

from isvcperf.loadgen import protocol
from isvcperf.util.clip import clip

LOWEST_US = 1
HIGHEST_US = 3_600_000_000
SIGNIFICANT_DIGITS = 3
INTERVAL_DIGITS = 2
EXAMPLE_CHARS = 1000
"""An error group keeps its first example's head and tail (util.clip), not just its start."""


def new_histogram(digits: int = SIGNIFICANT_DIGITS) -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, digits)


def decode_histogram(encoded: str, digits: int = SIGNIFICANT_DIGITS) -> HdrHistogram:
    """An encoded histogram back into one with our range (an empty string gives an empty one)."""
    histogram = new_histogram(digits)
    if encoded:
        histogram.decode_and_add(encoded)
    return histogram


def encode(histogram: HdrHistogram) -> str:
    return histogram.encode().decode("ascii") if histogram.get_total_count() else ""


def to_us(seconds: float) -> int:
    return max(LOWEST_US, min(HIGHEST_US, round(seconds * 1e6)))


@dataclass
class Counts:
    """Requests, outcomes and latencies of one slice of the run (all of it, a stage, an interval)."""

    histogram: HdrHistogram
    requests: int = 0
    successes: int = 0
    errors: int = 0

    def to_data(self) -> protocol.Counts:
        return protocol.Counts(histogram=encode(self.histogram), requests=self.requests, successes=self.successes,
                               errors=self.errors)


@dataclass
class Interval:
    """One interval of the timeline."""

    counts: Counts = field(default_factory=lambda: Counts(new_histogram(INTERVAL_DIGITS)))
    cpu: float = 0.0
    users: int = 0


class Shipped(Protocol):
    """More measurements a worker ships inside its snapshot (loadgen.llm_recorder.LlmRecorder)."""

    def snapshot(self, below: int | None = None) -> protocol.LlmStats:
        """Cumulative figures and the interval rows before `below` (all when None), each shipped once."""


class Recorder:
    """Counts, errors and latency histograms of the measured requests of one worker."""

    def __init__(self, open_loop: bool = False, stage_ends: list[float] | None = None, interval: float = 1.0,
                 endpoints: int = 0) -> None:
        self.total = Counts(new_histogram())
        self.service = new_histogram() if open_loop else None
        self.lateness = new_histogram() if open_loop else None
        """Open loop: how late each measured request went out (1 µs is the floor: on time)."""
        self.endpoints = [Counts(new_histogram()) for _ in range(endpoints)]
        """Per endpoint index (none for a run with one target: the totals are its figures)."""
        self.endpoint_service = [new_histogram() for _ in range(endpoints)] if open_loop else []
        self.warmup_requests = 0
        self.warmup_errors = 0
        self.warmup_error = ""
        """The first warm-up error, `TYPE: example`: the reason a run whose warm-up all failed is refused."""
        self.dropped = 0
        self.error_groups: protocol.ErrorGroups = {}
        """type → [count, first example]."""
        self.measure_start: float | None = None
        """Wall-clock (epoch) time the worker started measuring."""
        self.measure_end: float | None = None
        """Wall-clock time of the last measured completion."""
        self.stage_ends = stage_ends or []
        self.stages = [Counts(new_histogram()) for _ in self.stage_ends]
        self.stage_dropped = [0 for _ in self.stage_ends]
        self.interval = interval
        self.intervals: dict[int, Interval] = {}
        self._closed = -1
        """The last interval close_interval noted (they are closed in order, none skipped)."""
        self._base = 0.0
        self.llm: Shipped | None = None
        """A generative run's token-level measurements (set by loadgen.openai_user), shipped as `llm`."""

    # -- recording (the hot path) --------------------------------------------------------

    def begin(self, perf_now: float) -> None:
        """Start the measured window at `perf_now` (a time.perf_counter() value)."""
        self._base = perf_now
        self.measure_start = time.time() - (time.perf_counter() - perf_now)

    def record(self, intended: float, sent: float, finished: float | None, error: str | None,
               example: str = "", endpoint: int = 0) -> None:
        """One measured request (perf_counter times) to endpoint index `endpoint`; `finished` is None
        when no response came."""
        now = finished if finished is not None else time.perf_counter()
        self.measure_end = time.time()
        index = int((now - self._base) / self.interval)
        interval = self.intervals.get(index)
        if interval is None:
            interval = self.intervals[index] = Interval()
        stage = self.stages[self._stage_index(intended)] if self.stages else None
        slices = (self.total, interval.counts, stage) if stage is not None else (self.total, interval.counts)
        if self.endpoints:
            slices = (*slices, self.endpoints[endpoint])
        if self.lateness is not None:
            self.lateness.record_value(to_us(sent - intended))
        if finished is not None:
            latency = to_us(finished - intended)
            for counts in slices:
                counts.histogram.record_value(latency)
            if self.service is not None:
                service = to_us(finished - sent)
                self.service.record_value(service)
                if self.endpoint_service:
                    self.endpoint_service[endpoint].record_value(service)
        for counts in slices:
            counts.requests += 1
            if error is None:
                counts.successes += 1
            else:
                counts.errors += 1
        if error is not None:
            group = self.error_groups.get(error)
            if group is None:
                self.error_groups[error] = [1, clip(example, EXAMPLE_CHARS)]
            else:
                group[0] += 1

    def record_warmup(self, error: str | None, example: str) -> None:
        """A warm-up request ended: counted (with its error), never measured."""
        self.warmup_requests += 1
        if error is not None:
            self.warmup_errors += 1
            self.warmup_error = self.warmup_error or (f"{error}: {clip(example, EXAMPLE_CHARS)}" if example else error)

    def record_drop(self, intended: float) -> None:
        """An open-loop arrival that found every user busy."""
        self.dropped += 1
        if self.stages:
            self.stage_dropped[self._stage_index(intended)] += 1

    def _stage_index(self, intended: float) -> int:
        """The stage a request was scheduled in (one that overran the last stage counts in it)."""
        return min(bisect.bisect_right(self.stage_ends, intended - self._base), len(self.stages) - 1)

    def close_interval(self, index: int, cpu: float, users: int) -> None:
        """Note the generator's CPU and users for an interval that just ended (it may have no requests)."""
        interval = self.intervals.get(index)
        if interval is None:
            interval = self.intervals[index] = Interval()
        interval.cpu, interval.users = cpu, users
        self._closed = max(self._closed, index)

    def interval_index(self, perf_now: float) -> int:
        return int((perf_now - self._base) / self.interval)

    # -- shipping ------------------------------------------------------------------------

    def snapshot(self, final: bool = False) -> protocol.WorkerSnapshot:
        """Cumulative totals, plus the intervals closed since the last snapshot (all when final)."""
        current = self.interval_index(time.perf_counter()) if self.measure_start is not None else 0
        # An interval is shipped once, a whole interval after it ended and only once its CPU sample
        # is in, and forgotten here: the master keeps it, so a soak does not grow the worker. Closed
        # in order, they ship in order, none skipped: the master can tell which rows are settled.
        below = None if final else min(current - 1, self._closed + 1)
        ready = sorted(i for i in self.intervals if below is None or i < below)
        shipped = {i: self.intervals.pop(i) for i in ready}
        snapshot = protocol.WorkerSnapshot(
            **self.total.to_data(),
            service=encode(self.service) if self.service is not None else "",
            lateness=encode(self.lateness) if self.lateness is not None else "",
            warmupRequests=self.warmup_requests,
            warmupErrors=self.warmup_errors,
            warmupError=self.warmup_error,
            dropped=self.dropped,
            errorGroups=self.error_groups,
            measureStart=self.measure_start,
            measureEnd=self.measure_end,
            stages=[protocol.StageCounts(**c.to_data(), dropped=d)
                    for c, d in zip(self.stages, self.stage_dropped, strict=True)],
            endpoints=[
                protocol.EndpointCounts(**c.to_data(),
                                        service=encode(self.endpoint_service[i]) if self.endpoint_service else "")
                for i, c in enumerate(self.endpoints)
            ],
            intervals={
                str(i): protocol.IntervalCounts(**interval.counts.to_data(), cpu=interval.cpu, users=interval.users)
                for i, interval in shipped.items()
            },
        )
        if self.llm is not None:
            snapshot["llm"] = self.llm.snapshot(below)  # its interval rows ship with the HTTP ones
        return snapshot


SUMMED = ("requests", "successes", "errors", "warmupRequests", "warmupErrors", "dropped")
HISTOGRAMS = ("histogram", "service", "lateness")
"""The run-wide histograms of a snapshot: latency, service time and send lateness."""


def merge(snapshots: list[protocol.WorkerSnapshot] | list[dict[str, Any]]) -> protocol.Totals:
    """Sum worker snapshots (totals, stages, endpoints) into one run-wide view: exact histogram merge."""
    histograms = {key: new_histogram() for key in HISTOGRAMS}
    total: dict[str, Any] = dict.fromkeys(SUMMED, 0)
    groups: dict[str, list[Any]] = {}
    stages: list[dict[str, Any]] = []
    stage_histograms: list[HdrHistogram] = []
    endpoints: list[dict[str, Any]] = []
    endpoint_histograms: list[tuple[HdrHistogram, HdrHistogram]] = []
    starts, ends = [], []
    for snap in snapshots:
        for key, merged in histograms.items():
            if snap.get(key):
                merged.decode_and_add(snap[key])
        for key in SUMMED:
            total[key] += snap.get(key, 0)
        for kind, (count, example) in snap.get("errorGroups", {}).items():
            if kind in groups:
                groups[kind][0] += count
            else:
                groups[kind] = [count, example]
        for i, stage in enumerate(snap.get("stages", [])):
            if i == len(stages):
                stages.append({"requests": 0, "successes": 0, "errors": 0, "dropped": 0})
                stage_histograms.append(new_histogram())
            for key in ("requests", "successes", "errors", "dropped"):
                stages[i][key] += stage.get(key, 0)
            if stage.get("histogram"):
                stage_histograms[i].decode_and_add(stage["histogram"])
        for i, part in enumerate(snap.get("endpoints", [])):
            if i == len(endpoints):
                endpoints.append({"requests": 0, "successes": 0, "errors": 0})
                endpoint_histograms.append((new_histogram(), new_histogram()))
            for key in ("requests", "successes", "errors"):
                endpoints[i][key] += part.get(key, 0)
            for key, merged in zip(("histogram", "service"), endpoint_histograms[i], strict=True):
                if part.get(key):
                    merged.decode_and_add(part[key])
        if snap.get("measureStart") is not None:
            starts.append(snap["measureStart"])
        if snap.get("measureEnd") is not None:
            ends.append(snap["measureEnd"])
    for stage, stage_histogram in zip(stages, stage_histograms, strict=True):
        stage["histogram"] = encode(stage_histogram)
    for part, (part_histogram, part_service) in zip(endpoints, endpoint_histograms, strict=True):
        part.update(histogram=encode(part_histogram), service=encode(part_service))
    total.update(
        **{key: encode(merged) for key, merged in histograms.items()},
        errorGroups=groups,
        warmupError=next((snap["warmupError"] for snap in snapshots if snap.get("warmupError")), ""),
        stages=stages,
        endpoints=endpoints,
        measureStart=min(starts) if starts else None,
        measureEnd=max(ends) if ends else None,
    )
    return total  # type: ignore[return-value]  (built key by key above)


class Timeline:
    """The master's merge of every worker's intervals, summarised as they arrive.

    Each interval's summary (counts, p50/p90/p99) is computed when data for it arrives,
    not on every read. Its histogram is kept only while workers may still report it
    (FREEZE_AFTER intervals behind the newest); after that only the summary stays, so a
    long soak costs the master a few numbers per interval, not a histogram each.
    """

    FREEZE_AFTER = 30

    def __init__(self) -> None:
        self._seen: set[tuple[str, str]] = set()
        self._open: dict[int, Interval] = {}
        self._rows: dict[int, protocol.TimelineRow] = {}
        self._next: dict[str, int] = {}
        """Worker → the first interval it has not shipped (it ships them in order)."""

    def add(self, worker: str, intervals: dict[str, protocol.IntervalCounts]) -> None:
        for key, data in intervals.items():
            if (worker, key) in self._seen:
                continue
            self._seen.add((worker, key))
            index = int(key)
            self._next[worker] = max(self._next.get(worker, 0), index + 1)
            row = self._rows.setdefault(index, protocol.TimelineRow(index=index, requests=0, successes=0, errors=0,
                                                                    p50=None, p90=None, p99=None, cpu=0.0, users=0,
                                                                    workers=0))
            for name in ("requests", "successes", "errors", "users"):
                row[name] += data.get(name, 0)
            row["workers"] += 1
            row["cpu"] = max(row["cpu"], data.get("cpu", 0.0))
            interval = self._open.get(index)
            if interval is None and (not self._rows or index >= max(self._rows) - self.FREEZE_AFTER):
                interval = self._open[index] = Interval()
            if interval is not None and data["histogram"]:
                histogram = interval.counts.histogram
                histogram.decode_and_add(data["histogram"])
                row.update({f"p{p}": histogram.get_value_at_percentile(p) / 1000.0 for p in (50, 90, 99)})
        newest = max(self._rows, default=0)
        for index in [i for i in self._open if i < newest - self.FREEZE_AFTER]:
            del self._open[index]

    def settled(self, pending: Iterable[str]) -> int:
        """The first row that may still change: every row before it has been shipped by each of the
        `pending` workers (those that may still report); all rows when none is pending."""
        return min((self._next.get(worker, 0) for worker in pending), default=max(self._rows, default=-1) + 1)

    def summary(self) -> list[protocol.TimelineRow]:
        """Per interval: counts, p50/p90/p99 in ms (None when nothing completed), max CPU, users."""
        return [self._rows[i] for i in sorted(self._rows)]
