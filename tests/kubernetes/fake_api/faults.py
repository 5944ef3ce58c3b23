"""Failures a test switches on for a while: API answers a busy or upgrading control plane gives,
and a control plane that cannot reach pods.

* ``ListFaults``: list calls on chosen resources answer 429 TooManyRequests (API Priority and
  Fairness throttling; ``Retry-After`` header and ``details.retryAfterSeconds``), 500
  InternalError (an etcd timeout) or 503 ServiceUnavailable (an apiserver restarting during a
  control-plane upgrade) for a stretch of seconds, with the real Status bodies.
* ``ProxyBlock``: the ``pods/proxy`` and ``services/proxy`` subresources cannot reach the pod,
  as on a GKE private cluster (the control plane may only reach nodes on 443/10250) or behind
  Istio STRICT mTLS (the sidecar resets the API server's plain-text connection). The API server
  answers 503 "error trying to reach service: ..." with the Go dialer's error: ``timeout`` (after
  ``delay`` seconds, the dial timeout), ``refused`` or ``reset``. Port-forward is unaffected:
  it goes through the kubelet's port 10250 and connects inside the pod's network namespace,
  which is why it still works on such clusters.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from . import errors

ANSWERS = {
    429: ("TooManyRequests", "Too many requests, please try again later."),
    500: ("InternalError", "Internal error occurred: etcdserver: request timed out"),
    503: ("ServiceUnavailable", "the server is currently unable to handle the request"),
}
PROXY_ERRORS = {
    "timeout": "dial tcp {ip}:{port}: i/o timeout",
    "refused": "dial tcp {ip}:{port}: connect: connection refused",
    "reset": "read tcp 127.0.0.1:41862->{ip}:{port}: read: connection reset by peer",
}


@dataclass(frozen=True)
class ListFault:
    resource: str  # plural ("pods") or "*"
    code: int
    until: float  # monotonic
    retry_after: int


class ListFaults:
    def __init__(self) -> None:
        self._faults: list[ListFault] = []
        self._lock = threading.Lock()

    def add(self, resource: str, code: int, seconds: float, retry_after: int) -> None:
        if code not in ANSWERS:
            raise ValueError(f"code must be one of {sorted(ANSWERS)}")
        with self._lock:
            self._faults.append(ListFault(resource, code, time.monotonic() + seconds, retry_after))

    def check(self, plural: str) -> errors.ApiError | None:
        """The error a list of ``plural`` answers with now, if a fault covers it."""
        clock = time.monotonic()
        with self._lock:
            self._faults = [f for f in self._faults if f.until > clock]
            fault = next((f for f in self._faults if f.resource in (plural, "*")), None)
        if fault is None:
            return None
        reason, message = ANSWERS[fault.code]
        if fault.code == 429:
            return errors.ApiError(429, reason, message, {"retryAfterSeconds": fault.retry_after}, {"Retry-After": str(fault.retry_after)})
        details = {"causes": [{"message": message.removeprefix("Internal error occurred: ")}]} if fault.code == 500 else None
        return errors.ApiError(fault.code, reason, message, details)


@dataclass(frozen=True)
class ProxyBlock:
    mode: str  # "timeout" | "refused" | "reset"
    delay: float  # seconds before a "timeout" answer

    def __post_init__(self) -> None:
        if self.mode not in PROXY_ERRORS:
            raise ValueError(f"mode must be one of {sorted(PROXY_ERRORS)}")

    def error(self, ip: str, port: int) -> errors.ApiError:
        if self.mode == "timeout":
            time.sleep(self.delay)
        return errors.service_unavailable(f"error trying to reach service: {PROXY_ERRORS[self.mode].format(ip=ip, port=port)}")
