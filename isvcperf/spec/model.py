"""RunSpec: the whole test as data.

A spec comes from a YAML file, is changed by `--set key=value` overrides (spec.load), is
checked field by field and across fields (spec.validate) and resolved once (spec.resolve):
defaults that depend on other fields filled in, URLs built, names made canonical.
Everything downstream (readiness, the Plan, the runners, SLOs, reports) takes that
resolved RunSpec and trusts it; nothing else reads YAML. The classes are frozen: a later
stage that needs a different spec (a sweep's step, the URL an InferenceService reports)
makes a new one with dataclasses.replace, so no stage sees another's edits.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from isvcperf.kserve import urls
from isvcperf.spec import metric_names, schema
from isvcperf.spec.generative import Api, Generate, Goodput
from isvcperf.spec.kubernetes import Kubernetes
from isvcperf.spec.schema import duration_field
from isvcperf.spec.validity import Validity

Protocol = Literal["v2", "v1", "raw", "grpc-v2", "openai"]
Method = Literal["GET", "POST", "PUT"]

@dataclass(frozen=True)
class Target:
    """Where requests go and how they are framed."""

    url: str | None = None
    """Full inference URL (built from base_url, protocol and model when absent); for
    protocol grpc-v2 `grpc://HOST:PORT`, or `grpcs://HOST:PORT` for TLS."""
    base_url: str | None = None
    protocol: Protocol = "v2"
    model: str | None = None
    method: Method = "POST"
    headers: dict[str, str] = field(default_factory=dict)
    """Header values may hold ${ENV_VAR}; expanded when the run starts, never stored."""
    timeout: float = duration_field(30.0)
    """Per-request timeout (connect, and each wait for data); a request that takes longer counts as an error."""
    ca_bundle: str | None = None
    """PEM file of CAs to verify an https target with (default: the system's)."""
    insecure: bool = False
    """Skip TLS verification for an https target; the report says so."""
    isvc: str | None = None
    """A KServe InferenceService: its Ready condition gates the run; its status gives the URL."""
    namespace: str | None = None
    """The InferenceService's namespace (default: the run's namespace)."""
    api: Api | None = None
    """protocol openai: chat (default), completions or embeddings."""
    openai_prefix: str | None = None
    """protocol openai: the route prefix under the base URL (default KServe's /openai/v1; /v1 for vLLM, llama.cpp)."""


@dataclass(frozen=True)
class Ready:
    """How long, and where, to wait for the target before sending load."""

    timeout: float = duration_field(60.0)
    url: str | None = None
    """When given, GET must answer 2xx here instead of the protocol's own readiness checks."""
    interval: float = duration_field(1.0)
    enabled: bool = True


@dataclass(frozen=True)
class Payload:
    """The request body: one of a file, a URL or inline data, or a set of bodies (files, jsonl)."""

    file: str | None = None
    url: str | None = None
    inline: Any = None
    """A string is sent as is; a mapping or list is sent as JSON."""
    files: list[str] = field(default_factory=list)
    """A payload set: several bodies, one per file, so caches do not flatter the service."""
    jsonl: str | None = None
    """A payload set in one file: one JSON body per line (blank lines skipped)."""
    order: Literal["roundRobin", "random"] = "roundRobin"
    """How a payload set is walked: in turn (exact counts per body) or at random."""
    content_type: str = "application/json"


@dataclass(frozen=True)
class Check:
    """A condition every response must meet, else it counts as an error of its own type.

    `status: 200`, or `jsonPath: outputs[0].shape` with `equals: [2, 1]` or `exists: true`
    (a bare jsonPath means exists: true). Checked only on responses that are not already
    errors; a jsonPath check parses the response as JSON, which costs time per request.
    """

    status: int | None = None
    json_path: str | None = None
    equals: Any = None
    exists: bool | None = None


@dataclass(frozen=True)
class Endpoint:
    """One of several targets of one test (`endpoints:`), sharing the load by weight.

    Unset fields come from `target` (protocol, method, headers, added to the endpoint's)
    and the top-level `payload` and `checks` (the endpoint's checks are added to those).
    Its metrics are named `http-<id>/...` (`grpc-<id>/...`) besides the run's totals.
    """

    id: str
    url: str | None = None
    base_url: str | None = None
    protocol: Protocol | None = None
    model: str | None = None
    method: Method | None = None
    headers: dict[str, str] = field(default_factory=dict)
    payload: Payload | None = None
    weight: int = 1
    """Share of the requests: weights 3 and 1 send exactly 3 of every 4 requests to the first."""
    slos: dict[str, SLO] = field(default_factory=dict)
    """SLOs on this endpoint's metrics (`latency-p90` or `http/latency-p90` mean `http-<id>/latency-p90`)."""
    checks: list[Check] = field(default_factory=list)
    target: Target = field(default_factory=lambda: Target(), metadata={schema.INTERNAL: True})
    """The resolved target (spec.resolve): what readiness, the Plan and the users read."""
    all_checks: list[Check] = field(default_factory=list, metadata={schema.INTERNAL: True})
    """The top-level checks followed by this endpoint's (spec.resolve)."""


@dataclass(frozen=True)
class Warmup:
    """Requests sent before measuring; sent for real, excluded from every metric."""

    requests: int = 0
    duration: float = duration_field(0.0)


@dataclass(frozen=True)
class Stage:
    """One step of `load.stages`: reach `rate` (or `users`) linearly over `duration`."""

    duration: float = duration_field(dataclasses.MISSING)
    rate: float | None = None
    users: int | None = None


@dataclass(frozen=True)
class Sweep:
    """`isvcperf sweep`: the loads to try, lowest first, each for load.duration."""

    parameter: Literal["rate", "users"] = "rate"
    values: list[float] = field(default_factory=list)
    start: float | None = None
    step: float | None = None
    max: float | None = None
    goodput_ratio: float | None = None
    """protocol openai: a step passes only when llm/goodput-ratio ≥ this (0–1), so the capacity is
    the highest load that keeps goodput at the target (engine.sweep)."""


@dataclass(frozen=True)
class Load:
    """How much load, for how long, from how many processes."""

    users: int = 4
    """Concurrent users (connections). With `rate`, the most requests in flight."""
    duration: float | None = duration_field(None)
    """The measured window; with stages, their sum (resolved). None for a run of `requests`."""
    requests: int | None = None
    """Total measured requests across all workers (exact); default 100 when no duration (resolved)."""
    rate: float = 0.0
    """Requests per second across all workers (open loop); 0 means closed loop."""
    warmup: Warmup = field(default_factory=Warmup)
    workers: int | None = None
    """Locust worker processes; default one per CPU core, never more than users."""
    spawn_rate: float | None = None
    """Users started per second; default all at once."""
    locustfile: str | None = None
    """Your own locustfile instead of the built-in inference user."""
    arrivals: Literal["uniform", "poisson"] = "uniform"
    """Open-loop spacing of request starts: evenly spaced, or a Poisson process at the same mean rate."""
    stages: list[Stage] = field(default_factory=list)
    """Steps of rate (open loop) or users (closed loop), each ramping linearly from the previous one."""
    sweep: Sweep | None = None
    """Capacity search for `isvcperf sweep` (ignored by `isvcperf run`)."""
    overload: Literal["drop", "queue"] = "drop"
    """Open loop, an arrival finding every user busy: dropped and counted (k6), or queued until a user is
    free, its latency from the intended start holding the wait (wrk2). README: drop or queue."""
    until: Literal["stable"] | None = None
    """`stable`: measure until the stability check passes (validity.stabilityWindows windows agree), with
    `duration` as the maximum (default: 10 windows, perf_analyzer's max-trials); None: the fixed window."""


@dataclass(frozen=True)
class ErrorRange:
    """HTTP statuses counted as errors: lower ≤ status ≤ upper (either may be open)."""

    lower: int | None = None
    upper: int | None = None


@dataclass(frozen=True)
class Metrics:
    """What to compute beyond the defaults."""

    percentiles: list[float] = field(default_factory=lambda: list(metric_names.DEFAULT_PERCENTILES))
    interval: float = duration_field(1.0)
    """Resolution of the timeline (throughput, errors and percentiles per interval)."""
    error_ranges: list[ErrorRange] = field(default_factory=lambda: [ErrorRange(lower=400)])


@dataclass(frozen=True)
class SLO:
    """A limit on one metric: upper means value ≤ limit, lower means value ≥ limit."""

    upper: float | None = None
    lower: float | None = None
    abort_on_fail: bool = False
    """Also check it every second while the run goes, and stop the run the first time it fails (k6's abortOnFail)."""
    grace_period: float = duration_field(0.0)
    """Measured time before abortOnFail may stop the run: the first seconds rest on few requests."""


@dataclass(frozen=True)
class Notify:
    """POST the verdict to a webhook when the run ends (Slack-compatible or GitHub repository_dispatch)."""

    url: str = ""
    """Must come from the environment, as ${VAR}: webhook URLs are secrets."""
    on: Literal["always", "failure", "success"] = "always"
    format: Literal["slack", "github"] = "slack"
    token: str | None = None
    """${VAR} holding a bearer token (GitHub needs one)."""


# -- observability: the run's series out to Prometheus, the server's own metrics in -------------


@dataclass(frozen=True)
class PrometheusOutput:
    """The run's live series: the master serves them at /metrics; remoteWrite also pushes them."""

    remote_write: str | None = None
    """A Prometheus remote-write URL (`http://prometheus:9090/api/v1/write`): for runs too short to be scraped."""
    headers: dict[str, str] = field(default_factory=dict)
    """Sent with every push; values may hold ${ENV_VAR}, expanded in the master's environment, never stored."""
    push_interval: float = duration_field(5.0)
    pod_monitor: bool = False
    """On Kubernetes, also create a PodMonitor (Prometheus Operator) that scrapes the master."""


@dataclass(frozen=True)
class Outputs:
    prometheus: PrometheusOutput = field(default_factory=PrometheusOutput)


@dataclass(frozen=True)
class Server:
    """The model server's own Prometheus metrics, read before, during and after the run into the report."""

    metrics_url: str | None = None
    """Its metrics endpoint; default from `runtime` and the target's host (MLServer: port 8082)."""
    runtime: Literal["auto", "mlserver", "kserve", "vllm"] = "auto"
    """Which metric names to read; auto recognises them in the first scrape."""
    prometheus: str | None = None
    """Read through an existing Prometheus (its base URL) instead of scraping the server."""
    selector: str = ""
    """With prometheus: PromQL label matchers for the server's series, e.g. `{namespace="models", pod=~"iris-.*"}`."""
    headers: dict[str, str] = field(default_factory=dict)
    """Sent with each scrape or query; values may hold ${ENV_VAR}."""

    def for_target(self, infer_url: str) -> Server:
        """This block with metricsUrl resolved for a target at `infer_url`: the runtime's known endpoint on
        the target's host when neither metricsUrl nor prometheus is given (nothing until the URL is known)."""
        if self.metrics_url is not None or self.prometheus is not None or self.runtime == "auto" or not infer_url:
            return self
        return dataclasses.replace(self, metrics_url=urls.metrics_url(infer_url, self.runtime))


@dataclass(frozen=True)
class RunSpec:
    """The whole test."""

    name: str = "isvcperf"
    target: Target = field(default_factory=Target)
    ready: Ready = field(default_factory=Ready)
    payload: Payload = field(default_factory=Payload)
    endpoints: list[Endpoint] = field(default_factory=list)
    """Several targets in one test instead of target.url (see Endpoint)."""
    checks: list[Check] = field(default_factory=list)
    """Response checks for every request (and every endpoint)."""
    load: Load = field(default_factory=Load)
    metrics: Metrics = field(default_factory=Metrics)
    slos: dict[str, SLO] = field(default_factory=dict)
    runner: Literal["local", "kubernetes"] = "local"
    kubernetes: Kubernetes = field(default_factory=Kubernetes)
    notify: Notify | None = None
    generate: Generate | None = None
    """protocol openai: the prompts and answer lengths (spec.generative)."""
    goodput: Goodput | None = None
    """protocol openai: per-request limits for llm/goodput and llm/goodput-ratio."""
    outputs: Outputs = field(default_factory=Outputs)
    server: Server | None = None
    validity: Validity = field(default_factory=Validity)
    """The limits of a measurement that can be stood behind (results.validity)."""
    base_dir: str = field(default=".", metadata={schema.INTERNAL: True})
    """Directory relative paths in the spec are resolved against (the spec file's)."""

    @property
    def infer_url(self) -> str:
        """The URL requests are sent to (with several endpoints, theirs joined by commas)."""
        if self.endpoints:
            return ", ".join(e.target.url or "" for e in self.endpoints)
        return self.target.url or ""

    def all_endpoints(self) -> list[Endpoint]:
        """Where the load goes, uniformly: the endpoints, or the one target (id "") with the top-level payload."""
        if self.endpoints:
            return self.endpoints
        return [Endpoint(id="", payload=self.payload, target=self.target, all_checks=self.checks)]

    def with_target_url(self, url: str) -> RunSpec:
        """This spec sending to `url`: the URL an InferenceService's status gives (readiness.isvc), and
        the server's metrics endpoint that follows from it."""
        moved = dataclasses.replace(self, target=dataclasses.replace(self.target, url=url))
        return moved.with_server_resolved()

    def with_server_resolved(self) -> RunSpec:
        """This spec with `server` resolved for its target (Server.for_target)."""
        if self.server is None:
            return self
        return dataclasses.replace(self, server=self.server.for_target(self.infer_url.split(",")[0].strip()
                                                                       or self.target.base_url or ""))

    def to_data(self) -> dict[str, Any]:
        """Plain data for result.json; header values redacted so tokens never land on disk."""
        data = schema.dump(self)
        headers = data.get("target", {}).get("headers")
        if headers:
            data["target"]["headers"] = {k: "<redacted>" for k in headers}
        return data
