"""Misbehaving HTTP servers on loopback, written on raw sockets so they can do what no
well-behaved framework would: hang after accept, answer after the client gave up, send
10 MB, chunk, send bytes that are not UTF-8, speak HTTP/1.0, redirect, reset the
connection in the middle of an answer.

`FaultServer` runs in a thread of the test process (its tallies are readable directly).
Only the faults no real server produces on demand live here: a healthy target, a TLS
server and a target that dies and comes back are nginx (benchmarks/targets.py).
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import struct
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

HOST = "127.0.0.1"
OK_BODY = b'{"model_name":"fault","outputs":[{"name":"predict","shape":[1],"datatype":"INT64","data":[1]}]}'
HUGE_BYTES = 10 * 1024 * 1024
NOT_UTF8 = b"\xff\xfe model \x80\x81 failed \xc3\x28"
MALICIOUS = b'<script>alert("pwned")</script><img src=x onerror=alert(1)> | **bold** \x1b[31mred\x1b[0m'

Answer = Callable[[socket.socket, "FaultServer"], bool]
"""Writes one answer on the connection; returns whether the connection stays open."""


def _head(status: str, headers: dict[str, str], version: str = "HTTP/1.1") -> bytes:
    lines = [f"{version} {status}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def ok(conn: socket.socket, server: FaultServer) -> bool:
    conn.sendall(_head("200 OK", {"Content-Type": "application/json", "Content-Length": str(len(OK_BODY))}) + OK_BODY)
    return True


def close(conn: socket.socket, server: FaultServer) -> bool:
    """A whole answer, then the server closes the kept-alive connection (Connection: close)."""
    conn.sendall(_head("200 OK", {"Content-Length": str(len(OK_BODY)), "Connection": "close"}) + OK_BODY)
    return False


def hang(conn: socket.socket, server: FaultServer) -> bool:
    """Read the request, never answer: hold the connection until the server stops."""
    server.stopped.wait()
    return False


def slow(conn: socket.socket, server: FaultServer) -> bool:
    """Answer, but only after `server.delay` seconds (longer than the client's timeout)."""
    if server.stopped.wait(server.delay):
        return False
    return ok(conn, server)


def huge(conn: socket.socket, server: FaultServer) -> bool:
    conn.sendall(_head("200 OK", {"Content-Type": "application/octet-stream", "Content-Length": str(HUGE_BYTES)}))
    block = b"x" * (1 << 20)
    for _ in range(HUGE_BYTES // len(block)):
        conn.sendall(block)
    return True


def chunked(conn: socket.socket, server: FaultServer) -> bool:
    pieces = [OK_BODY[:10], OK_BODY[10:50], OK_BODY[50:]]
    body = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\nX-Trailer: t\r\n\r\n"
    conn.sendall(_head("200 OK", {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}) + body)
    return True


def not_utf8(conn: socket.socket, server: FaultServer) -> bool:
    """A 500 whose body is not UTF-8 (the error example must still be readable text)."""
    conn.sendall(_head("500 Internal Server Error", {"Content-Length": str(len(NOT_UTF8))}) + NOT_UTF8)
    return True


def http10(conn: socket.socket, server: FaultServer) -> bool:
    """HTTP/1.0 with no Content-Length: the body ends when the server closes."""
    conn.sendall(_head("200 OK", {"Content-Type": "application/json"}, version="HTTP/1.0") + OK_BODY)
    return False


def redirect(conn: socket.socket, server: FaultServer) -> bool:
    conn.sendall(_head("302 Found", {"Location": "/elsewhere", "Content-Length": "0"}))
    return True


def reset(conn: socket.socket, server: FaultServer) -> bool:
    """Half the headers, then a TCP reset (SO_LINGER 0) instead of the rest."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Len")
    server.stopped.wait(0.05)  # let the client read the half answer before the reset discards it
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    return False


def malicious(conn: socket.socket, server: FaultServer) -> bool:
    """A 500 whose body is markup and terminal escapes, for the reports to neutralise."""
    conn.sendall(_head("500 Internal Server Error", {"Content-Type": "text/html", "Content-Length": str(len(MALICIOUS))})
                 + MALICIOUS)
    return True


BEHAVIOURS: dict[str, Answer] = {f.__name__.replace("_", "-"): f for f in (
    ok, close, hang, slow, huge, chunked, not_utf8, http10, redirect, reset, malicious)}
MIXED = ("ok", "huge", "chunked", "not-utf8", "http10", "redirect", "reset")
"""`mixed` answers requests with these in turn, so one run meets every kind."""
CHURN = ("ok",) * 12 + ("close", "reset", "slow", "http10")
"""`churn` mostly answers, but keeps connections closing, resetting and timing out (leak hunting)."""
CYCLES = {"mixed": MIXED, "churn": CHURN}


class FaultServer:
    """An HTTP/1.1 server on 127.0.0.1 whose answers are `behaviour` (or a cycle of them: CYCLES).

    `served` counts the answers given per behaviour; `connections` counts accepted
    connections. Use as a context manager; `stop()` closes every connection.
    """

    def __init__(self, behaviour: str = "ok", port: int = 0, delay: float = 5.0) -> None:
        if behaviour not in CYCLES and behaviour not in BEHAVIOURS:
            raise ValueError(f"unknown behaviour {behaviour!r}")
        self.behaviour = behaviour
        self.delay = delay
        self.served: Counter[str] = Counter()
        self.connections = 0
        self.stopped = threading.Event()
        self._cycle: Iterator[str] = itertools.cycle(CYCLES.get(behaviour, (behaviour,)))
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((HOST, port))
        self._listener.listen(512)
        self.port: int = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, name=f"fault-{behaviour}", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.base_url}/v2/models/fault/infer"

    @property
    def requests(self) -> int:
        return sum(self.served.values())

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.stopped.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        with self._lock:
            for conn in list(self._conns):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        if self._thread.is_alive():
            self._thread.join(5)

    def _next(self) -> str:
        with self._lock:
            name = next(self._cycle)
            self.served[name] += 1
            return name

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._conns.add(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buf = b""
        try:
            while not self.stopped.is_set():
                request, buf = _read_request(conn, buf)
                if request is None:
                    return
                if request.startswith((b"GET /v2/health", b"GET /v2/models/")):
                    ok(conn, self)  # readiness probes are answered, not tallied
                    continue
                if not BEHAVIOURS[self._next()](conn, self):
                    return
        except OSError:
            return
        finally:
            with self._lock:
                self._conns.discard(conn)
            conn.close()


@pytest.fixture
def serve() -> Iterator[Callable[..., FaultServer]]:
    """`serve(behaviour, **options)`: a started FaultServer in this process, stopped at teardown
    (`serve.servers` lists them in order)."""
    started: list[FaultServer] = []

    def start(behaviour: str, **options: Any) -> FaultServer:
        started.append(FaultServer(behaviour, **options).__enter__())
        return started[-1]

    start.servers = started  # type: ignore[attr-defined]
    yield start
    for server in started:
        server.stop()


def _read_request(conn: socket.socket, buf: bytes) -> tuple[bytes | None, bytes]:
    """One request (head and Content-Length body) from the connection, or None at its end."""
    while b"\r\n\r\n" not in buf:
        chunk = conn.recv(65536)
        if not chunk:
            return None, b""
        buf += chunk
    end = buf.index(b"\r\n\r\n") + 4
    head = buf[:end]
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    while len(buf) < end + length:
        chunk = conn.recv(65536)
        if not chunk:
            return None, b""
        buf += chunk
    return head, buf[end + length:]

