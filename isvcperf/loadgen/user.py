"""InferenceUser: the Locust user that replays the payload at the inference URL.

Each user sends requests encoded once at start, after asking the worker's Controller for
a ticket. The ticket's run-wide number picks the endpoint (by weight, loadgen.routing)
and the body of that endpoint's payload set; the user keeps one kept-alive connection
(isvcperf.loadgen.http1) per endpoint, opened on first use. isvcperf's numbers come
from the Recorder's histograms; Locust's own statistics (web UI, CSV files) get every
request through its `request` event (named after the endpoint when there are several),
as any Locust user reports.

A locustfile of your own can subclass InferenceUser and override `request_bytes()` to
vary what is sent (it is called once per request; keep it cheap).
"""

from __future__ import annotations

import random
import time

from locust import User, task
from locust.exception import StopUser

from isvcperf.loadgen import plugin
from isvcperf.loadgen.checks import ResponseChecks, compile_checks
from isvcperf.loadgen.config import EndpointConfig, LoadgenConfig
from isvcperf.loadgen.failures import error_type
from isvcperf.loadgen.http1 import Connection, Endpoint, encode_request
from isvcperf.loadgen.routing import Route
from isvcperf.tls import client_context

EXAMPLE_BYTES = 300


class UserEndpoint:
    """One endpoint as one user sees it: its encoded requests, its connection, its checks."""

    __slots__ = ("checks", "connection", "count", "head_only", "index", "method", "name", "pick", "prefix", "requests")

    def __init__(self, index: int, endpoint: EndpointConfig, config: LoadgenConfig) -> None:
        target = Endpoint.from_url(endpoint.url)
        headers = endpoint.expanded_headers()
        self.index = index
        self.name = endpoint.id or "infer"
        """The request name in Locust's statistics."""
        self.prefix = f"{endpoint.id}: " if endpoint.id else ""
        """Error types name the endpoint they happened at when there are several."""
        self.requests = [encode_request(target, endpoint.method, headers, body) for body in endpoint.bodies]
        self.count = len(self.requests)
        self.pick = random.Random().randrange if endpoint.order == "random" and self.count > 1 else None
        context = client_context(config.insecure, config.ca_bundle) if target.tls else None
        self.connection = Connection(target, config.timeout, context)  # connects on its first request
        self.head_only = endpoint.method == "HEAD"
        self.method = endpoint.method
        self.checks: ResponseChecks | None = compile_checks(endpoint.checks)


class InferenceUser(User):
    """Sends the configured requests whenever the controller hands out a ticket."""

    def on_start(self) -> None:
        config = plugin.state().config
        self._endpoints = [UserEndpoint(i, endpoint, config) for i, endpoint in enumerate(config.endpoints)]
        self._route = Route([endpoint.weight for endpoint in config.endpoints])
        self._is_error = config.is_error_status

    def on_stop(self) -> None:
        for endpoint in self._endpoints:
            endpoint.connection.close()

    def request_bytes(self, endpoint: int, number: int) -> bytes:
        """The bytes to send to endpoint index `endpoint` as its request `number` (counted run-wide).

        By default the endpoint's payload set in turn (or at random), pre-encoded.
        """
        target = self._endpoints[endpoint]
        if target.pick is not None:
            return target.requests[target.pick(target.count)]
        return target.requests[number % target.count]

    @task
    def infer(self) -> None:
        """Loop for the whole test: one request per ticket, until the share is used up."""
        controller = plugin.state().controller
        assert controller is not None
        fire = self.environment.events.request.fire
        endpoints = self._endpoints
        route = self._route
        is_error = self._is_error
        perf_counter = time.perf_counter
        while True:
            ticket = controller.acquire()
            if ticket is None:
                raise StopUser()
            index, number = route(ticket.slot)
            target = endpoints[index]
            request = self.request_bytes(index, number)
            started = perf_counter()
            error: str | None = None
            example = ""
            length = 0
            exception: Exception | None = None
            try:
                status, body = target.connection.exchange(request, target.head_only)
                now = perf_counter()
                length = len(body)
                if is_error(status):
                    error = f"{target.prefix}HTTP {status}"
                    example = body[:EXAMPLE_BYTES].decode("utf-8", "replace")
                    exception = RuntimeError(f"{error}: {example}")
                elif target.checks is not None:
                    failed = target.checks(status, body)
                    if failed is not None:
                        error, example = target.prefix + failed[0], failed[1]
                        exception = RuntimeError(f"{error}: {example}")
                controller.complete(ticket, started, now, error, example, index)
            except Exception as exc:  # any transport failure is a measured error, never a crash
                now = perf_counter()
                error = target.prefix + error_type(exc)
                example = str(exc) or error
                exception = exc
                controller.complete(ticket, started, None, error, example, index)
            fire(
                request_type=target.method,
                name="warmup" if ticket.warmup else target.name,
                response_time=(now - started) * 1000.0,
                response_length=length,
                exception=exception,
                context={},
            )
