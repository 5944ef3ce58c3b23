"""LoadgenConfig: what the code inside Locust needs to know, as one JSON document.

The Plan writes it (a private file locally, a ConfigMap on Kubernetes) and the master and
every worker read it from the path in `ISVCPERF_LOADGEN_CONFIG`, so the processes never
parse the user's spec themselves. Header values keep their `${VAR}` references and are
expanded from each process's own environment: secrets travel as environment (or
Kubernetes Secrets), never inside this file.
"""

from __future__ import annotations

import base64
import json
import os
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from isvcperf.loadgen.stages import Schedule
from isvcperf.util.env import expand_env

CONFIG_ENV = "ISVCPERF_LOADGEN_CONFIG"
PROCESS_ENV = "ISVCPERF_PROCESS"
"""The name the runner gave a process (worker-1), which it reports; a pod's hostname is its name already."""
PARENT_ENV = "ISVCPERF_PARENT_PID"
"""The local runner's pid: its Locust processes quit when it is gone (loadgen.orphan)."""
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass
class EndpointConfig:
    """Where one endpoint's requests go and what they carry: its payload set and response checks."""

    url: str
    id: str = ""
    """"" for a run with one target (no per-endpoint metrics), else the spec's endpoint id."""
    method: str = "POST"
    headers: dict[str, str] = field(default_factory=dict)
    bodies_b64: list[str] = field(default_factory=list)
    order: str = "roundRobin"
    """roundRobin or random, over the bodies."""
    weight: int = 1
    checks: list[dict[str, Any]] = field(default_factory=list)
    """Response checks as spec data ({status} or {jsonPath, equals | exists}); see loadgen.checks."""

    @property
    def bodies(self) -> list[bytes]:
        return [base64.b64decode(body) for body in self.bodies_b64]

    def expanded_headers(self) -> dict[str, str]:
        """Header values with ${VAR} taken from this process's environment."""
        return {k: expand_env(v, f"target.headers.{k}") for k, v in self.headers.items()}


@dataclass
class RemoteWriteConfig:
    """Where the master pushes its Prometheus series (`outputs.prometheus.remoteWrite`)."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    """Values may hold ${VAR}, expanded from the master's environment like the target's headers."""
    interval: float = 5.0

    def expanded_headers(self) -> dict[str, str]:
        return {k: expand_env(v, f"outputs.prometheus.headers.{k}") for k, v in self.headers.items()}


@dataclass(kw_only=True)
class LoadgenConfig:
    """Load parameters for the whole run; each worker gets its share from the master.

    Built only by plan.topology.loadgen_config from a resolved spec (and read back with
    from_json), so the deadlines and the interval have no defaults here: they come from
    spec.budget and the spec's own defaults, and a second copy could only drift.
    """

    protocol: str = "v2"
    """target.protocol: which user class a locustfile offering several runs (locustfiles/kserve.py)."""
    endpoints: list[EndpointConfig] = field(default_factory=list)
    """Where the load goes, split by weight (one entry, id "", for a run with one target)."""
    timeout: float
    """One request's limit (Budget.request, from target.timeout)."""
    error_ranges: list[tuple[int | None, int | None]] = field(default_factory=lambda: [(400, None)])
    users: int = 1
    workers: int = 1
    requests: int | None = None
    duration: float | None = None
    rate: float = 0.0
    warmup_requests: int = 0
    warmup_duration: float = 0.0
    arrivals: str = "uniform"
    """Open-loop spacing: `uniform` or `poisson`."""
    overload: str = "drop"
    """Open loop, every user busy: `drop` the arrival or `queue` it (load.overload)."""
    stages: list[dict[str, float]] = field(default_factory=list)
    """[{duration, rate} ...] or [{duration, users} ...]; the measured window follows them."""
    interval: float
    """Timeline resolution in seconds (metrics.interval)."""
    insecure: bool = False
    ca_bundle: str | None = None
    linger: float
    """How long a finished master waits for its result to be fetched before quitting (Budget.linger)."""
    llm: dict[str, Any] = field(default_factory=dict)
    """protocol openai: {stream, exact, goodput: {ttft, tpot, e2e} in seconds} (loadgen.openai_user)."""
    # What the master's /metrics needs (isvcperf.loadgen.prometheus): labels, and the SLOs to evaluate live.
    run_name: str = ""
    run_id: str = ""
    slos: dict[str, dict[str, float | None]] = field(default_factory=dict)
    """metric → {upper, lower}."""
    percentiles: list[float] = field(default_factory=list)
    metric_prefix: str = "http"
    remote_write: RemoteWriteConfig | None = None

    def schedule(self, kind: str) -> Schedule | None:
        """The stages as a rate or users schedule, when the stages are of that kind."""
        if not self.stages or kind not in self.stages[0]:
            return None
        start = self.rate if kind == "rate" else 0.0
        return Schedule(tuple(s["duration"] for s in self.stages), tuple(s[kind] for s in self.stages), start)

    def is_error_status(self, status: int) -> bool:
        return any((lo is None or status >= lo) and (hi is None or status <= hi) for lo, hi in self.error_ranges)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> LoadgenConfig:
        data: dict[str, Any] = json.loads(text)
        data["error_ranges"] = [tuple(r) for r in data.get("error_ranges", [])]
        data["endpoints"] = [EndpointConfig(**e) for e in data.get("endpoints", [])]
        if data.get("remote_write") is not None:
            data["remote_write"] = RemoteWriteConfig(**data["remote_write"])
        return cls(**data)


def load_from_env() -> LoadgenConfig:
    """The config named by ISVCPERF_LOADGEN_CONFIG; a clear error when it is absent."""
    path = os.environ.get(CONFIG_ENV)
    if not path:
        raise RuntimeError(
            f"{CONFIG_ENV} is not set: this locustfile is started by `isvcperf run`, not by plain `locust`"
        )
    with open(path, encoding="utf-8") as handle:
        return LoadgenConfig.from_json(handle.read())
