"""RunSpec: the whole test as data, loaded and validated once.

A spec comes from a YAML file, is changed by `--set key=value` overrides, and is checked
here field by field and across fields. Everything downstream (readiness, the Plan, the
runners, SLOs, reports) takes a RunSpec and trusts it; nothing else reads YAML.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml

from isvcperf import json_path, metric_names, schema
from isvcperf.errors import SpecError
from isvcperf.overrides import apply_overrides
from isvcperf.schema import duration_field

Protocol = Literal["v2", "v1", "raw", "grpc-v2"]
Method = Literal["GET", "POST", "PUT"]
_URL_PATTERNS = {
    "v2": re.compile(r"/v2/models/([^/]+)(?:/versions/[^/]+)?/infer/?$"),
    "v1": re.compile(r"/v1/models/([^/:]+):predict/?$"),
}
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass
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
    timeout: float | None = duration_field(30.0)
    """Per-request timeout (connect, and each wait for data); a request that takes longer counts as an error."""
    ca_bundle: str | None = None
    """PEM file of CAs to verify an https target with (default: the system's)."""
    insecure: bool = False
    """Skip TLS verification for an https target; the report says so."""
    isvc: str | None = None
    """A KServe InferenceService: its Ready condition gates the run; its status gives the URL."""
    namespace: str | None = None
    """The InferenceService's namespace (default: the run's namespace)."""


@dataclass
class Ready:
    """How long, and where, to wait for the target before sending load."""

    timeout: float | None = duration_field(60.0)
    url: str | None = None
    """When given, GET must answer 2xx here instead of the protocol's own readiness checks."""
    interval: float | None = duration_field(1.0)
    enabled: bool = True


@dataclass
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


@dataclass
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


@dataclass
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
    """The resolved target (filled in by validation): what readiness, the Plan and the users read."""
    all_checks: list[Check] = field(default_factory=list, metadata={schema.INTERNAL: True})
    """The top-level checks followed by this endpoint's (filled in by validation)."""


@dataclass
class Warmup:
    """Requests sent before measuring; sent for real, excluded from every metric."""

    requests: int = 0
    duration: float | None = duration_field(0.0)


@dataclass
class Stage:
    """One step of `load.stages`: reach `rate` (or `users`) linearly over `duration`."""

    duration: float | None = duration_field(None)
    rate: float | None = None
    users: int | None = None


@dataclass
class Sweep:
    """`isvcperf sweep`: the loads to try, lowest first, each for load.duration."""

    parameter: Literal["rate", "users"] = "rate"
    values: list[float] = field(default_factory=list)
    start: float | None = None
    step: float | None = None
    max: float | None = None


@dataclass
class Load:
    """How much load, for how long, from how many processes."""

    users: int = 4
    """Concurrent users (connections). With `rate`, the most requests in flight."""
    duration: float | None = duration_field(None)
    requests: int | None = None
    """Total measured requests across all workers (exact); default 100 when no duration."""
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


@dataclass
class ErrorRange:
    """HTTP statuses counted as errors: lower ≤ status ≤ upper (either may be open)."""

    lower: int | None = None
    upper: int | None = None


@dataclass
class Metrics:
    """What to compute beyond the defaults."""

    percentiles: list[float] = field(default_factory=lambda: list(metric_names.DEFAULT_PERCENTILES))
    interval: float | None = duration_field(1.0)
    """Resolution of the timeline (throughput, errors and percentiles per interval)."""
    error_ranges: list[ErrorRange] = field(default_factory=lambda: [ErrorRange(lower=400)])


@dataclass
class SLO:
    """A limit on one metric: upper means value ≤ limit, lower means value ≥ limit."""

    upper: float | None = None
    lower: float | None = None
    abort_on_fail: bool = False
    """Also check it every second while the run goes, and stop the run the first time it fails (k6's abortOnFail)."""
    grace_period: float | None = duration_field(0.0)
    """Measured time before abortOnFail may stop the run: the first seconds rest on few requests."""


@dataclass
class Notify:
    """POST the verdict to a webhook when the run ends (Slack-compatible or GitHub repository_dispatch)."""

    url: str = ""
    """Must come from the environment, as ${VAR}: webhook URLs are secrets."""
    on: Literal["always", "failure", "success"] = "always"
    format: Literal["slack", "github"] = "slack"
    token: str | None = None
    """${VAR} holding a bearer token (GitHub needs one)."""


@dataclass
class Resources:
    """Kubernetes resource requests and limits of one container (`cpu: 500m`, `memory: 1Gi`)."""

    requests: dict[str, str] = field(default_factory=dict)
    limits: dict[str, str] = field(default_factory=dict)


def _master_resources() -> Resources:
    return Resources(requests={"cpu": "250m", "memory": "256Mi"}, limits={"cpu": "1", "memory": "512Mi"})


def _worker_resources() -> Resources:
    # A Locust worker is one gevent loop: more than one core is wasted on it.
    return Resources(requests={"cpu": "1", "memory": "512Mi"}, limits={"cpu": "1", "memory": "1Gi"})


@dataclass
class PodResources:
    master: Resources = field(default_factory=_master_resources)
    workers: Resources = field(default_factory=_worker_resources)


@dataclass
class SecretEnv:
    """One environment variable of the Locust pods taken from a Secret key (e.g. a bearer token)."""

    name: str
    secret: str
    key: str


@dataclass
class Kubernetes:
    """Where and how the pods run (`runner: kubernetes`, `isvcperf k launch`)."""

    namespace: str | None = None
    """Default: the kubeconfig context's namespace (in a pod: its own), else `default`."""
    context: str | None = None
    image: str | None = None
    """Default `isvcperf:<package version>` (build it with `make image`)."""
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    image_pull_secrets: list[str] = field(default_factory=list)
    service_account_name: str | None = None
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: list[Any] = field(default_factory=list)
    affinity: dict[str, Any] = field(default_factory=dict)
    resources: PodResources = field(default_factory=PodResources)
    pod_annotations: dict[str, str] = field(default_factory=dict)
    env_from_secrets: list[str] = field(default_factory=list)
    """Secrets whose every key becomes an environment variable of the Locust pods."""
    secret_env: list[SecretEnv] = field(default_factory=list)
    ttl_seconds_after_finished: int = 3600
    """Kubernetes deletes the run's objects this long after it finished, whatever happened to the CLI."""
    keep: bool = False
    """Leave the run's objects in the cluster (until the TTL) instead of deleting them at the end."""
    linger: float | None = duration_field(300.0)
    """How long a finished master waits for the CLI to fetch the result before it quits."""
    start_timeout: float | None = duration_field(300.0)
    """How long the master and every worker may take to be scheduled, pulled, started and connected."""


@dataclass
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

    def to_data(self) -> dict[str, Any]:
        """Plain data for result.json; header values redacted so tokens never land on disk."""
        data = schema.dump(self)
        headers = data.get("target", {}).get("headers")
        if headers:
            data["target"]["headers"] = {k: "<redacted>" for k in headers}
        return data


def load_file(path: str | os.PathLike, overrides: list[str] | None = None) -> RunSpec:
    """Read a spec file, apply `--set` overrides, validate and return the RunSpec."""
    spec_path = Path(path)
    if not spec_path.is_file():
        raise SpecError("", f"spec file {str(path)!r} not found (check the path)")
    try:
        text = spec_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError("", f"cannot read spec file {str(path)!r}: {exc}") from None
    data = parse_yaml(text, str(path))
    if not isinstance(data, dict):
        raise SpecError("", f"{path}: the spec must be a YAML mapping of fields (name, target, load, ...)")
    data = apply_overrides(data, overrides or [])
    if "name" not in data:
        data["name"] = spec_path.stem
    return from_data(data, base_dir=str(spec_path.parent.resolve()))


def parse_yaml(text: str, source: str) -> Any:
    """Safe-load YAML, turning syntax errors into one line with the line number."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecError("", f"{source}:{where}: invalid YAML: {problem}") from None


def from_data(data: dict[str, Any], base_dir: str = ".") -> RunSpec:
    """Validate plain data (already overridden) into a RunSpec."""
    notify = data.get("notify")
    if isinstance(notify, dict) and True in notify:  # YAML 1.1 reads a bare `on:` key as the boolean true
        notify["on"] = notify.pop(True)
    spec = schema.load(RunSpec, data)
    spec.base_dir = base_dir
    _check(spec)
    return spec


def _check(spec: RunSpec) -> None:
    """Cross-field rules and defaults that depend on other fields."""
    if not spec.name or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", spec.name):
        raise SpecError("name", f"{schema.describe(spec.name)} must be letters, digits, '.', '_' or '-'")
    if spec.endpoints:
        _check_endpoints(spec)
    else:
        _check_target(spec.target)
        _check_payload(spec.payload, spec.target.protocol, "payload")
    _check_checks(spec.checks, "checks", spec.target.protocol)
    _check_kubernetes(spec)
    _check_load(spec.load)
    _check_notify(spec.notify)
    for i, rng in enumerate(spec.metrics.error_ranges):
        if rng.lower is None and rng.upper is None:
            raise SpecError(f"metrics.errorRanges[{i}]", "needs lower, upper or both")
    for i, pct in enumerate(spec.metrics.percentiles):
        if not 0 < pct <= 100:
            raise SpecError(f"metrics.percentiles[{i}]", f"{pct:g} is not a percentile in (0, 100]")
    spec.slos = {metric_names.canonical(name): slo for name, slo in spec.slos.items()}
    prefix = metric_names.protocol_prefix(spec.target.protocol)
    ids = [e.id for e in spec.endpoints]
    for name, slo in spec.slos.items():
        problem = metric_names.check(name, ids)
        if problem:
            raise SpecError(f"slos.{name}", problem)
        family, endpoint = metric_names.split_prefix(name.partition("/")[0])
        if family != prefix:
            fixed = metric_names.endpoint_prefix(prefix, endpoint) + "/" + name.partition("/")[2]
            raise SpecError(f"slos.{name}", f"protocol {spec.target.protocol} measures {prefix}/ metrics; "
                            f"name it {metric_names.canonical(fixed)}")
        if slo.upper is None and slo.lower is None:
            raise SpecError(f"slos.{name}", "needs an upper or a lower limit (e.g. {upper: 500})")
    if spec.ready.timeout is not None and spec.ready.timeout <= 0 and spec.ready.enabled:
        raise SpecError("ready.timeout", "must be more than 0s (or set ready.enabled: false)")


def _check_target(target: Target) -> None:
    if target.timeout is not None and target.timeout <= 0:
        raise SpecError("target.timeout", "must be more than 0s")
    if target.protocol == "grpc-v2":
        _check_grpc_target(target)
        return
    if target.isvc is not None:
        _check_dns_name("target.isvc", target.isvc)
        if target.url is None and target.base_url is None:
            # The URL comes from the InferenceService's status once it is Ready (isvcperf.isvc).
            target.model = target.model or target.isvc
            return
    if target.url is None and target.base_url is None:
        raise SpecError("target.url", "is required (the inference URL, or target.baseUrl with target.model, "
                        "or target.isvc)")
    for key, value in (("url", target.url), ("baseUrl", target.base_url)):
        if value is not None and not re.match(r"^https?://[^/\s]+", value):
            hint = "; for gRPC set target.protocol: grpc-v2" if value.startswith("grpc") else ""
            raise SpecError(f"target.{key}", f"{schema.describe(value)} is not an http:// or https:// URL{hint}")
    if target.url is None:
        if target.protocol == "raw":
            raise SpecError("target.url", "is required for protocol raw")
        if not target.model:
            raise SpecError("target.model", "is required to build the URL from target.baseUrl")
        base = target.base_url.rstrip("/")  # type: ignore[union-attr]
        target.url = (
            f"{base}/v2/models/{target.model}/infer"
            if target.protocol == "v2"
            else f"{base}/v1/models/{target.model}:predict"
        )
    elif target.model is None and target.protocol != "raw":
        target.model = model_of(target.url, target.protocol)
        if target.model is None:
            expected = "v2/models/NAME/infer" if target.protocol == "v2" else "v1/models/NAME:predict"
            raise SpecError("target.model", f"is required: cannot tell the model from {target.url!r} (expected .../{expected})")


def _check_grpc_target(target: Target) -> None:
    """A gRPC target is `grpc://HOST:PORT` (plaintext) or `grpcs://HOST:PORT` (TLS).

    Its model may come from the payload's `model_name` instead (see grpc_payload), as in
    the Iter8 gRPC tutorial, so target.model is optional here.
    """
    example = "grpc://HOST:PORT (or grpcs://HOST:PORT for TLS)"
    if target.base_url is not None:
        raise SpecError("target.baseUrl", f"is for HTTP protocols; with protocol grpc-v2 give target.url {example}")
    if target.url is None:
        raise SpecError("target.url", f"is required for protocol grpc-v2: {example}")
    parts = urlsplit(target.url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in ("grpc", "grpcs") or not parts.hostname or port is None or parts.path not in ("", "/"):
        raise SpecError("target.url", f"{schema.describe(target.url)} is not {example}")
    if parts.scheme == "grpc" and (target.ca_bundle is not None or target.insecure):
        key = "caBundle" if target.ca_bundle is not None else "insecure"
        raise SpecError(f"target.{key}", f"applies to TLS; use grpcs://{parts.netloc} to connect with TLS")
    if target.insecure:
        raise SpecError("target.insecure", "is not available over gRPC (its Python client always verifies the "
                        "server); give target.caBundle: the server's CA or self-signed certificate (PEM)")


def _check_dns_name(field_path: str, value: str) -> None:
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", value):
        raise SpecError(field_path, f"{schema.describe(value)} is not a Kubernetes name (lower-case letters, digits, '-')")


def _check_kubernetes(spec: RunSpec) -> None:
    k8s = spec.kubernetes
    for key, value in (("namespace", k8s.namespace), ("serviceAccountName", k8s.service_account_name)):
        if value is not None:
            _check_dns_name(f"kubernetes.{key}", value)
    if spec.target.namespace is not None:
        _check_dns_name("target.namespace", spec.target.namespace)
    if k8s.ttl_seconds_after_finished < 0:
        raise SpecError("kubernetes.ttlSecondsAfterFinished", f"{k8s.ttl_seconds_after_finished} must be 0 or more")
    for key, value in (("linger", k8s.linger), ("startTimeout", k8s.start_timeout)):
        if value is not None and value <= 0:
            raise SpecError(f"kubernetes.{key}", "must be more than 0s")


def model_of(url: str, protocol: str) -> str | None:
    """The model name in a V2 infer or V1 predict URL (judged by its path), else None."""
    pattern = _URL_PATTERNS.get(protocol)
    match = pattern.search(urlsplit(url).path) if pattern else None
    return match.group(1) if match else None


def protocol_of(url: str) -> str:
    """The inference protocol a URL speaks, told by its path: `v2`, `v1`, else `raw`."""
    return next((name for name in _URL_PATTERNS if model_of(url, name)), "raw")


def _check_notify(notify: Notify | None) -> None:
    if notify is None:
        return
    if not _ENV_REF.search(notify.url):
        raise SpecError("notify.url", f"{schema.describe(notify.url)} must come from the environment, e.g. "
                        "url: ${SLACK_WEBHOOK_URL} (webhook URLs are secrets)")
    if notify.token is not None and not _ENV_REF.fullmatch(notify.token):
        raise SpecError("notify.token", "must be an environment variable reference, e.g. token: ${GITHUB_TOKEN}")
    if notify.format == "github" and notify.token is None:
        raise SpecError("notify.token", "is required for format github (repository_dispatch needs a token)")


def _check_load(load: Load) -> None:
    if load.users < 1:
        raise SpecError("load.users", f"{load.users} must be at least 1")
    if load.workers is not None and load.workers < 1:
        raise SpecError("load.workers", f"{load.workers} must be at least 1")
    if load.rate < 0:
        raise SpecError("load.rate", f"{load.rate:g} must be 0 (closed loop) or more")
    if load.spawn_rate is not None and load.spawn_rate <= 0:
        raise SpecError("load.spawnRate", f"{load.spawn_rate:g} must be more than 0")
    if load.duration is not None and load.requests is not None:
        raise SpecError("load", "give either duration or requests, not both")
    if load.duration is not None and load.duration <= 0:
        raise SpecError("load.duration", "must be more than 0s")
    if load.requests is not None and load.requests < 1:
        raise SpecError("load.requests", f"{load.requests} must be at least 1")
    if load.stages:
        _check_stages(load)
    elif load.duration is None and load.requests is None:
        load.requests = 100
    if load.warmup.requests < 0:
        raise SpecError("load.warmup.requests", f"{load.warmup.requests} must be 0 or more")
    if load.warmup.requests and load.warmup.duration:
        raise SpecError("load.warmup", "give either requests or duration, not both")


def _check_stages(load: Load) -> None:
    """Stages define the measured window, so they exclude duration and requests."""
    if load.requests is not None:
        raise SpecError("load.stages", "stages set the duration; remove load.requests")
    if load.duration is not None:
        raise SpecError("load.stages", "stages set the duration; remove load.duration")
    kinds = set()
    for i, stage in enumerate(load.stages):
        where = f"load.stages[{i}]"
        if stage.duration is None or stage.duration <= 0:
            raise SpecError(f"{where}.duration", "is required and must be more than 0s")
        if (stage.rate is None) == (stage.users is None):
            raise SpecError(where, "give exactly one of rate (open loop) or users (closed loop)")
        if stage.rate is not None and stage.rate < 0:
            raise SpecError(f"{where}.rate", f"{stage.rate:g} must be 0 or more")
        if stage.users is not None and stage.users < 1:
            raise SpecError(f"{where}.users", f"{stage.users} must be at least 1")
        kinds.add("rate" if stage.rate is not None else "users")
    if len(kinds) > 1:
        raise SpecError("load.stages", "use rate in every stage or users in every stage, not both")
    if "users" in kinds:
        if load.rate:
            raise SpecError("load.rate", "user stages are closed loop; remove load.rate or use rate stages")
        if load.warmup.requests:
            raise SpecError("load.warmup.requests", "with user stages warm up by duration (load.warmup.duration)")
        load.users = max(s.users or 0 for s in load.stages)
    load.duration = sum(s.duration or 0.0 for s in load.stages)


def _check_payload(payload: Payload, protocol: str, where: str) -> None:
    given = [k for k, v in (("file", payload.file), ("url", payload.url), ("inline", payload.inline),
                            ("files", payload.files or None), ("jsonl", payload.jsonl)) if v is not None]
    if len(given) > 1:
        raise SpecError(where, f"give one of file, url, inline, files or jsonl, not {' and '.join(given)}")
    if not given and protocol != "raw":
        raise SpecError(where, f"is required for protocol {protocol} (file:, url:, inline:, files: or jsonl:)")
    if payload.url is not None and not re.match(r"^(https?|file)://", payload.url):
        raise SpecError(f"{where}.url", f"{schema.describe(payload.url)} is not an http(s):// or file:// URL")


ENDPOINT_ID = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_TARGET_PER_ENDPOINT = (("url", "url"), ("baseUrl", "base_url"), ("model", "model"), ("isvc", "isvc"))


def _check_endpoints(spec: RunSpec) -> None:
    """Resolve each endpoint into a Target (validated like target) and move its SLOs into spec.slos.

    All endpoints speak one protocol family, HTTP or gRPC, because one kind of Locust
    user sends the load and the totals are `http/...` or `grpc/...` metrics.
    """
    for key, attr in _TARGET_PER_ENDPOINT:
        if getattr(spec.target, attr) is not None:
            raise SpecError(f"target.{key}", "cannot be given with endpoints; give each endpoint its own url "
                            "(target keeps what all endpoints share: protocol, headers, timeout, caBundle, insecure)")
    seen: dict[str, int] = {}
    family = ""
    for i, endpoint in enumerate(spec.endpoints):
        where = f"endpoints[{i}]"
        if not ENDPOINT_ID.fullmatch(endpoint.id):
            raise SpecError(f"{where}.id", f"{schema.describe(endpoint.id)} must be lower-case letters, digits "
                            "and '-' (it names metrics: http-<id>/latency-p90)")
        if endpoint.id in seen:
            raise SpecError(f"{where}.id", f'"{endpoint.id}" is also the id of endpoints[{seen[endpoint.id]}]; '
                            "ids must be unique")
        seen[endpoint.id] = i
        if endpoint.weight < 1:
            raise SpecError(f"{where}.weight", f"{endpoint.weight} must be at least 1")
        base = spec.target
        target = Target(url=endpoint.url, base_url=endpoint.base_url, protocol=endpoint.protocol or base.protocol,
                        model=endpoint.model, method=endpoint.method or base.method,
                        headers={**base.headers, **endpoint.headers}, timeout=base.timeout,
                        ca_bundle=base.ca_bundle, insecure=base.insecure)
        try:
            _check_target(target)
        except SpecError as exc:
            message = str(exc)[len(exc.field) + 2:] if exc.field else str(exc)
            raise SpecError(exc.field.replace("target.", f"{where}.", 1),
                            message.replace("target.", f"{where}.")) from None
        endpoint.target = target
        this_family = metric_names.protocol_prefix(target.protocol)
        if family and this_family != family:
            raise SpecError(f"{where}.protocol", f"{target.protocol} cannot run with {spec.endpoints[0].target.protocol} "
                            "in one test: the endpoints must all speak HTTP (v2, v1, raw) or all grpc-v2")
        family = this_family
        _check_payload(endpoint.payload or spec.payload, target.protocol,
                       "payload" if endpoint.payload is None else f"{where}.payload")
        endpoint.payload = endpoint.payload or spec.payload
        _check_checks(endpoint.checks, f"{where}.checks", target.protocol)
        endpoint.all_checks = [*spec.checks, *endpoint.checks]
        prefix = metric_names.endpoint_prefix(family, endpoint.id)
        for name, slo in endpoint.slos.items():
            head, sep, metric = name.partition("/")
            if sep and head != family:
                raise SpecError(f"{where}.slos.{name}", f"an endpoint's SLOs name its metrics as {family}/METRIC "
                                f"or METRIC (e.g. latency-p90); they become {prefix}/METRIC")
            spec.slos[metric_names.canonical(f"{prefix}/{metric if sep else name}")] = slo
    spec.target.protocol = spec.endpoints[0].target.protocol  # the family decides the totals' metric names


def _check_checks(checks: list[Check], where: str, protocol: str) -> None:
    """Each check is a status or a JSON path (with equals, or exists); paths must parse."""
    if checks and protocol == "grpc-v2":
        raise SpecError(where, "response checks apply to HTTP responses (protocols v2, v1, raw), not grpc-v2")
    for i, check in enumerate(checks):
        at = f"{where}[{i}]"
        if (check.status is None) == (check.json_path is None):
            raise SpecError(at, "give either status (e.g. status: 200) or jsonPath (e.g. jsonPath: outputs[0].shape)")
        if check.status is not None:
            if check.equals is not None or check.exists is not None:
                raise SpecError(at, "equals and exists go with jsonPath, not with status")
            if not 100 <= check.status <= 599:
                raise SpecError(f"{at}.status", f"{check.status} is not an HTTP status (100-599)")
            continue
        try:
            json_path.parse(check.json_path or "")
        except ValueError as exc:
            raise SpecError(f"{at}.jsonPath", str(exc)) from None
        if check.equals is not None and check.exists is not None:
            raise SpecError(at, "give equals or exists, not both")
        if check.equals is None and check.exists is None:
            check.exists = True


def expand_env(value: str, field_path: str) -> str:
    """Expand ${VAR} from the environment; a missing variable is an error naming it."""

    def repl(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise SpecError(field_path, f"environment variable {name} is not set (export it or remove ${{{name}}})")
        return os.environ[name]

    return _ENV_REF.sub(repl, value)


def ca_bundle_path(spec: RunSpec) -> str | None:
    """target.caBundle as an absolute path (relative to the spec file); a missing file is bad input."""
    if spec.target.ca_bundle is None:
        return None
    path = Path(spec.base_dir, spec.target.ca_bundle).resolve()
    if not path.is_file():
        raise SpecError("target.caBundle", f"{spec.target.ca_bundle!r} not found (looked at {path})")
    return str(path)


def request_headers(spec: RunSpec, expand: bool = True, endpoint: Endpoint | None = None) -> dict[str, str]:
    """Request headers plus the payload's content type; ${ENV} expanded unless `expand` is False.

    The Locust processes get them unexpanded and expand from their own environment, so a
    token is never written into a file. `endpoint` (one of spec.all_endpoints()) picks its
    target and payload instead of the top-level ones.
    """
    target = endpoint.target if endpoint is not None else spec.target
    payload = endpoint.payload if endpoint is not None and endpoint.payload is not None else spec.payload
    headers = {
        k: expand_env(v, f"target.headers.{k}") if expand else v for k, v in target.headers.items()
    }
    if target.protocol == "grpc-v2":
        return headers  # gRPC metadata: the call's content type is gRPC's own
    if target.method != "GET" and not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = payload.content_type
    return headers
