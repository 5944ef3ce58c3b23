"""GrpcInferenceUser: the Locust user that replays the payload as Open Inference Protocol ModelInfer calls.

The gRPC twin of InferenceUser: the same Controller tickets, Recorder and plugin, so
request counts, warm-up, open loop and the histograms behave identically; only the wire
differs. grpcio runs under gevent the way Locust documents it (`init_gevent()` after
Locust's monkey-patching, before any channel exists). Each user owns one channel (one
HTTP/2 connection, see grpc_channel.CHANNEL_OPTIONS) for the whole run and sends the
ModelInferRequest serialised once by the CLI: the call takes and returns bytes, so no
protobuf work happens per request. A failed call counts as an error of type
`grpc <STATUS CODE>` with the status details as its example.
"""

from __future__ import annotations

import time

import grpc
import grpc.experimental.gevent as grpc_gevent
from locust import User, task
from locust.exception import StopUser

from isvcperf import grpc_channel
from isvcperf.loadgen import plugin

grpc_gevent.init_gevent()

NO_RESPONSE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED})
"""Statuses that mean no answer came from the server (connection failed, timed out)."""


class GrpcInferenceUser(User):
    """Calls ModelInfer with the configured request whenever the controller hands out a ticket."""

    def on_start(self) -> None:
        config = plugin.state().config
        self._channel = grpc_channel.open_channel(config.url, config.ca_bundle)
        # No serialisers: the request goes out as the pre-encoded bytes, the response comes back as bytes.
        self._call = self._channel.unary_unary(grpc_channel.MODEL_INFER)
        self._request = config.body
        self._metadata = grpc_channel.metadata(config.expanded_headers())
        self._timeout = config.timeout

    def on_stop(self) -> None:
        self._channel.close()

    def request_bytes(self) -> bytes:
        """The serialised ModelInferRequest for the next call (the same one by default)."""
        return self._request

    @task
    def infer(self) -> None:
        """Loop for the whole test: one call per ticket, until the share is used up."""
        controller = plugin.state().controller
        assert controller is not None
        fire = self.environment.events.request.fire
        call = self._call
        perf_counter = time.perf_counter
        while True:
            ticket = controller.acquire()
            if ticket is None:
                raise StopUser()
            started = perf_counter()
            length = 0
            exception: Exception | None = None
            try:
                length = len(call(self.request_bytes(), timeout=self._timeout, metadata=self._metadata))
                now = perf_counter()
                controller.complete(ticket, started, now, None)
            except grpc.RpcError as exc:
                now = perf_counter()
                code = exc.code() if isinstance(exc, grpc.Call) else grpc.StatusCode.UNKNOWN
                details = (exc.details() if isinstance(exc, grpc.Call) else str(exc)) or code.name
                exception = exc
                controller.complete(ticket, started, None if code in NO_RESPONSE else now, f"grpc {code.name}", details)
            except Exception as exc:  # any other failure is a measured error, never a crash
                now = perf_counter()
                exception = exc
                controller.complete(ticket, started, None, type(exc).__name__, str(exc) or type(exc).__name__)
            fire(
                request_type="grpc",
                name="warmup" if ticket.warmup else "ModelInfer",
                response_time=(now - started) * 1000.0,
                response_length=length,
                exception=exception,
                context={},
            )
