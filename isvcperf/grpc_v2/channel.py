"""gRPC channels to a `grpc://` or `grpcs://` target, shared by readiness and the load generator.

One place decides how a target URL becomes a channel (address, TLS roots, options) and
how headers become call metadata, so the readiness check connects exactly the way the
load does. Nothing here imports Locust: the CLI process uses it too.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import grpc

MODEL_INFER = "/inference.GRPCInferenceService/ModelInfer"
"""The full method name of ModelInfer, for calls that send pre-serialised bytes."""

CHANNEL_OPTIONS = (
    # Each channel gets its own connection: without this, channels to the same target
    # share one subchannel (one TCP connection) process-wide, and "one connection per
    # user" would silently become one per worker.
    ("grpc.use_local_subchannel_pool", 1),
    # Model outputs can exceed gRPC's default 4 MiB receive limit; a load test should
    # measure them, not fail on them.
    ("grpc.max_receive_message_length", -1),
)


def address(url: str) -> str:
    """`grpc://HOST:PORT` → `HOST:PORT` (IPv6 hosts bracketed), as gRPC targets are written."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{parts.port}"


def open_channel(url: str, ca_bundle: str | None = None) -> grpc.Channel:
    """A channel to `url`: plaintext for grpc://, TLS for grpcs:// (system roots, or the
    PEM file `ca_bundle`). Connecting is lazy: errors surface on the first call."""
    target = address(url)
    if urlsplit(url).scheme == "grpcs":
        roots = None
        if ca_bundle:
            with open(ca_bundle, "rb") as handle:
                roots = handle.read()
        return grpc.secure_channel(target, grpc.ssl_channel_credentials(roots), options=CHANNEL_OPTIONS)
    return grpc.insecure_channel(target, options=CHANNEL_OPTIONS)


def metadata(headers: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """Request headers as gRPC call metadata (whose keys gRPC requires in lower case)."""
    return tuple((name.lower(), value) for name, value in headers.items())
