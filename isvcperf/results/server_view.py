"""The server view of a run: what the model server counted and timed, beside the client's figures.

ServerWatch reads the server's metrics (isvcperf.results.server_metrics) once the target is
ready, every interval while the load runs (a timeline of what the server counted, which
also shows a counter reset by a restarted server), and after the run; ServerView is the
difference, stored in result.json. Reading problems never fail the run: they become notes,
because the client's measurements stand on their own.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from isvcperf.results import server_metrics as sm
from isvcperf.spec.model import RunSpec

QUANTILES = (50, 90, 99)


@dataclass
class ServerView:
    """The server's own figures for the run's requests (measured and warm-up; readiness probes excluded)."""

    source: str
    """The metrics URL scraped, or the Prometheus and selector queried."""
    runtime: str = ""
    requests: int | None = None
    """Inference requests the server counted between the readings before and after the load."""
    sent: int = 0
    """What the generator sent in that time: measured (http/request-count) plus warm-up requests."""
    count_mismatch: bool = False
    latency: dict[str, float] = field(default_factory=dict)
    """mean, p50, p90, p99 in ms (percentiles interpolated in the server's buckets, like histogram_quantile)."""
    client: dict[str, float] = field(default_factory=dict)
    """The client's figures of the same names (service time in open loop: from the real send)."""
    difference: dict[str, float] = field(default_factory=dict)
    """client − server, ms: network, client overhead and whatever the server's timer does not see."""
    parts: dict[str, float] = field(default_factory=dict)
    """Mean ms of the parts the runtime times (queue, inference, ...)."""
    buckets: dict[str, float] = field(default_factory=dict)
    """The server's latency buckets over the run: upper bound in seconds → requests at or below it (cumulative)."""
    timeline: list[list[float]] = field(default_factory=list)
    """[seconds since the first reading, requests counted since it] at each reading."""
    notes: list[str] = field(default_factory=list)


class ServerWatch:
    """Readings of one run's server: start() once ready, stop() after the load, then view()."""

    def __init__(self, spec: RunSpec) -> None:
        assert spec.server is not None
        self.spec = spec
        self.source = sm.source_for(spec.server)
        self.profile = None if spec.server.runtime == "auto" else sm.PROFILES[spec.server.runtime]
        self.interval = spec.metrics.interval
        self.readings: list[sm.Reading] = []
        self.notes: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _read(self) -> sm.Reading | None:
        at = time.time()
        try:
            samples = self.source.samples(self.profile, at)
        except (OSError, ValueError) as exc:
            note = f"could not read {self.source.source}: {getattr(exc, 'reason', exc)}"
            if note not in self.notes:
                self.notes.append(note)
            return None
        if self.profile is None:
            self.profile = sm.recognise(samples)
            if self.profile is None:
                self.notes.append("no known runtime's metrics there (set server.runtime: mlserver, kserve or vllm)")
                self._stop.set()
                return None
        reading = sm.read(self.profile, samples, at)
        self.readings.append(reading)
        return reading

    def start(self) -> None:
        """The reading before the load (after readiness, so its probes are not counted), then one per interval."""
        self._read()
        self._thread = threading.Thread(target=self._during, name="isvcperf-server-metrics", daemon=True)
        self._thread.start()

    def _during(self) -> None:
        while not self._stop.wait(self.interval):
            self._read()

    def stop(self, end: float) -> None:
        """The reading after the load (through Prometheus: once it has scraped the server past `end`)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(sm.FETCH_TIMEOUT + 1)
        if isinstance(self.source, sm.PrometheusQuery) and self.profile is not None and self.readings:
            try:
                if not self.source.settle(self.profile, end):
                    self.notes.append(f"Prometheus had no scrape of the server newer than the run's end within "
                                      f"{sm.SETTLE_TIMEOUT:.0f}s: the server's figures may miss the last requests")
            except (OSError, ValueError) as exc:
                self.notes.append(f"could not query {self.source.source}: {exc}")
        self._read()

    def view(self, metrics: dict[str, float], warmup: int, prefix: str) -> ServerView:
        """The server's figures over the run beside the client's (`metrics`: the result's, `prefix`: http or grpc)."""
        out = ServerView(source=self.source.source, runtime=self.profile.runtime if self.profile else "",
                         notes=list(self.notes))
        out.sent = int(metrics.get(f"{prefix}/request-count", 0)) + warmup
        if len(self.readings) < 2:
            return out
        first, last = self.readings[0], self.readings[-1]
        if any(b.requests < a.requests for a, b in zip(self.readings, self.readings[1:], strict=False)):
            out.notes.append("the server's request counter went down during the run (a restart?): its figures "
                             "cover only part of the run")
        out.requests = round(last.requests - first.requests)
        out.count_mismatch = out.requests != out.sent
        if out.count_mismatch:
            out.notes.append(f"the server counted {out.requests} requests, the generator sent {out.sent} "
                             f"(measured + warm-up): {_mismatch_cause(out.requests, out.sent)}")
        out.timeline = [[round(r.at - first.at, 3), round(r.requests - first.requests)] for r in self.readings]
        buckets = {le: last.buckets.get(le, 0.0) - first.buckets.get(le, 0.0) for le in last.buckets}
        out.buckets = {("+Inf" if math.isinf(le) else f"{le:g}"): count for le, count in sorted(buckets.items())}
        count = buckets.get(math.inf, 0.0)
        if count > 0:
            out.latency["mean"] = (last.latency_sum - first.latency_sum) / count * 1000
            for q in QUANTILES:
                value = sm.quantile(q / 100, buckets)
                if value is not None:
                    out.latency[f"p{q}"] = value * 1000
        for part, (total, n) in last.parts.items():
            before = first.parts.get(part, (0.0, 0.0))
            if n > before[1]:
                out.parts[part] = (total - before[0]) / (n - before[1]) * 1000
        kind = "service-time" if f"{prefix}/service-time-mean" in metrics else "latency"
        for key in out.latency:
            client = metrics.get(f"{prefix}/{kind}-{key}")
            if client is not None:
                out.client[key] = client
                out.difference[key] = client - out.latency[key]
        return out


def _mismatch_cause(server: int, sent: int) -> str:
    if server > sent:
        return "the server also answered other clients, or counted retries"
    return "requests that failed before reaching the server (connection errors, timeouts) are not counted there"


def start(spec: RunSpec) -> ServerWatch | None:
    """Begin watching the server when the spec has a `server` block (call once the target is ready)."""
    if spec.server is None:
        return None
    watch = ServerWatch(spec)
    watch.start()
    return watch


def finish(watch: ServerWatch | None, result: Any, prefix: str) -> None:
    """Take the last reading and put the server view into `result` (nothing without a watch)."""
    if watch is None:
        return
    watch.stop(time.time())
    result.server = watch.view(result.metrics, sum(w.warmup_requests for w in result.workers), prefix)
