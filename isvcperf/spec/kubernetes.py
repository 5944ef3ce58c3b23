"""The `kubernetes:` part of a spec: where and how the Locust pods (and the in-cluster runner) run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from isvcperf import __version__
from isvcperf.spec.schema import duration_field

DEFAULT_IMAGE = f"docker.io/library/isvcperf:{__version__}"
"""The image `make image` builds (docker tags an unqualified name as docker.io/library/...)."""


@dataclass(frozen=True)
class Resources:
    """Kubernetes resource requests and limits of one container (`cpu: 500m`, `memory: 1Gi`)."""

    requests: dict[str, str] = field(default_factory=dict)
    limits: dict[str, str] = field(default_factory=dict)


def _master_resources() -> Resources:
    return Resources(requests={"cpu": "250m", "memory": "256Mi"}, limits={"cpu": "1", "memory": "512Mi"})


def _worker_resources() -> Resources:
    # A Locust worker is one gevent loop: more than one core is wasted on it.
    return Resources(requests={"cpu": "1", "memory": "512Mi"}, limits={"cpu": "1", "memory": "1Gi"})


@dataclass(frozen=True)
class PodResources:
    master: Resources = field(default_factory=_master_resources)
    workers: Resources = field(default_factory=_worker_resources)


@dataclass(frozen=True)
class SecretEnv:
    """One environment variable of the Locust pods taken from a Secret key (e.g. a bearer token)."""

    name: str
    secret: str
    key: str


@dataclass(frozen=True)
class NetworkPolicy:
    """Who may reach the master's ports (`kubernetes.networkPolicy`).

    The web port can stop or reshape the load, so by default only the run's own pods reach
    it. isvcperf reads a run's progress through the API server's pod proxy, else by
    port-forward, which a NetworkPolicy does not filter (it enters the pod's own network).
    """

    enabled: bool = True
    web_from: list[Any] = field(default_factory=list)
    """More peers (NetworkPolicyPeer objects) allowed to the web port: the API server's address as an
    ipBlock, so the proxy path works where policies are enforced; Prometheus' namespace, to scrape /metrics."""


@dataclass(frozen=True)
class Kubernetes:
    """Where and how the pods run (`runner: kubernetes`, `isvcperf k launch`)."""

    namespace: str | None = None
    """Default: the kubeconfig context's namespace (in a pod: its own), else `default`."""
    context: str | None = None
    image: str = DEFAULT_IMAGE
    """What `make image` builds, fully qualified; not published: push it to your registry and set this."""
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
    linger: float = duration_field(300.0)
    """How long a finished master waits for the CLI to fetch the result before it quits."""
    start_timeout: float = duration_field(300.0)
    """How long the master and every worker may take to be scheduled, pulled, started and connected."""
    istio: Literal["skip", "native"] = "skip"
    """skip: pods opt out of sidecar injection; native: keep the sidecar, as a native (init) sidecar that ends with the pod."""
    run_as_user: int | None = 10001
    """The pods' UID (the image's user); null lets the platform assign one (OpenShift restricted-v2)."""
    network_policy: NetworkPolicy = field(default_factory=NetworkPolicy)
