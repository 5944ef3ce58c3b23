"""GrpcInferenceUser: the Locust user that replays the payload as Open Inference Protocol ModelInfer calls.

The gRPC twin of InferenceUser: the same Controller tickets, Recorder and plugin, so
request counts, warm-up, open loop and the histograms behave identically; only the wire
differs. grpcio runs under gevent the way Locust documents it (`init_gevent()` after
Locust's monkey-patching, before any channel exists). Each user owns one channel (one
HTTP/2 connection, see grpc_channel.CHANNEL_OPTIONS) per endpoint for the whole run and
sends the ModelInferRequests serialised once by the CLI, picked like InferenceUser's
(loadgen.routing): the call takes and returns bytes, so no protobuf work happens per
request. A failed call counts as an error of type `grpc <STATUS CODE>` (`<id>: grpc ...`
with several endpoints) with the status details as its example.
"""

from __future__ import annotations

import random
import time
from typing import Any

import grpc
import grpc.experimental.gevent as grpc_gevent
from locust import User, task
from locust.exception import StopUser

from isvcperf import grpc_channel
from isvcperf.loadgen import plugin
from isvcperf.loadgen.config import EndpointConfig, LoadgenConfig
from isvcperf.loadgen.routing import Route

grpc_gevent.init_gevent()

NO_RESPONSE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED})
"""Statuses that mean no answer came from the server (connection failed, timed out)."""


class GrpcEndpoint:
    """One endpoint as one user sees it: its channel, its serialised requests, its metadata."""

    __slots__ = ("call", "channel", "count", "metadata", "name", "pick", "prefix", "requests")

    def __init__(self, endpoint: EndpointConfig, config: LoadgenConfig) -> None:
        self.name = endpoint.id or "ModelInfer"
        self.prefix = f"{endpoint.id}: " if endpoint.id else ""
        self.channel = grpc_channel.open_channel(endpoint.url, config.ca_bundle)
        # No serialisers: the request goes out as the pre-encoded bytes, the response comes back as bytes.
        self.call: Any = self.channel.unary_unary(grpc_channel.MODEL_INFER)
        self.requests = endpoint.bodies
        self.count = len(self.requests)
        self.pick = random.Random().randrange if endpoint.order == "random" and self.count > 1 else None
        self.metadata = grpc_channel.metadata(endpoint.expanded_headers())


class GrpcInferenceUser(User):
    """Calls ModelInfer with the configured requests whenever the controller hands out a ticket."""

    def on_start(self) -> None:
        config = plugin.state().config
        self._endpoints = [GrpcEndpoint(endpoint, config) for endpoint in config.endpoints]
        self._route = Route([endpoint.weight for endpoint in config.endpoints])
        self._timeout = config.timeout

    def on_stop(self) -> None:
        for endpoint in self._endpoints:
            endpoint.channel.close()

    def request_bytes(self, endpoint: int, number: int) -> bytes:
        """The serialised ModelInferRequest for endpoint index `endpoint`'s request `number` (run-wide)."""
        target = self._endpoints[endpoint]
        if target.pick is not None:
            return target.requests[target.pick(target.count)]
        return target.requests[number % target.count]

    @task
    def infer(self) -> None:
        """Loop for the whole test: one call per ticket, until the share is used up."""
        controller = plugin.state().controller
        assert controller is not None
        fire = self.environment.events.request.fire
        endpoints = self._endpoints
        route = self._route
        timeout = self._timeout
        perf_counter = time.perf_counter
        while True:
            ticket = controller.acquire()
            if ticket is None:
                raise StopUser()
            index, number = route(ticket.slot)
            target = endpoints[index]
            request = self.request_bytes(index, number)
            started = perf_counter()
            length = 0
            exception: Exception | None = None
            try:
                length = len(target.call(request, timeout=timeout, metadata=target.metadata))
                now = perf_counter()
                controller.complete(ticket, started, now, None, "", index)
            except grpc.RpcError as exc:
                now = perf_counter()
                code = exc.code() if isinstance(exc, grpc.Call) else grpc.StatusCode.UNKNOWN
                details = (exc.details() if isinstance(exc, grpc.Call) else str(exc)) or code.name
                exception = exc
                controller.complete(ticket, started, None if code in NO_RESPONSE else now,
                                    f"{target.prefix}grpc {code.name}", details, index)
            except Exception as exc:  # any other failure is a measured error, never a crash
                now = perf_counter()
                exception = exc
                controller.complete(ticket, started, None, target.prefix + type(exc).__name__,
                                    str(exc) or type(exc).__name__, index)
            fire(
                request_type="grpc",
                name="warmup" if ticket.warmup else target.name,
                response_time=(now - started) * 1000.0,
                response_length=length,
                exception=exception,
                context={},
            )
