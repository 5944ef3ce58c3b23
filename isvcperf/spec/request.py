"""What a request to the target carries, derived from the spec: headers and the CA bundle."""

from __future__ import annotations

from pathlib import Path

from isvcperf.spec.model import Endpoint, RunSpec
from isvcperf.util.env import expand_env
from isvcperf.util.errors import SpecError


def ca_bundle_path(spec: RunSpec) -> str | None:
    """target.caBundle as an absolute path (relative to the spec file); a missing file is bad input."""
    if spec.target.ca_bundle is None:
        return None
    path = Path(spec.base_dir, spec.target.ca_bundle).resolve()
    if not path.is_file():
        raise SpecError("target.caBundle", f"{spec.target.ca_bundle!r} not found (looked at {path})")
    return str(path)


def request_headers(spec: RunSpec, expand: bool = True, endpoint: Endpoint | None = None) -> dict[str, str]:
    """Request headers plus the payload's content type; ${ENV} expanded unless `expand` is False.

    The Locust processes get them unexpanded and expand from their own environment, so a
    token is never written into a file. `endpoint` (one of spec.all_endpoints()) picks its
    target and payload instead of the top-level ones.
    """
    target = endpoint.target if endpoint is not None else spec.target
    payload = endpoint.payload if endpoint is not None and endpoint.payload is not None else spec.payload
    headers = {
        k: expand_env(v, f"target.headers.{k}") if expand else v for k, v in target.headers.items()
    }
    if target.protocol == "grpc-v2":
        return headers  # gRPC metadata: the call's content type is gRPC's own
    if target.method != "GET" and not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = payload.content_type
    return headers

