"""Plan: the process topology of a run, derived once from a RunSpec.

The master's and each worker's command line and environment, and the LoadgenConfig they
read. The local runner starts exactly these as processes; the Kubernetes runner renders
the same Plan into pods, so what runs in a cluster is what the local tests exercised.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from isvcperf import locustfiles
from isvcperf.loadgen.config import CONFIG_ENV, EndpointConfig, LoadgenConfig, RemoteWriteConfig
from isvcperf.loadgen.protocol import STATS_ROUTE
from isvcperf.payload.bodies import Bodies
from isvcperf.results.metrics import wanted_percentiles
from isvcperf.spec import metric_names, schema
from isvcperf.spec.budget import budget
from isvcperf.spec.model import RunSpec
from isvcperf.spec.request import ca_bundle_path, request_headers
from isvcperf.util.cpus import available_cpus
from isvcperf.util.errors import SpecError
from isvcperf.util.tls import insecure_warning

DEFAULT_LOCUSTFILE = Path(locustfiles.__file__).with_name("infer_http.py")
GRPC_LOCUSTFILE = DEFAULT_LOCUSTFILE.with_name("infer_grpc.py")
OPENAI_LOCUSTFILE = DEFAULT_LOCUSTFILE.with_name("infer_openai.py")
WORKER_CONNECT_TIMEOUT = 60
LOCALHOST = "127.0.0.1"


@dataclass
class ProcessSpec:
    """One Locust process: its name, argv (without the interpreter) and extra environment."""

    name: str
    args: list[str]
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Ports:
    """Where the master listens: workers connect to `master`, the orchestrator reads `web`."""

    master: int
    web: int
    host: str = LOCALHOST


@dataclass
class Plan:
    """Everything needed to start the run's Locust processes."""

    config: LoadgenConfig
    master: ProcessSpec
    workers: list[ProcessSpec]
    ports: Ports
    locustfile: Path
    warnings: list[str] = field(default_factory=list)

    @property
    def stats_url(self) -> str:
        return f"http://{self.ports.host}:{self.ports.web}{STATS_ROUTE}"

    @property
    def web_url(self) -> str:
        return f"http://{self.ports.host}:{self.ports.web}/"


def is_loopback(host: str) -> bool:
    """Whether binding `host` keeps a port reachable from this machine only."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def worker_count(spec: RunSpec) -> tuple[int, list[str]]:
    """Workers to start: the spec's, or one per usable CPU (the cgroup quota in a pod); never more than users."""
    wanted = spec.load.workers or available_cpus()
    if wanted > spec.load.users:
        note = (
            f"load.workers {wanted} is more than load.users {spec.load.users}; "
            f"starting {spec.load.users} worker(s) so each has a user"
        )
        return spec.load.users, ([note] if spec.load.workers else [])
    return wanted, []


def endpoint_configs(spec: RunSpec, payload: Bodies) -> list[EndpointConfig]:
    """Each endpoint (or the one target) with its bodies inlined and its checks as spec data."""
    return [
        EndpointConfig(
            url=endpoint.target.url or "",
            id=endpoint.id,
            method=endpoint.target.method,
            headers=request_headers(spec, expand=False, endpoint=endpoint),
            bodies_b64=[base64.b64encode(body).decode("ascii") for body in bodies],
            order=endpoint.payload.order if endpoint.payload is not None else "roundRobin",
            weight=endpoint.weight,
            checks=[schema.dump(check) for check in endpoint.all_checks],
        )
        for endpoint, bodies in zip(spec.all_endpoints(), payload.endpoints, strict=True)
    ]


def loadgen_config(spec: RunSpec, payload: Bodies, workers: int) -> LoadgenConfig:
    """The part of the spec the Locust processes need, with the payloads inlined."""
    load, limits = spec.load, budget(spec)
    return LoadgenConfig(
        protocol=spec.target.protocol,
        endpoints=endpoint_configs(spec, payload),
        timeout=limits.request,
        error_ranges=[(r.lower, r.upper) for r in spec.metrics.error_ranges],
        users=load.users,
        workers=workers,
        requests=load.requests,
        duration=load.duration,
        rate=load.rate,
        warmup_requests=load.warmup.requests,
        warmup_duration=load.warmup.duration,
        arrivals=load.arrivals,
        overload=load.overload,
        stages=[{k: v for k, v in (("duration", st.duration), ("rate", st.rate), ("users", st.users)) if v is not None}
                for st in load.stages],
        interval=spec.metrics.interval,
        insecure=spec.target.insecure,
        ca_bundle=ca_bundle_path(spec),
        linger=limits.linger,
        llm=llm_settings(spec),
        **observability_config(spec),
    )


