"""Port-forward as the kubelet serves it over WebSocket, subprotocol ``v4.channel.k8s.io``.

This is what the official Python client's ``kubernetes.stream.portforward`` speaks (kubectl
uses SPDY, or WebSocket since 1.30; only WebSocket is served here). After the upgrade each
forwarded port ``i`` has two channels, data ``2i`` and error ``2i+1``; every binary message
starts with its channel byte, and the first message on each channel is the port number (two
bytes, little endian). The connection to the pod is opened at once, at the pod's address (in a
real pod it is ``localhost`` inside the pod's network namespace); if it is refused, the error
channel carries the kubelet's message and the port's stream ends.

Unaffected by ``FakeCluster.block_pod_proxy``: on a real cluster the stream goes API server →
kubelet (port 10250, open on private clusters) → the pod's namespace, never through a Service
or a sidecar. Only ``GET`` with ``Upgrade: websocket`` is served; anything else is 400
"Upgrade request required", as the API server answers a plain request.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import select
import socket
import threading
from collections.abc import Iterator

PROTOCOL = "v4.channel.k8s.io"
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
BINARY, CLOSE, PING, PONG = 0x2, 0x8, 0x9, 0xA


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def frame(opcode: int, payload: bytes) -> bytes:
    """A server-to-client frame: final, unmasked."""
    n = len(payload)
    if n < 126:
        header = bytes((0x80 | opcode, n))
    elif n < 1 << 16:
        header = bytes((0x80 | opcode, 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((0x80 | opcode, 127)) + n.to_bytes(8, "big")
    return header + payload


def _unmask(data: bytes, mask: bytes) -> bytes:
    n = len(data)
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")


def frames(buffer: bytearray) -> Iterator[tuple[int, bytes]]:
    """Complete client frames (masked, as RFC 6455 requires) taken off the front of ``buffer``."""
    while len(buffer) >= 2:
        opcode, length, pos = buffer[0] & 0x0F, buffer[1] & 0x7F, 2
        if length == 126:
            length, pos = int.from_bytes(buffer[2:4], "big"), 4
        elif length == 127:
            length, pos = int.from_bytes(buffer[2:10], "big"), 10
        masked = buffer[1] & 0x80
        end = pos + (4 if masked else 0) + length
        if len(buffer) < end:
            return
        payload = bytes(buffer[end - length : end])
        if masked:
            payload = _unmask(payload, bytes(buffer[pos : pos + 4]))
        del buffer[:end]
        yield opcode, payload


def forward(conn: socket.socket, pod_ip: str, pod_uid: str, pod_name: str, ports: list[int], stopping: threading.Event) -> None:
    """Run one port-forward session on an upgraded connection until either side ends it."""
    upstreams: dict[int, socket.socket] = {}  # data channel -> connection to the pod
    out = bytearray()
    for i, port in enumerate(ports):
        out += frame(BINARY, bytes((2 * i,)) + port.to_bytes(2, "little"))
        out += frame(BINARY, bytes((2 * i + 1,)) + port.to_bytes(2, "little"))
        try:
            upstreams[2 * i] = socket.create_connection((pod_ip, port), timeout=5)
            upstreams[2 * i].settimeout(None)
        except OSError as err:
            message = (
                f"error forwarding port {port} to pod {pod_uid}, uid : failed to execute portforward in network namespace "
                f'"/var/run/netns/cni-{pod_uid}": failed to connect to localhost:{port} inside namespace "{pod_name}", '
                f"IPv4: dial tcp4 127.0.0.1:{port}: connect: {(err.strerror or str(err)).lower()} "
            )
            out += frame(BINARY, bytes((2 * i + 1,)) + message.encode())
    conn.sendall(out)
    buffer = bytearray()
    try:
        while not stopping.is_set() and upstreams:
            readable, _, _ = select.select([conn, *upstreams.values()], [], [], 0.2)
            for sock in readable:
                if sock is conn:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buffer += data
                    for opcode, payload in frames(buffer):
                        if opcode == CLOSE:
                            conn.sendall(frame(CLOSE, payload[:2]))
                            return
                        if opcode == PING:
                            conn.sendall(frame(PONG, payload))
                        elif opcode == BINARY and payload and payload[0] in upstreams:
                            upstreams[payload[0]].sendall(payload[1:])
                else:
                    channel = next(c for c, s in upstreams.items() if s is sock)
                    data = sock.recv(65536)
                    if data:
                        conn.sendall(frame(BINARY, bytes((channel,)) + data))
                    else:  # the pod closed its side: so does the kubelet, for the whole stream
                        conn.sendall(frame(CLOSE, (1000).to_bytes(2, "big")))
                        return
    except OSError:
        return
    finally:
        for sock in upstreams.values():
            with contextlib.suppress(OSError):
                sock.close()
