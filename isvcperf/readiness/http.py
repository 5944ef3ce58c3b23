"""Readiness: is the target able to serve before any load is sent?

For V2 the server-ready and model-ready endpoints, for V1 the model endpoint, for gRPC
the ServerReady and ModelReady calls (isvcperf.readiness.grpc), for OpenAI-compatible
targets the model list (isvcperf.readiness.openai), for raw targets a URL the
user names (or `ready.url` for any protocol). Polled until the timeout;
when it runs out the error says what was seen last (connection refused, a 503, model not
found), because "not ready" alone sends people hunting. While it waits it says so every few
seconds, with the time waited and the timeout, on a terminal or in a CI log alike; a model
the server does not serve fails at once (isvcperf.readiness.models).
"""

from __future__ import annotations

import contextlib
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from isvcperf.kserve import urls
from isvcperf.readiness import openai
from isvcperf.readiness.models import missing_model
from isvcperf.spec.budget import budget
from isvcperf.spec.model import RunSpec, Target
from isvcperf.spec.request import ca_bundle_path, request_headers
from isvcperf.util.durations import format_duration
from isvcperf.util.errors import CouldNotRun
from isvcperf.util.polling import deadline_after, poll_until
from isvcperf.util.tls import client_context

PROBE_TIMEOUT = 5.0
PROGRESS_EVERY_S = 5.0
"""How often a wait that is still going says so, when what it sees has not changed."""
NOT_FOUND = "answered 404"


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
            return f"{url} {NOT_FOUND} (model or endpoint not found){': ' + detail if detail else ''}"
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
        from isvcperf.readiness.grpc import GrpcProbe  # gRPC loads for gRPC targets only

        with contextlib.ExitStack() as stack:
            probes = [stack.enter_context(GrpcProbe(spec, endpoint)) for endpoint in endpoints]
            _poll(spec, lambda: [problem for grpc_probe in probes for problem in grpc_probe()], progress)
        return
    context = client_context(spec.target.insecure, ca_bundle_path(spec))  # the same trust as the load users
    if spec.target.protocol == "openai" and not spec.ready.url:
        headers = {k: v for k, v in request_headers(spec).items() if k.lower() != "content-type"}
        _poll(spec, openai.check(spec.target, headers, context), progress)
        return
    checks: dict[str, tuple[dict[str, str], Target]] = {}  # URL → headers, target; one health URL per server
    for endpoint in endpoints:
        headers = {k: v for k, v in request_headers(spec, endpoint=endpoint).items() if k.lower() != "content-type"}
        for url in readiness_urls(spec, endpoint.target):
            checks.setdefault(url, (headers, endpoint.target))

    def problems() -> list[str]:
        found = []
        for url, (headers, target) in checks.items():
            problem = probe(url, headers, context)
            if problem is None:
                continue
            if NOT_FOUND in problem and not spec.ready.url:  # a wrong model name fails now, not at the timeout
                missing = missing_model(target.url or "", target.protocol, target.model or "", headers, context)
                if missing is not None:
                    raise CouldNotRun(f"target not ready: {problem}; {missing}")
            found.append(problem)
        return found

    _poll(spec, problems, progress)


def _poll(spec: RunSpec, check: Callable[[], list[str]], progress: Callable[[str], None] | None) -> None:
    """Call `check` (the problems seen now) every ready.interval until it finds none or time is up."""
    limits = budget(spec)
    timeout = limits.ready
    seen = [""]
    started = time.monotonic()
    said = [-PROGRESS_EVERY_S]

    def step() -> bool | None:
        problems = check()
        if not problems:
            return True
        waited = time.monotonic() - started
        if progress and (problems[0] != seen[0] or waited - said[0] >= PROGRESS_EVERY_S):
            progress(f"waiting for the target ({format_duration(round(waited))} of {format_duration(timeout)}): "
                     f"{problems[0]}")
            said[0] = waited
        seen[0] = problems[0]
        return None

    def expired() -> bool:
        raise CouldNotRun(f"target not ready within {format_duration(timeout)}; last seen: {seen[0]}")

    poll_until(step, deadline_after(timeout), limits.ready_interval, expired)
