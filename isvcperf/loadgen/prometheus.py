"""The master's `/metrics`: the run's live figures in the Prometheus exposition format.

Kubernetes users watch Prometheus and Grafana, not a terminal. The master already holds
the merged state of every worker (the stats document it serves to the orchestrator), so
the Collector here reads that document at scrape time and turns it into metric families:
no second set of counters to keep in step. Every series carries `run` (the spec's name)
and `run_id` (one run of it).

The latency histogram's buckets are fixed, chosen for inference latencies (1 ms to 60 s);
its counts come from the exact HdrHistogram, so a bucket boundary is exact to the
histogram's 3 significant digits. Exact percentiles stay in result.json; Prometheus gets
what `histogram_quantile()` can use across runs.

With `outputs.prometheus.remoteWrite` the same families are pushed every push interval and
once more when the run finishes, for runs too short to be scraped (see
isvcperf.outputs.remote_write). And because the local runner stops the master right after
fetching the result, a master that has been scraped waits, when it is told to quit, for one
scrape after the run finished (a few seconds at most), so Prometheus holds the final counts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import gevent
from gevent.event import Event
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from isvcperf.loadgen.config import LoadgenConfig
from isvcperf.loadgen.protocol import StatsDocument, Totals
from isvcperf.loadgen.recorder import decode_histogram
from isvcperf.results import metrics as run_metrics
from isvcperf.results import slo
from isvcperf.spec.model import SLO

log = logging.getLogger("isvcperf")

ROUTE = "/metrics"
LABELS = ("run", "run_id")
BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
"""Inference latencies: a scikit-learn model answers in a millisecond, a generative one in tens of seconds."""
LATENESS_BUCKETS_S = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1.0)
"""Send lateness: a punctual generator sends within 0.1 ms (p50) and 0.5 ms (p99) of the intended time;
the validity check's default limit on its p99 is 5 ms; a stalled one is late by tens of milliseconds or more."""
FINAL_SCRAPE_MAX = 8.0
"""The most a quitting master waits for Prometheus's last scrape (the local runner kills it after 10 s)."""
PHASES = ("waiting", "running", "finished")

Document = Callable[[], StatsDocument]
"""The master's current stats document (loadgen.protocol), read at each scrape."""


