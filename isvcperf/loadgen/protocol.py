"""What crosses a process boundary between the orchestrator and the Locust processes.

The master serves one JSON document, the stats document, on `STATS_ROUTE`; the local and
Kubernetes runners follow it, the pod log fallback prints it as one line, the workers'
final files rebuild it when the master died, and `engine.run.build_result`,
`results.metrics` and `results.analysis` read it. Its shape is written here once, as
TypedDicts, so every producer and consumer names the same keys (the reads stay dict reads,
which a type checker verifies against these definitions); keys are camelCase because the
document is JSON read by people too.

The ports, the web routes the plugin adds to Locust's web UI, and the names of the custom
Locust messages and of the `report_to_master` key live here as well. This module imports
nothing from isvcperf or Locust: a master pod imports it for a port number, the CLI for a
route.
"""

from __future__ import annotations

import json
from typing import Any, Literal, TypedDict

MASTER_PORT = 5557
"""Where a master listens for workers in a pod (locally the runner picks free ports)."""
WEB_PORT = 8089
"""Where a master serves its web UI and the routes below in a pod."""

STATS_ROUTE = "/isvcperf/stats"
"""GET: the StatsDocument. Fetching a finished run's document lets the master quit."""
SINCE_PARAM = "since"
"""The stats route's query parameter: `?since=N` answers with the timeline rows (and a generative run's
interval rows) from index N on, everything else whole (isvcperf.loadgen.increment)."""
STOP_ROUTE = "/isvcperf/stop"
"""POST: tell every worker to send its snapshot now and to hand out no more tickets (on an interrupt, and
when `load.until: stable` ends the measurement: then the run finishes as completed)."""
SLO_ROUTE = "/isvcperf/slos"
"""POST (from the orchestrator) / GET: the SLO rows the web UI's SLO tab shows."""
EXITED_ROUTE = "/isvcperf/exited"
"""POST {"process": process_label(...)} (from the local runner): that worker's process has exited; the
master declares the worker lost at once instead of after Locust's heartbeat timeout (loadgen.lost_workers)."""
LOCUST_STATS_ROUTE = "/stats/requests"
"""Locust's own stats route: a late worker reads the master's `state` from it."""

MSG_ASSIGN = "isvcperf_assign"
"""master → worker: the worker's Share of the run, before Locust's spawn message."""
MSG_HELLO = "isvcperf_hello"
"""worker → master: the worker's process name, so a lost worker can be found in the logs."""
MSG_DONE = "isvcperf_done"
"""worker → master: the worker's final WorkerSnapshot; its share is used up."""
MSG_SNAPSHOT = "isvcperf_snapshot"
"""worker → master: a WorkerSnapshot between Locust's reports (every metrics interval, and on a stop)."""
MSG_STOP = "isvcperf_stop"
"""master → workers: the run is being interrupted, or load.until's rule holds; send a snapshot and stop the load."""
REPORT_KEY = "isvcperf"
"""The key of a worker's WorkerSnapshot in the data of Locust's `report_to_master` event."""

Phase = Literal["waiting", "running", "finished", "interrupted"]


def process_label(name: str, pid: int) -> str:
    """A worker process as it names itself to the master (MSG_HELLO) and as the local runner, which
    started it, names it: the same string on both sides of EXITED_ROUTE."""
    return f"{name} (pid {pid})"
"""waiting for workers → running → finished; `interrupted` only in a document rebuilt from the
workers' final files after the master died."""
PHASES: tuple[Phase, ...] = ("waiting", "running", "finished", "interrupted")

ErrorGroups = dict[str, list[Any]]
"""Error type → [count, first example text]."""


class Counts(TypedDict):
    """Requests, outcomes and latencies of one slice of the run (all of it, a stage, an endpoint, an interval).

    `histogram` is a base64 HdrHistogram of latencies in µs ("" when nothing completed).
    """

    histogram: str
    requests: int
    successes: int
    errors: int


class StageCounts(Counts):
    dropped: int
    """Open-loop arrivals of this stage that found every user busy."""


class EndpointCounts(Counts):
    service: str
    """Open loop: the service-time histogram (from the real send), else ""."""


class IntervalCounts(Counts):
    """One worker's interval of the timeline (histogram at 2 significant digits)."""

    cpu: float
    users: int


class LlmSlice(TypedDict):
    """A generative run's token-level figures over one slice of it (all of it, or one load stage): one
    worker's, or every worker's merged (isvcperf.loadgen.llm_recorder.merge). Histograms are base64
    HdrHistograms ("" when empty): times in µs, lengths in tokens."""

    ttft: str
    itl: str
    tpot: str
    e2e: str
    inputLength: str
    outputLength: str
    requests: int
    errors: int
    good: int
    """Requests without error and within every goodput limit."""
    inputTokens: int
    outputTokens: int
    fromUsage: int
    """Requests whose output tokens came from the server's usage."""
    fromFrames: int
    """Requests whose output tokens were counted from content frames (no usage)."""


