"""The load generator's HTTP/1.1 client against a real socket server speaking each framing."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from isvcperf.loadgen.http1 import Connection, ConnectionClosed, Endpoint, encode_request

Answer = Callable[[bytes], list[bytes]]


class Server:
    """Accepts connections on loopback; for each request head+body read, sends what `answer` returns."""

    def __init__(self, answer: Answer, close_after: int | None = None) -> None:
        self.answer, self.close_after = answer, close_after
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.requests: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        buf, served = b"", 0
        with conn:
            while self.close_after is None or served < self.close_after:
                while b"\r\n\r\n" not in buf:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                head, _, buf = buf.partition(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0]) if b"content-length" in head.lower() else 0
                while len(buf) < length:
                    buf += conn.recv(65536)
                body, buf = buf[:length], buf[length:]
                self.requests.append(head + b"\r\n\r\n" + body)
                for part in self.answer(body):
                    conn.sendall(part)
                served += 1


@pytest.fixture
def serve() -> Iterator[Callable[..., Connection]]:
    servers: list[Server] = []

    def make(answer: Answer, close_after: int | None = None) -> Connection:
        server = Server(answer, close_after)
        servers.append(server)
        return Connection(Endpoint("127.0.0.1", server.port, False, "/v2/models/m/infer"), timeout=5.0)

    yield make
    for server in servers:
        server.sock.close()


REQUEST = encode_request(Endpoint("127.0.0.1", 80, False, "/v2/models/m/infer"), "POST",
                         {"Content-Type": "application/json"}, b'{"inputs": []}')


def test_request_is_encoded_once_with_framing_headers() -> None:
    assert REQUEST.startswith(b"POST /v2/models/m/infer HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    assert b"Content-Length: 14\r\n" in REQUEST and REQUEST.endswith(b'\r\n\r\n{"inputs": []}')


def test_content_length_and_keep_alive(serve: Callable[..., Connection]) -> None:
    conn = serve(lambda body: [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"])
    assert [conn.exchange(REQUEST) for _ in range(3)] == [(200, b"ok")] * 3


def test_chunked_body_split_across_writes(serve: Callable[..., Connection]) -> None:
    conn = serve(lambda body: [b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", b"lo\r\n6\r\n world\r\n",
                               b"0\r\n\r\n"])
    assert conn.exchange(REQUEST) == (500, b"hello world")
    assert conn.exchange(REQUEST) == (500, b"hello world")  # the connection stayed usable


def test_http10_body_ends_with_the_connection(serve: Callable[..., Connection]) -> None:
    conn = serve(lambda body: [b"HTTP/1.0 200 OK\r\n\r\nall of it"], close_after=1)
    assert conn.exchange(REQUEST) == (200, b"all of it")
    assert conn.exchange(REQUEST) == (200, b"all of it")  # a new connection


def test_interim_and_bodiless_responses(serve: Callable[..., Connection]) -> None:
    conn = serve(lambda body: [b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"])
    assert conn.exchange(REQUEST) == (204, b"")


def test_idle_connection_closed_by_server_is_reopened(serve: Callable[..., Connection]) -> None:
    conn = serve(lambda body: [b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"], close_after=1)
    assert conn.exchange(REQUEST) == (200, b"x")
    assert conn.exchange(REQUEST) == (200, b"x")


def test_large_body(serve: Callable[..., Connection]) -> None:
    big = b"y" * (10 * 2**20)
    conn = serve(lambda body: [b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(big), big])
    status, body = conn.exchange(REQUEST)
    assert status == 200 and len(body) == len(big)


def test_reset_mid_response_is_an_error(serve: Callable[..., Connection]) -> None:
    conn = serve(lambda body: [b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part"], close_after=1)
    with pytest.raises(ConnectionClosed):
        conn.exchange(REQUEST)
