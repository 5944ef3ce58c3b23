"""The KServe URL layout, in one place.

KServe's V1 and V2 REST protocols put the model name in fixed paths
(`/v1/models/NAME:predict`, `/v2/models/NAME/infer`) under an optional prefix (a gateway
path, or the path KServe puts in an older predictor's address). The spec builds inference
URLs from a base URL and a model, readiness derives the health and model-ready URLs from an
inference URL, and the InferenceService status gives a base URL: all of them read and write
the layout through these functions, so a change to it is made once.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_INFER_PATHS = {
    "v2": re.compile(r"/v2/models/([^/]+)(?:/versions/[^/]+)?/infer/?$"),
    "v1": re.compile(r"/v1/models/([^/:]+):predict/?$"),
}
_PROTOCOL_ROOTS = ("/v1/models/", "/v2/models/")
EXPECTED_PATHS = {"v2": "v2/models/NAME/infer", "v1": "v1/models/NAME:predict"}
"""How an inference path looks, for error messages."""


def infer_url(base: str, protocol: str, model: str) -> str:
    """The inference URL of `model` under `base` (scheme, host and optional prefix).

    A base that already holds a protocol path (KServe puts one in older V1 predictors'
    addresses) is cut before it. A raw target is the base itself.
    """
    parts = urlsplit(base)
    prefix = parts.path
    for root in _PROTOCOL_ROOTS:
        prefix = prefix.split(root)[0]
    root_url = f"{parts.scheme}://{parts.netloc}{prefix.rstrip('/')}"
    if protocol == "v1":
        return f"{root_url}/v1/models/{model}:predict"
    if protocol == "v2":
        return f"{root_url}/v2/models/{model}/infer"
    return root_url + "/"


def model_of(url: str, protocol: str) -> str | None:
    """The model name in a V2 infer or V1 predict URL (judged by its path), else None."""
    pattern = _INFER_PATHS.get(protocol)
    match = pattern.search(urlsplit(url).path) if pattern else None
    return match.group(1) if match else None


def protocol_of(url: str) -> str:
    """The inference protocol a URL speaks, told by its path: `v2`, `v1`, else `raw`."""
    return next((name for name in _INFER_PATHS if model_of(url, name)), "raw")


def readiness_urls(url: str, protocol: str, model: str | None) -> list[str]:
    """The URLs that answer 2xx once a server and its model are ready, for an inference URL.

    V2: the server's `/v2/health/ready` and the model's `/v2/models/NAME/ready`; V1: the
    model's `/v1/models/NAME`; anything else: the server's root.
    """
    parts = urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc}"
    if protocol == "v2":
        prefix = parts.path.split("/v2/models/")[0]
        return [f"{base}{prefix}/v2/health/ready", f"{base}{prefix}/v2/models/{model}/ready"]
    if protocol == "v1":
        prefix = parts.path.split("/v1/models/")[0]
        return [f"{base}{prefix}/v1/models/{model}"]
    return [f"{base}/"]


def model_list_url(url: str, protocol: str) -> tuple[str, str] | None:
    """(method, URL) of the list of models the server behind an inference URL serves: V2's repository
    index (`POST /v2/repository/index`, MLServer and Triton), V1's `GET /v1/models` (KServe's
    model server); None for other protocols."""
    parts = urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc}"
    if protocol == "v2":
        return "POST", f"{base}{parts.path.split('/v2/models/')[0]}/v2/repository/index"
    if protocol == "v1":
        return "GET", f"{base}{parts.path.split('/v1/models/')[0]}/v1/models"
    return None


DEPLOYMENT_MODES = ("Serverless", "RawDeployment")


def cluster_local_base(isvc: str, namespace: str, mode: str = "Serverless") -> str:
    """The address KServe gives an InferenceService inside the cluster (its status.address.url).

    Serverless (Knative, KServe's default install) serves at `<isvc>.<ns>`; RawDeployment
    (plain Deployment + Service, `serving.kserve.io/deploymentMode: RawDeployment`) at the
    predictor's Service, `<isvc>-predictor.<ns>`.
    """
    host = isvc if mode == "Serverless" else f"{isvc}-predictor"
    return f"http://{host}.{namespace}.svc.cluster.local"


METRICS_PORTS = {"mlserver": 8082}
"""A model server's own metrics port, where it is not the inference port (MLServer's default)."""


def metrics_url(url: str, runtime: str) -> str:
    """Where a `runtime` server whose inference URL is `url` serves its Prometheus metrics: its known
    metrics port on the same host, else the inference port, path /metrics."""
    parts = urlsplit(url)
    scheme = "https" if parts.scheme in ("https", "grpcs") else "http"
    host = parts.hostname or "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    port = METRICS_PORTS.get(runtime) or parts.port or (443 if scheme == "https" else 80)
    return f"{scheme}://{host}:{port}/metrics"