def llm_settings(spec: RunSpec) -> dict[str, Any]:
    """What the OpenAI user needs beyond the bodies: exact lengths and the goodput limits (seconds)."""
    if spec.target.protocol != "openai" or spec.generate is None:
        return {}
    goodput = spec.goodput
    limits = {k: getattr(goodput, k) for k in ("ttft", "tpot", "e2e")} if goodput is not None else {}
    return {"exact": spec.generate.exact_output, "goodput": limits}


def observability_config(spec: RunSpec) -> dict[str, Any]:
    """What the master's /metrics and remote write need: run labels, the SLOs, where to push."""
    prometheus = spec.outputs.prometheus
    remote = prometheus.remote_write
    return {
        "run_name": spec.name,
        "run_id": f"{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}",
        "slos": {name: {"upper": s.upper, "lower": s.lower} for name, s in spec.slos.items()},
        "percentiles": wanted_percentiles(spec.metrics.percentiles, list(spec.slos)),
        "metric_prefix": metric_names.protocol_prefix(spec.target.protocol),
        "remote_write": RemoteWriteConfig(remote, dict(prometheus.headers), prometheus.push_interval)
        if remote else None,
    }


def locustfile_path(spec: RunSpec) -> Path:
    """The built-in locustfile for the protocol, or the spec's own (relative to the spec file)."""
    if not spec.load.locustfile:
        return {"grpc-v2": GRPC_LOCUSTFILE, "openai": OPENAI_LOCUSTFILE}.get(spec.target.protocol, DEFAULT_LOCUSTFILE)
    path = Path(spec.base_dir, spec.load.locustfile).resolve()
    if not path.is_file():
        raise SpecError("load.locustfile", f"{spec.load.locustfile!r} not found (looked at {path})")
    return path


def make_plan(spec: RunSpec, payload: Bodies, ports: Ports, config_path: str, csv_prefix: str,
              log_dir: str, ui_host: str | None = None) -> Plan:
    """Derive the master and worker processes for `spec`.

    `config_path` is where the LoadgenConfig will be readable by every process; the
    runner decides where that is (a private file, a mounted ConfigMap). The web UI binds
    `ports.host` unless `ui_host` says otherwise; off loopback it asks for a login
    (isvcperf.loadgen.web_login), since the UI can start and stop load.
    """
    workers, warnings = worker_count(spec)
    warnings += insecure_warning(spec.infer_url, spec.target.insecure)
    web_host = ui_host or ports.host
    login = ["--web-login"] if ui_host is not None and not is_loopback(ui_host) else []
    config = loadgen_config(spec, payload, workers)
    locustfile = locustfile_path(spec)
    env = {CONFIG_ENV: config_path}
    spawn_rate = spec.load.spawn_rate or float(spec.load.users)
    master = ProcessSpec(
        name="master",
        args=[
            "-m", "locust", "-f", str(locustfile),
            "--master", "--master-bind-host", ports.host, "--master-bind-port", str(ports.master),
            "--expect-workers", str(workers), "--expect-workers-max-wait", str(WORKER_CONNECT_TIMEOUT),
            "--autostart", "--users", str(spec.load.users), "--spawn-rate", f"{spawn_rate:g}",
            "--web-host", web_host, "--web-port", str(ports.web), *login,
            "--csv", csv_prefix, "--csv-full-history",
            "--logfile", f"{log_dir}/locust-master.log", "--loglevel", "INFO",
        ],
        env=env,
    )
    worker_specs = [
        ProcessSpec(
            name=f"worker-{i}",
            args=[
                "-m", "locust", "-f", str(locustfile), "--worker",
                "--master-host", ports.host, "--master-port", str(ports.master),
                "--logfile", f"{log_dir}/locust-worker-{i}.log", "--loglevel", "INFO",
            ],
            env=env,
        )
        for i in range(workers)
    ]
    return Plan(config=config, master=master, workers=worker_specs, ports=ports, locustfile=locustfile,
                warnings=warnings)
