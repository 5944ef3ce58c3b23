"""InferenceUser: the Locust user that replays the payload at the inference URL.

It talks to the target through geventhttpclient directly (the client under Locust's
FastHttpUser) with one keep-alive connection per user and a request encoded once, asks
the worker's Controller for a ticket before each request, and reports every request to
Locust's own statistics so the web UI and CSV files stay live. isvcperf's numbers come
from the Recorder's histogram, not from those statistics.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from geventhttpclient import HTTPClient
from locust import User, task
from locust.exception import StopUser

from isvcperf.loadgen import plugin

EXAMPLE_BYTES = 300


class InferenceUser(User):
    """Sends the configured request whenever the controller hands out a ticket."""

    abstract = False

    def on_start(self) -> None:
        config = plugin.state().config
        parts = urlsplit(config.url)
        self._path = parts.path + (f"?{parts.query}" if parts.query else "")
        self._method = config.method
        self._body = config.body if config.method != "GET" else b""
        self._headers = config.expanded_headers()
        self._is_error = config.is_error_status
        self._client = HTTPClient.from_url(
            config.url,
            concurrency=1,
            connection_timeout=config.timeout,
            network_timeout=config.timeout,
        )

    def on_stop(self) -> None:
        self._client.close()

    @task
    def infer(self) -> None:
        """Loop for the whole test: one request per ticket, until the share is used up."""
        controller = plugin.state().controller
        fire = self.environment.events.request.fire
        while True:
            ticket = controller.acquire()
            if ticket is None:
                raise StopUser()
            started = time.perf_counter()
            latency: float | None = None
            error: str | None = None
            example = ""
            length = 0
            exception: Exception | None = None
            try:
                response = self._client.request(self._method, self._path, self._body, self._headers)
                body = response.read()
                now = time.perf_counter()
                latency = now - ticket.intended
                length = len(body)
                if self._is_error(response.status_code):
                    error = f"HTTP {response.status_code}"
                    example = body[:EXAMPLE_BYTES].decode("utf-8", "replace")
                    exception = RuntimeError(f"{error}: {example}")
            except Exception as exc:  # any transport failure is a measured error, never a crash
                now = time.perf_counter()
                error = "Timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
                example = str(exc)
                exception = exc
            controller.complete(ticket, latency, error, example)
            fire(
                request_type=self._method,
                name="warmup" if ticket.warmup else "infer",
                response_time=(now - started) * 1000.0,
                response_length=length,
                exception=exception,
                context={},
            )
