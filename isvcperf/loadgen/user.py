"""InferenceUser: the Locust user that replays the payload at the inference URL.

The ticket loop, routing and reporting are TicketUser's; this user adds the HTTP wire:
requests encoded once at start and one kept-alive connection (isvcperf.loadgen.http1)
per endpoint, opened on first use. A status in the error ranges, or a failed response
check, is an error of its own type.

A locustfile of your own can subclass InferenceUser and override `request_bytes()` to
vary what is sent (it is called once per request; keep it cheap).
"""

from __future__ import annotations

import random
import time

from isvcperf.loadgen.checks import ResponseChecks, compile_checks
from isvcperf.loadgen.config import EndpointConfig, LoadgenConfig
from isvcperf.loadgen.http1 import Connection, Endpoint, encode_request, host_header, sni_name
from isvcperf.loadgen.ticket_user import Sent, TicketUser
from isvcperf.util.clip import clip_bytes
from isvcperf.util.tls import client_context

EXAMPLE_BYTES = 1000
"""An error body's example: its head and its tail (a server's traceback ends with the exception)."""


class UserEndpoint:
    """One endpoint as one user sees it: its encoded requests, its connection, its checks."""

    __slots__ = ("checks", "connection", "count", "head_only", "index", "name", "pick", "prefix", "request_type",
                 "requests")

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
        host = host_header(headers)
        self.connection = Connection(target, config.timeout, context, sni_name(host) if host else None)
        self.head_only = endpoint.method == "HEAD"
        self.request_type = endpoint.method
        self.checks: ResponseChecks | None = compile_checks(endpoint.checks)

    def close(self) -> None:
        self.connection.close()


class InferenceUser(TicketUser):
    """Sends the configured HTTP requests whenever the controller hands out a ticket."""

    def open_endpoints(self, config: LoadgenConfig) -> list[UserEndpoint]:
        self._is_error = config.is_error_status
        return [UserEndpoint(i, endpoint, config) for i, endpoint in enumerate(config.endpoints)]

    def send(self, target: UserEndpoint, request: bytes) -> Sent:  # type: ignore[override]
        """One exchange on the endpoint's kept-alive connection; error statuses and failed checks are errors."""
        status, body = target.connection.exchange(request, target.head_only)
        ended = time.perf_counter()
        if self._is_error(status):
            error = f"{target.prefix}HTTP {status}"
            example = clip_bytes(body, EXAMPLE_BYTES)
            return ended, True, error, example, len(body), RuntimeError(f"{error}: {example}")
        if target.checks is not None:
            failed = target.checks(status, body)
            if failed is not None:
                error = target.prefix + failed[0]
                return ended, True, error, failed[1], len(body), RuntimeError(f"{error}: {failed[1]}")
        return ended, True, None, "", len(body), None