class RunCollector:
    """Metric families from the master's stats document, computed when Prometheus asks."""

    def __init__(self, config: LoadgenConfig, document: Document) -> None:
        self.config = config
        self.document = document
        self.labels = [config.run_name, config.run_id]

    def collect(self) -> Iterator[Metric]:
        doc = self.document()
        total = doc["total"]
        yield from self._phase(doc)
        yield from self._counts(doc, total)
        yield from self._latencies(total)
        yield from self._slos(total)

    def _family(self, kind: type, name: str, doc: str, value: float | None = None,
                extra: tuple[str, ...] = ()) -> Any:
        family = kind(name, doc, labels=[*LABELS, *extra])
        if value is not None:
            family.add_metric(self.labels, value)
        return family

    def _phase(self, doc: StatsDocument) -> Iterator[Metric]:
        phase = self._family(GaugeMetricFamily, "isvcperf_run_phase",
                             "1 for the phase the run is in (waiting, running, finished), 0 for the others",
                             extra=("phase",))
        for name in PHASES:
            phase.add_metric([*self.labels, name], 1.0 if doc.get("phase") == name else 0.0)
        yield phase
        workers = doc.get("workers") or {}
        yield self._family(GaugeMetricFamily, "isvcperf_users", "Locust users running", doc.get("users") or 0)
        yield self._family(GaugeMetricFamily, "isvcperf_workers", "Locust workers connected",
                           doc.get("connectedWorkers") or 0)
        yield self._family(GaugeMetricFamily, "isvcperf_workers_expected", "Locust workers the run asked for",
                           doc.get("expectedWorkers") or 0)
        yield self._family(GaugeMetricFamily, "isvcperf_workers_lost", "Workers the master stopped hearing from",
                           sum(1 for w in workers.values() if w.get("lostAt") is not None))

    def _counts(self, doc: StatsDocument, total: Totals) -> Iterator[Metric]:
        requests = self._family(CounterMetricFamily, "isvcperf_requests",
                                "Requests completed or failed: phase=measured (http/request-count) or warmup "
                                "(sent, excluded from every other metric)", extra=("phase",))
        requests.add_metric([*self.labels, "measured"], total.get("requests") or 0)
        requests.add_metric([*self.labels, "warmup"], total.get("warmupRequests") or 0)
        yield requests
        yield self._family(CounterMetricFamily, "isvcperf_successes", "Measured requests that succeeded",
                           total.get("successes") or 0)
        errors = self._family(CounterMetricFamily, "isvcperf_errors", "Measured errors by type (HTTP 503, Timeout, ...)",
                              extra=("type",))
        for kind, (count, _example) in sorted((total.get("errorGroups") or {}).items()):
            errors.add_metric([*self.labels, kind], count)
        yield errors
        yield self._family(CounterMetricFamily, "isvcperf_dropped_arrivals",
                           "Open-loop arrivals that found every user busy (not sent)", total.get("dropped") or 0)
        window = run_metrics.window(total)
        yield self._family(GaugeMetricFamily, "isvcperf_measured_seconds", "Length of the measured window so far",
                           window)
        yield self._family(GaugeMetricFamily, "isvcperf_throughput",
                           "Successful requests per second over the measured window (http/throughput)",
                           (total.get("successes") or 0) / window if window > 0 else 0.0)

    def _latencies(self, total: Totals) -> Iterator[Metric]:
        yield self._histogram("isvcperf_latency_seconds", "Latency of measured requests (open loop: from the "
                              "intended start, coordinated-omission corrected)", total.get("histogram") or "")
        if total.get("service"):
            yield self._histogram("isvcperf_service_time_seconds", "Open loop: from the real send to the response",
                                  total["service"])
        if total.get("lateness"):
            yield self._histogram("isvcperf_send_lateness_seconds", "Open loop: how late each measured request "
                                  "went out, real send - intended time (the result's send-lateness-* metrics)", total["lateness"],
                                  LATENESS_BUCKETS_S)

    def _histogram(self, name: str, doc: str, encoded: str, bounds: tuple[float, ...] = BUCKETS_S) -> Metric:
        histogram = decode_histogram(encoded)
        counts = [0] * len(bounds)
        for item in histogram.get_recorded_iterator():
            seconds = histogram.get_highest_equivalent_value(item.value_iterated_to) / 1e6
            for i, bound in enumerate(bounds):
                if seconds <= bound:
                    counts[i] += item.count_at_value_iterated_to
                    break
        cumulative, buckets = 0, []
        for bound, count in zip(bounds, counts, strict=True):
            cumulative += count
            buckets.append((repr(bound), cumulative))
        count = histogram.get_total_count()
        buckets.append(("+Inf", count))
        family = HistogramMetricFamily(name, doc, labels=list(LABELS))
        family.add_metric(self.labels, buckets, sum_value=histogram.get_mean_value() * count / 1e6)
        return family

    def _slos(self, total: Totals) -> Iterator[Metric]:
        config = self.config
        satisfied = self._family(GaugeMetricFamily, "isvcperf_slo_satisfied", "1 while the SLO holds, else 0",
                                 extra=("metric",))
        value = self._family(GaugeMetricFamily, "isvcperf_slo_value",
                             "The SLO's metric now, in its own unit (milliseconds for latencies)", extra=("metric",))
        limit = self._family(GaugeMetricFamily, "isvcperf_slo_limit", "The SLO's limit: bound=upper (value <= limit) "
                             "or lower (value >= limit)", extra=("metric", "bound"))
        if config.slos:
            ids = [endpoint.id for endpoint in config.endpoints if endpoint.id]
            values = run_metrics.with_endpoints(total, ids, config.percentiles, run_metrics.window(total),
                                                config.metric_prefix) if total else {}
            verdicts = slo.evaluate({name: SLO(**bounds) for name, bounds in config.slos.items()}, values)
            for verdict in verdicts:
                labels = [*self.labels, verdict.metric]
                satisfied.add_metric(labels, 1.0 if verdict.satisfied else 0.0)
                if verdict.value is not None:
                    value.add_metric(labels, verdict.value)
                for bound in ("upper", "lower"):
                    if getattr(verdict, bound) is not None:
                        limit.add_metric([*labels, bound], getattr(verdict, bound))
        yield from (satisfied, value, limit)


