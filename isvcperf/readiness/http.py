"""Readiness: is the target able to serve before any load is sent?

For V2 the server-ready and model-ready endpoints, for V1 the model endpoint, for gRPC
the ServerReady and ModelReady calls (isvcperf.readiness.grpc), for OpenAI-compatible
targets the model list (isvcperf.readiness.openai), for raw targets a URL the
user names (or `ready.url` for any protocol). Polled until the timeout;
when it runs out the error says what was seen last (connection refused, a 503, model not
found), because "not ready" alone sends people hunting.
"""

from __future__ import annotations

import contextlib
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable

from isvcperf.kserve import urls
from isvcperf.readiness import openai
from isvcperf.readiness.grpc import GrpcProbe
from isvcperf.spec.budget import budget
from isvcperf.spec.model import RunSpec, Target
from isvcperf.spec.request import ca_bundle_path, request_headers
from isvcperf.util.durations import format_duration
from isvcperf.util.errors import CouldNotRun
from isvcperf.util.polling import deadline_after, poll_until
from isvcperf.util.tls import client_context

PROBE_TIMEOUT = 5.0


def readiness_urls(spec: RunSpec, target: Target | None = None) -> list[str]:
    """The URLs of `target` (default: the spec's) that must all answer 2xx before the run starts."""
    if spec.ready.url:
        return [spec.ready.url]
    target = target or spec.target
    return urls.readiness_urls(target.url or "", target.protocol, target.model)


def probe(url: str, headers: dict[str, str], context: ssl.SSLContext | None = None) -> str | None:
    """None when `url` answers 2xx to GET, else a short description of what it did."""
    request = urllib.request.Request(url, headers=headers, method="GET")
    try:
        with urllib.request.urlopen(request, timeout=PROBE_TIMEOUT, context=context) as response:
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
    endpoints = spec.all_endpoints()  # every endpoint must be ready, not just the first
    if spec.target.protocol == "grpc-v2" and not spec.ready.url:
        with contextlib.ExitStack() as stack:
            probes = [stack.enter_context(GrpcProbe(spec, endpoint)) for endpoint in endpoints]
            _poll(spec, lambda: [problem for grpc_probe in probes for problem in grpc_probe()], progress)
        return
    context = client_context(spec.target.insecure, ca_bundle_path(spec))  # the same trust as the load users
    if spec.target.protocol == "openai" and not spec.ready.url:
        headers = {k: v for k, v in request_headers(spec).items() if k.lower() != "content-type"}
        _poll(spec, openai.check(spec.target, headers, context), progress)
        return
    checks: dict[str, dict[str, str]] = {}  # URL → headers; endpoints on one server share its health URL
    for endpoint in endpoints:
        headers = {k: v for k, v in request_headers(spec, endpoint=endpoint).items() if k.lower() != "content-type"}
        for url in readiness_urls(spec, endpoint.target):
            checks.setdefault(url, headers)
    _poll(spec, lambda: [p for p in (probe(u, h, context) for u, h in checks.items()) if p], progress)


def _poll(spec: RunSpec, check: Callable[[], list[str]], progress: Callable[[str], None] | None) -> None:
    """Call `check` (the problems seen now) every ready.interval until it finds none or time is up."""
    limits = budget(spec)
    timeout = limits.ready
    seen = [""]

    def step() -> bool | None:
        problems = check()
        if not problems:
            return True
        if problems[0] != seen[0] and progress:
            progress(f"waiting for the target: {problems[0]}")
        seen[0] = problems[0]
        return None

    def expired() -> bool:
        raise CouldNotRun(f"target not ready within {format_duration(timeout)}; last seen: {seen[0]}")

    poll_until(step, deadline_after(timeout), limits.ready_interval, expired)
