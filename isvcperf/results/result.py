"""Result: everything a run measured, in one serialisable object (`result.json`).

Reports, `isvcperf report` and `isvcperf assert` read only this, so a result written by
an interrupted run, on another machine or inside a cluster renders exactly like a fresh
one. Keys in the file are camelCase like the spec's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from isvcperf.results.server_view import ServerView
from isvcperf.spec import schema
from isvcperf.util.errors import SpecError

FORMAT_VERSION = 1
Status = Literal["completed", "interrupted", "could-not-run"]


@dataclass
class ErrorGroup:
    """Errors of one kind: `HTTP 500`, `ConnectionRefusedError`, `Timeout`."""

    type: str
    count: int
    example: str = ""
    """The first message or response body seen, truncated; server text, never trusted."""


@dataclass
class SLOVerdict:
    """One SLO checked against the measured metrics."""

    metric: str
    satisfied: bool
    value: float | None = None
    """None when the metric was not measured (which never satisfies the SLO)."""
    upper: float | None = None
    lower: float | None = None


@dataclass
class WorkerSummary:
    """What one Locust worker process did."""

    id: str
    requests: int = 0
    errors: int = 0
    warmup_requests: int = 0
    dropped: int = 0
    lost_at: str = ""
    """UTC ISO-8601 time the master lost this worker ('' when it stayed to the end)."""
    process: str = ""
    """The process (`worker-1 (pid 4242)`) or pod it ran in, as the worker said when the test started."""

    @property
    def label(self) -> str:
        """How reports name the worker: its process or pod, else Locust's id (`vm_<uuid>` says nothing)."""
        return self.process or self.id


@dataclass
class TimelinePoint:
    """One interval of the measured window (default 1 s): for timeline charts and soak drift."""

    t: float
    """Seconds from the start of the measured window to the end of this interval."""
    requests: int = 0
    errors: int = 0
    throughput: float = 0.0
    """Successful requests per second in this interval."""
    p50: float | None = None
    p90: float | None = None
    p99: float | None = None
    """Latency percentiles of this interval, milliseconds (None when nothing completed)."""
    users: int = 0
    stage: int | None = None
    cpu: float = 0.0
    """The busiest worker's CPU in this interval, percent of one core (over 90: a saturated generator)."""


@dataclass
class StageResult:
    """Metrics of one load stage (`load.stages`), as well as the run's overall ones."""

    index: int
    start: float
    """Seconds from the start of the measured window."""
    end: float
    target: dict[str, float] = field(default_factory=dict)
    """What the stage asked for: rate and/or users."""
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class ValidityCheck:
    """One condition of a measurement we can stand behind (results.validity), as measured."""

    name: str
    status: Literal["pass", "fail", "warn", "skip"]
    """fail makes the result invalid; warn is a failure the spec ignores (validity.ignore) or one that
    only advises (master-capacity); skip: not judged for this run, `value` says why."""
    value: str
    limit: str
    advice: str = ""
    """What to do about a failure: raise users, add workers, lower the rate, run longer."""


@dataclass
class Validity:
    """Whether the figures can be stood behind (MLPerf LoadGen's VALID / INVALID), and why."""

    verdict: Literal["valid", "invalid"]
    checks: list[ValidityCheck] = field(default_factory=list)

    @property
    def failed(self) -> list[ValidityCheck]:
        return [c for c in self.checks if c.status == "fail"]


@dataclass
class Result:
    """One run's outcome."""

    name: str
    status: Status
    started_at: str = ""
    """UTC ISO-8601 time the measured window started ('' when it never did)."""
    ended_at: str = ""
    measured_seconds: float = 0.0
    reason: str = ""
    """Why the run did not complete (interrupted, workers lost, target not ready)."""
    target: dict[str, Any] = field(default_factory=dict)
    load: dict[str, Any] = field(default_factory=dict)
    """The load actually applied: users, workers, rate, requests or duration, warm-up."""
    metrics: dict[str, float] = field(default_factory=dict)
    """Iter8-named metrics; latencies in milliseconds."""
    histogram: str = ""
    """The merged latency HdrHistogram (microseconds, 3 significant digits), encoded."""
    errors: list[ErrorGroup] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    slos: list[SLOVerdict] = field(default_factory=list)
    workers: list[WorkerSummary] = field(default_factory=list)
    timeline: list[TimelinePoint] = field(default_factory=list)
    stages: list[StageResult] = field(default_factory=list)
    server: ServerView | None = None
    """The model server's own metrics over the run (`server` in the spec), beside the client's."""
    spec: dict[str, Any] = field(default_factory=dict)
    llm: dict[str, Any] = field(default_factory=dict)
    """protocol openai: the merged histograms and per-interval tokens and goodput (results.llm_metrics)."""
    validity: Validity | None = None
    """None in a result written before the checks existed (then not judged)."""
    until: str = ""
    """How `load.until: stable` ended the measurement (`stable after 15 s (3 windows of 5 s within ±20%)`,
    `not stable within the 50 s maximum`); "" for a fixed window."""
    stable_at: float | None = None
    """load.until: stable, when the rule held: seconds into the measured window where the judged windows end."""
    version: int = FORMAT_VERSION

    @property
    def slos_satisfied(self) -> bool:
        return all(v.satisfied for v in self.slos)

    @property
    def workers_lost(self) -> int:
        return sum(1 for w in self.workers if w.lost_at)

    @property
    def valid(self) -> bool:
        return self.validity is None or self.validity.verdict == "valid"

    @property
    def slo_verdict(self) -> str:
        """What the SLOs alone say: `passed`, `failed` (an SLO does not hold, or workers were lost:
        load shortfall) or the status."""
        if self.status == "could-not-run":
            return "could-not-run"
        if self.status == "interrupted" and not self.measured_seconds:
            return "interrupted"  # nothing was measured, so no SLO was broken
        if not self.slos_satisfied or self.workers_lost:
            return "failed"
        return "passed" if self.status == "completed" else self.status

    @property
    def verdict(self) -> str:
        """The SLO verdict, except that SLOs holding on an invalid measurement are `invalid`, never `passed`."""
        verdict = self.slo_verdict
        return "invalid" if verdict == "passed" and not self.valid else verdict

    def to_data(self) -> dict[str, Any]:
        return schema.dump(self)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_data(), indent=2, sort_keys=False) + "\n", encoding="utf-8")


def load_result(path: str | Path) -> Result:
    """Read result.json, or the one inside a results directory."""
    target = Path(path)
    if target.is_dir():
        target = target / "result.json"
    if not target.is_file():
        raise SpecError("", f"no result at {str(path)!r} (give a result.json or the run's output directory)")
    try:
        data = json.loads(target.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SpecError("", f"{target}: not a readable result.json ({exc})") from None
    return schema.load(Result, data, path="result")