class LlmStats(LlmSlice):
    """A generative run's token-level figures (protocol openai): the whole run's, per stage and per interval."""

    stages: list[LlmSlice]
    """Per load stage (by the stage of a request's intended start), in spec order; empty without stages."""
    intervals: dict[str, list[int]]
    """Interval index (as text) → [requests, good requests, output tokens]."""


class _Totals(Counts):
    """The keys of Totals that every run has."""

    service: str
    """Open loop: the service-time histogram (from the real send), else ""."""
    lateness: str
    """Open loop: the send-lateness histogram (intended → really sent), else ""."""
    warmupRequests: int
    warmupErrors: int
    """Warm-up requests that failed; when all did, the run stops with exit 3 (engine.monitor.warmup_failure)."""
    warmupError: str
    """The first warm-up error, `TYPE: example` (the head and tail of a long example), or ""."""
    dropped: int
    errorGroups: ErrorGroups
    measureStart: float | None
    """Epoch seconds the (first) worker started measuring; None before that."""
    measureEnd: float | None
    """Epoch seconds of the last measured completion."""
    stages: list[StageCounts]
    endpoints: list[EndpointCounts]
    """Per endpoint, in spec order (empty for a run with one target)."""


class Totals(_Totals, total=False):
    """One worker's cumulative figures, or every worker's merged (isvcperf.loadgen.recorder.merge)."""

    llm: LlmStats
    """Only in a generative run (protocol openai): the token-level figures."""


class WorkerSnapshot(Totals):
    """What a worker ships: its Totals and the intervals closed since its last snapshot."""

    intervals: dict[str, IntervalCounts]
    """Interval index (as text: JSON keys) → its counts."""


class WorkerStats(TypedDict):
    """The master's view of one worker."""

    index: int
    done: bool
    lostAt: float | None
    """Epoch seconds Locust's heartbeat marked the worker missing, or None."""
    maxCpu: float
    process: str
    requests: int | None
    successes: int | None
    errors: int | None
    warmupRequests: int | None
    warmupErrors: int | None
    dropped: int | None
    measureStart: float | None
    measureEnd: float | None
    health: dict[str, Any] | None
    """With ISVCPERF_HEALTH=1: the worker's descriptors, greenlets and RSS."""


WORKER_SNAPSHOT_FIELDS = ("requests", "successes", "errors", "warmupRequests", "warmupErrors", "dropped",
                          "measureStart", "measureEnd", "health")
"""The WorkerStats keys copied from the worker's latest snapshot (None until it sent one)."""


class TimelineRow(TypedDict):
    """One interval of the run, merged across workers (latencies in ms, None when nothing completed)."""

    index: int
    requests: int
    successes: int
    errors: int
    p50: float | None
    p90: float | None
    p99: float | None
    cpu: float
    """The busiest worker's CPU percent in this interval."""
    users: int
    workers: int
    """How many workers have reported this interval: it is complete when every measuring worker has
    (load.until judges only complete intervals, results.until)."""


class _Document(TypedDict):
    phase: Phase
    finishReason: str
    """"completed" or why the run ended ("1 of 2 workers lost"); "" while it goes."""
    startedAt: float | None
    finishedAt: float | None
    users: int
    connectedWorkers: int
    expectedWorkers: int
    workers: dict[str, WorkerStats]
    """Locust client id → the worker."""
    total: Totals
    interval: float
    """Seconds per timeline row (metrics.interval)."""
    timeline: list[TimelineRow]
    stages: list[dict[str, float]]
    """load.stages as the Locust processes got them ({duration, rate} or {duration, users})."""


class StatsDocument(_Document, total=False):
    """Everything the orchestrator needs from the master, merged across workers."""

    health: dict[str, Any]
    """With ISVCPERF_HEALTH=1: the master's own descriptors, greenlets and RSS."""
    interrupted: bool
    """The run was stopped before its end (the web UI's STOP): its figures are partial."""
    timelineSettled: int
    """Timeline rows with an index below this will not change any more (every worker still running
    has shipped them): a follower asks `?since=` it next. Absent from a document rebuilt from files."""
    timelineSince: int
    """Only in an answer to `?since=N`: `timeline` and `total.llm.intervals` hold the rows from index N on."""


def worker_stats(index: int, snapshot: dict[str, Any], *, done: bool = False, lost_at: float | None = None,
                 max_cpu: float = 0.0, process: str = "") -> WorkerStats:
    """One worker's entry of the document, its counts taken from its latest snapshot."""
    return WorkerStats(index=index, done=done, lostAt=lost_at, maxCpu=max_cpu, process=process,
                       **{key: snapshot.get(key) for key in WORKER_SNAPSHOT_FIELDS})  # type: ignore[typeddict-item]


def parse_document(text: str | bytes) -> StatsDocument:
    """A StatsDocument from JSON; ValueError when it is not one (a proxy's error page, a cut line)."""
    data = json.loads(text)
    if not isinstance(data, dict) or data.get("phase") not in PHASES or not isinstance(data.get("total"), dict):
        raise ValueError("not an isvcperf stats document")
    return data  # type: ignore[return-value]