class Exporter:
    """The /metrics route, the final-scrape wait and the optional remote-write pusher of one master."""

    def __init__(self, config: LoadgenConfig, document: Document) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.collector = RunCollector(config, document)
        self.registry.register(self.collector)  # type: ignore[arg-type]
        self.config = config
        self.scrapes: list[float] = []
        """When Prometheus scraped (the last two: enough for its interval)."""
        self.finished_at: float | None = None
        self.final_push = Event()
        """Set once the figures of a finished (or quitting) run have been pushed."""
        self._writer: Any = None

    def scrape(self) -> tuple[bytes, int, dict[str, str]]:
        """The Flask view: everything in the text exposition format."""
        body = generate_latest(self.registry)
        self.scrapes = [*self.scrapes[-1:], time.time()]
        return body, 200, {"Content-Type": CONTENT_TYPE_LATEST}

    def note_phase(self) -> bool:
        """Whether the run has finished (noting when it was first seen so)."""
        if self.finished_at is None and self.collector.document().get("phase") == "finished":
            self.finished_at = time.time()
        return self.finished_at is not None

    def wait_for_final_scrape(self) -> None:
        """When quitting: if Prometheus scrapes this master, give it one scrape of the final state."""
        if not self.scrapes or not self.note_phase():
            return
        interval = self.scrapes[-1] - self.scrapes[0] if len(self.scrapes) > 1 else FINAL_SCRAPE_MAX / 2
        deadline = time.time() + min(FINAL_SCRAPE_MAX, 2 * interval + 0.5)
        while self.scrapes[-1] < (self.finished_at or 0) and time.time() < deadline:
            gevent.sleep(0.1)

    def push(self) -> None:
        """One remote write of every family now; a failure is logged, never fatal to the run."""
        from isvcperf.outputs.remote_write import RemoteWriter  # protobuf only in a master that pushes

        remote = self.config.remote_write
        assert remote is not None
        if self._writer is None:
            self._writer = RemoteWriter(remote.url, remote.expanded_headers())
        error = self._writer.push(self.registry.collect(), time.time())
        if error:
            log.warning("isvcperf: remote write to %s failed: %s", remote.url, error)

    def push_loop(self) -> None:
        """Push every interval, and once more as soon as the run has finished."""
        remote = self.config.remote_write
        assert remote is not None
        while not self.final_push.is_set():
            finished = self.note_phase()
            self.push()
            if finished:
                self.final_push.set()
                return
            deadline = time.time() + remote.interval
            while time.time() < deadline and not self.note_phase():
                gevent.sleep(0.1)


def install(environment: Any, web_ui: Any, config: LoadgenConfig, document: Document) -> Exporter:
    """Serve /metrics on the master's web UI; push and wait for the last scrape as configured."""
    exporter = Exporter(config, document)
    if web_ui is not None:
        web_ui.app.add_url_rule(ROUTE, "isvcperf_metrics", exporter.scrape)
    if config.remote_write is not None:
        gevent.spawn(exporter.push_loop)

    @environment.events.quitting.add_listener
    def _quitting(**_: Any) -> None:
        exporter.wait_for_final_scrape()
        if config.remote_write is not None and not exporter.final_push.is_set():
            exporter.final_push.set()  # the loop pushes no more: this is the last word (an interrupted run's)
            exporter.push()

    return exporter
