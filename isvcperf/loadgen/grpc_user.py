"""GrpcInferenceUser: the Locust user that replays the payload as Open Inference Protocol ModelInfer calls.

The gRPC twin of InferenceUser: the same ticket loop (TicketUser), Controller, Recorder
and plugin, so request counts, warm-up, open loop and the histograms behave identically;
only the wire differs. grpcio runs under gevent the way Locust documents it (`init_gevent()` after
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

from isvcperf.grpc_v2 import channel as grpc_channel
from isvcperf.loadgen.config import EndpointConfig, LoadgenConfig
from isvcperf.loadgen.ticket_user import Sent, TicketUser

grpc_gevent.init_gevent()

NO_RESPONSE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED})
"""Statuses that mean no answer came from the server (connection failed, timed out)."""


class GrpcEndpoint:
    """One endpoint as one user sees it: its channel, its serialised requests, its metadata."""

    __slots__ = ("call", "channel", "count", "metadata", "name", "pick", "prefix", "request_type", "requests")

    def __init__(self, endpoint: EndpointConfig, config: LoadgenConfig) -> None:
        self.name = endpoint.id or "ModelInfer"
        self.prefix = f"{endpoint.id}: " if endpoint.id else ""
        self.request_type = "grpc"
        self.channel = grpc_channel.open_channel(endpoint.url, config.ca_bundle)
        # No serialisers: the request goes out as the pre-encoded bytes, the response comes back as bytes.
        self.call: Any = self.channel.unary_unary(grpc_channel.MODEL_INFER)
        self.requests = endpoint.bodies
        self.count = len(self.requests)
        self.pick = random.Random().randrange if endpoint.order == "random" and self.count > 1 else None
        self.metadata = grpc_channel.metadata(endpoint.expanded_headers())

    def close(self) -> None:
        self.channel.close()


class GrpcInferenceUser(TicketUser):
    """Calls ModelInfer with the configured requests whenever the controller hands out a ticket."""

    def open_endpoints(self, config: LoadgenConfig) -> list[GrpcEndpoint]:
        self._timeout = config.timeout
        return [GrpcEndpoint(endpoint, config) for endpoint in config.endpoints]

    def send(self, target: GrpcEndpoint, request: bytes) -> Sent:  # type: ignore[override]
        """One ModelInfer call on the endpoint's channel; a failed status is an error named by its code."""
        try:
            length = len(target.call(request, timeout=self._timeout, metadata=target.metadata))
            return time.perf_counter(), True, None, "", length, None
        except grpc.RpcError as exc:
            ended = time.perf_counter()
            code = exc.code() if isinstance(exc, grpc.Call) else grpc.StatusCode.UNKNOWN
            details = (exc.details() if isinstance(exc, grpc.Call) else str(exc)) or code.name
            return ended, code not in NO_RESPONSE, f"{target.prefix}grpc {code.name}", details, 0, exc
