"""Readiness: is the target able to serve before any load is sent?

For V2 the server-ready and model-ready endpoints, for V1 the model endpoint, for gRPC
the ServerReady and ModelReady calls (isvcperf.grpc_ready), for raw targets a URL the
user names (or `ready.url` for any protocol). Polled until the timeout;
when it runs out the error says what was seen last (connection refused, a 503, model not
found), because "not ready" alone sends people hunting.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable
from urllib.parse import urlsplit

from isvcperf.durations import format_duration
from isvcperf.errors import CouldNotRun
from isvcperf.grpc_ready import GrpcProbe
from isvcperf.spec import RunSpec, request_headers

PROBE_TIMEOUT = 5.0


def readiness_urls(spec: RunSpec) -> list[str]:
    """The URLs that must all answer 2xx before the run starts."""
    if spec.ready.url:
        return [spec.ready.url]
    parts = urlsplit(spec.infer_url)
    base = f"{parts.scheme}://{parts.netloc}"
    if spec.target.protocol == "v2":
        prefix = parts.path.split("/v2/models/")[0]
        return [f"{base}{prefix}/v2/health/ready", f"{base}{prefix}/v2/models/{spec.target.model}/ready"]
    if spec.target.protocol == "v1":
        prefix = parts.path.split("/v1/models/")[0]
        return [f"{base}{prefix}/v1/models/{spec.target.model}"]
    return [f"{base}/"]


def probe(url: str, headers: dict[str, str]) -> str | None:
    """None when `url` answers 2xx to GET, else a short description of what it did."""
    request = urllib.request.Request(url, headers=headers, method="GET")
    try:
        with urllib.request.urlopen(request, timeout=PROBE_TIMEOUT) as response:
            response.read()
            return None
    except urllib.error.HTTPError as exc:
        detail = exc.read(200).decode("utf-8", "replace").strip()
        if exc.code == 404:
            return f"{url} answered 404 (model or endpoint not found){': ' + detail if detail else ''}"
        return f"{url} answered HTTP {exc.code}{': ' + detail if detail else ''}"
    except urllib.error.URLError as exc:
        reason = exc.reason
        text = getattr(reason, "strerror", None) or str(reason)
        return f"{url}: {text}"
    except OSError as exc:
        return f"{url}: {exc}"


def wait_ready(spec: RunSpec, progress: Callable[[str], None] | None = None) -> None:
    """Poll until the target is ready, or raise CouldNotRun with what was seen last."""
    if not spec.ready.enabled:
        return
    if spec.target.protocol == "grpc-v2" and not spec.ready.url:
        with GrpcProbe(spec) as grpc_problems:
            _poll(spec, grpc_problems, progress)
        return
    headers = {k: v for k, v in request_headers(spec).items() if k.lower() != "content-type"}
    urls = readiness_urls(spec)
    _poll(spec, lambda: [p for p in (probe(u, headers) for u in urls) if p], progress)


def _poll(spec: RunSpec, check: Callable[[], list[str]], progress: Callable[[str], None] | None) -> None:
    """Call `check` (the problems seen now) every ready.interval until it finds none or time is up."""
    timeout = spec.ready.timeout or 60.0
    interval = spec.ready.interval or 1.0
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        problems = check()
        if not problems:
            return
        if problems[0] != last and progress:
            progress(f"waiting for the target: {problems[0]}")
        last = problems[0]
        if time.monotonic() + interval > deadline:
            raise CouldNotRun(f"target not ready within {format_duration(timeout)}; last seen: {last}")
        time.sleep(interval)
