"""One HTTP GET to a pod through the API server's port-forward (WebSocket, v4.channel.k8s.io).

The service proxy needs the API server to open a TCP connection into the pod network,
which a GKE private control plane (only 443/10250 allowed) or Istio STRICT mTLS (plain
HTTP reset by the sidecar) refuses. A port-forward is carried by the kubelet inside the
pod instead, exactly as `kubectl port-forward` is, so the runner uses it as its second
way to reach the master's stats route. The request is HTTP/1.0, so the answer ends when
the master closes the connection.
"""

from __future__ import annotations

from typing import Any

from kubernetes.client.rest import ApiException
from kubernetes.stream import portforward
from websocket import WebSocketException

MAX_ANSWER = 64 * 1024 * 1024


class ProxyUnavailable(Exception):
    """Nothing answers behind the service proxy or the port-forward (pod starting, gone, or unreachable)."""


def http_get(core: Any, namespace: str, pod: str, port: int, path: str, timeout: float, where: str,
             method: str = "GET") -> bytes:
    """The body of `GET /path` (or a bodiless `method`) on `pod`:`port`; ProxyUnavailable unless it answered 200."""
    try:
        forward = portforward(core.connect_get_namespaced_pod_portforward, pod, namespace, ports=str(port))
    except ApiException as exc:
        if exc.status in (401, 403):
            raise ProxyUnavailable(f"port-forward refused by {where}: a Role granting 'create' on pods/portforward "
                                   f"in namespace {namespace!r} is needed") from None
        raise ProxyUnavailable(f"port-forward to pod {pod}: HTTP {exc.status} {exc.reason}") from None
    except (WebSocketException, OSError) as exc:
        raise ProxyUnavailable(f"port-forward to pod {pod}: {exc}") from None
    try:
        sock = forward.socket(port)
        sock.settimeout(timeout)
        length = "" if method == "GET" else "Content-Length: 0\r\n"
        sock.sendall(f"{method} /{path} HTTP/1.0\r\nHost: localhost\r\n{length}\r\n".encode("ascii"))
        answer = b""
        while len(answer) < MAX_ANSWER and (chunk := sock.recv(65536)):
            answer += chunk
    except (OSError, WebSocketException) as exc:
        raise ProxyUnavailable(f"port-forward to pod {pod}: {exc}") from None
    finally:
        forward.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0]
    if not status_line.startswith(b"HTTP/") or status_line.split()[1:2] != [b"200"]:
        raise ProxyUnavailable(f"port-forward to pod {pod}:{port}: {status_line.decode('latin-1') or 'no answer'}")
    return body
