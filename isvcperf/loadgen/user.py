"""InferenceUser: the Locust user that replays the payload at the inference URL.

Each user holds one kept-alive connection (isvcperf.loadgen.http1) and sends a request
encoded once, after asking the worker's Controller for a ticket. isvcperf's numbers come
from the Recorder's histograms; Locust's own statistics (web UI, CSV files) get every
request through its `request` event, as any Locust user reports.

A locustfile of your own can subclass InferenceUser and override `request_bytes()` to
vary what is sent (it is called once per request; keep it cheap).
"""

from __future__ import annotations

import ssl
import time

from locust import User, task
from locust.exception import StopUser

from isvcperf.loadgen import plugin
from isvcperf.loadgen.http1 import Connection, Endpoint, encode_request

EXAMPLE_BYTES = 300


class InferenceUser(User):
    """Sends the configured request whenever the controller hands out a ticket."""

    def on_start(self) -> None:
        config = plugin.state().config
        endpoint = Endpoint.from_url(config.url)
        self._request = encode_request(endpoint, config.method, config.expanded_headers(), config.body)
        self._head_only = config.method == "HEAD"
        self._method = config.method
        self._is_error = config.is_error_status
        context = None
        if endpoint.tls and config.insecure:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif endpoint.tls and config.ca_bundle:
            context = ssl.create_default_context(cafile=config.ca_bundle)
        self._connection = Connection(endpoint, config.timeout, context)

    def on_stop(self) -> None:
        self._connection.close()

    def request_bytes(self) -> bytes:
        """The bytes to send for the next request (the same pre-encoded request by default)."""
        return self._request

    @task
    def infer(self) -> None:
        """Loop for the whole test: one request per ticket, until the share is used up."""
        controller = plugin.state().controller
        assert controller is not None
        fire = self.environment.events.request.fire
        exchange = self._connection.exchange
        perf_counter = time.perf_counter
        while True:
            ticket = controller.acquire()
            if ticket is None:
                raise StopUser()
            started = perf_counter()
            error: str | None = None
            example = ""
            length = 0
            exception: Exception | None = None
            try:
                status, body = exchange(self.request_bytes(), self._head_only)
                now = perf_counter()
                length = len(body)
                if self._is_error(status):
                    error = f"HTTP {status}"
                    example = body[:EXAMPLE_BYTES].decode("utf-8", "replace")
                    exception = RuntimeError(f"{error}: {example}")
                controller.complete(ticket, started, now, error, example)
            except Exception as exc:  # any transport failure is a measured error, never a crash
                now = perf_counter()
                error = "Timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
                example = str(exc) or error
                exception = exc
                controller.complete(ticket, started, None, error, example)
            fire(
                request_type=self._method,
                name="warmup" if ticket.warmup else "infer",
                response_time=(now - started) * 1000.0,
                response_length=length,
                exception=exception,
                context={},
            )
