"""Checks of the observability fields (`outputs.prometheus`, `server`), kept beside the rest of validation.

A wrong URL here would otherwise surface minutes into a run as a warning in a master's log
(remote write) or as an empty server view; checked up front, it is one line naming the field.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from isvcperf.spec import schema
from isvcperf.spec.model import RunSpec
from isvcperf.util.env import expand_env
from isvcperf.util.errors import SpecError


def check(spec: RunSpec) -> None:
    prometheus = spec.outputs.prometheus
    if prometheus.remote_write is not None:
        _check_url("outputs.prometheus.remoteWrite", prometheus.remote_write, "http://prometheus:9090/api/v1/write")
    if prometheus.push_interval <= 0:
        raise SpecError("outputs.prometheus.pushInterval", "must be more than 0s (e.g. 5s)")
    server = spec.server
    if server is None:
        return
    if server.metrics_url is not None:
        _check_url("server.metricsUrl", server.metrics_url, "http://127.0.0.1:8082/metrics")
    if server.prometheus is not None:
        _check_url("server.prometheus", server.prometheus, "http://prometheus:9090")
        selector = server.selector.strip()
        if not (selector.startswith("{") and selector.endswith("}") and len(selector) > 2):
            raise SpecError("server.selector", f"{schema.describe(server.selector)} must be PromQL label matchers "
                            "that pick the server's series, e.g. {namespace=\"models\", pod=~\"iris-.*\"}")
        if server.metrics_url is not None:
            raise SpecError("server", "give metricsUrl (scrape the server) or prometheus (query it), not both")
    elif server.selector:
        raise SpecError("server.selector", "is used with server.prometheus only (set it, or remove the selector)")
    if server.metrics_url is None and server.prometheus is None and server.runtime == "auto":
        raise SpecError("server", "name where its metrics are: metricsUrl, runtime (mlserver, kserve, vllm: "
                        "their default endpoint on the target's host) or prometheus with a selector")


def _check_url(field: str, url: str, example: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SpecError(field, f"{schema.describe(url)} is not an http(s) URL (e.g. {example})")


def check_environment(spec: RunSpec) -> None:
    """Every ${VAR} of the scrape headers is set here, and of the push headers for a local run (its master
    inherits this environment; a pod's comes from its Secrets)."""
    for name, value in (spec.outputs.prometheus.headers if spec.runner == "local" else {}).items():
        expand_env(value, f"outputs.prometheus.headers.{name}")
    for name, value in (spec.server.headers if spec.server else {}).items():
        expand_env(value, f"server.headers.{name}")
