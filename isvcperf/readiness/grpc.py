"""Readiness of a gRPC target: the protocol's ServerReady and ModelReady calls.

The gRPC twin of the V2 `/v2/health/ready` and `/v2/models/NAME/ready` probes: both must
answer `ready: true`. What went wrong is said in words (server unreachable, model not
found, not ready yet) because the last problem seen is what the user reads on timeout.
"""

from __future__ import annotations

from types import TracebackType

import grpc

from isvcperf.grpc_v2 import channel as grpc_channel
from isvcperf.grpc_v2.grpc_predict_v2_pb2 import ModelReadyRequest, ServerReadyRequest
from isvcperf.grpc_v2.grpc_predict_v2_pb2_grpc import GRPCInferenceServiceStub
from isvcperf.spec.model import Endpoint, RunSpec
from isvcperf.spec.request import ca_bundle_path, request_headers

PROBE_TIMEOUT = 5.0


class GrpcProbe:
    """One channel for the whole wait; call it for the current list of problems (empty: ready)."""

    def __init__(self, spec: RunSpec, endpoint: Endpoint | None = None) -> None:
        """Probe `endpoint` (one of spec.all_endpoints()), or the spec's target."""
        target = endpoint.target if endpoint is not None else spec.target
        self._url = target.url or ""
        self._model = target.model or ""
        self._metadata = grpc_channel.metadata(request_headers(spec, endpoint=endpoint))
        self._channel = grpc_channel.open_channel(self._url, ca_bundle_path(spec))
        self._stub = GRPCInferenceServiceStub(self._channel)

    def __enter__(self) -> GrpcProbe:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._channel.close()

    def __call__(self) -> list[str]:
        call = "ServerReady"
        try:
            if not self._stub.ServerReady(ServerReadyRequest(), timeout=PROBE_TIMEOUT, metadata=self._metadata).ready:
                return [f"{self._url}: ServerReady answered ready: false"]
            call = "ModelReady"
            request = ModelReadyRequest(name=self._model)
            if not self._stub.ModelReady(request, timeout=PROBE_TIMEOUT, metadata=self._metadata).ready:
                return [f"{self._url}: model {self._model!r} is not ready (ModelReady answered ready: false)"]
        except grpc.RpcError as exc:
            return [self._describe(call, exc)]
        return []

    def _describe(self, call: str, exc: grpc.RpcError) -> str:
        code = exc.code() if isinstance(exc, grpc.Call) else None
        details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
        name = code.name if code is not None else "error"
        # NOT_FOUND is the protocol's answer; MLServer answers UNKNOWN with "... not found".
        if call == "ModelReady" and (code == grpc.StatusCode.NOT_FOUND or "not found" in details.lower()):
            return f"{self._url}: model {self._model!r} not found (ModelReady: {name}: {details})"
        if code == grpc.StatusCode.UNAVAILABLE:
            return f"{self._url}: server unavailable ({call}: {details})"
        return f"{self._url}: {call} failed: {name}: {details}"
