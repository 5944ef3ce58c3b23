"""A minimal HTTP/1.1 client for replaying one request as fast as a Python process can.

Why not geventhttpclient (what Locust's FastHttpUser uses)? Measured against nginx on
loopback, its request path costs ~45 µs per request in Python work (building the request
text and header objects every time, a parser callback per header); sending pre-encoded
bytes on a kept-alive socket and finding the few framing headers with bytes.find costs
~20 µs. The load generator's own cost is what limits how much load one process can
offer, so the inner loop is ours; everything around it stays Locust's.

What it handles: Content-Length and chunked bodies, responses delimited by connection
close (HTTP/1.0), `Connection: close`, 1xx interim responses, bodiless statuses
(204, 304, HEAD), TLS (verified by default), one transparent reconnect when a reused
keep-alive connection turns out to be closed before any byte of the answer arrived.
What it does not: redirects are not followed (a 3xx is the answer), no compression.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_HEAD = 64 * 1024
IDLE = "closed before any byte of the response"
RECV = 65536
Sink = Callable[[bytes], None]
"""Takes a body's bytes as they arrive (a streamed answer), instead of exchange() returning them."""


class ProtocolError(Exception):
    """The server's answer was not valid HTTP/1.x."""


class ConnectionClosed(ProtocolError):
    """The server closed the connection before the answer was complete."""


@dataclass(frozen=True)
class Endpoint:
    """Where to connect, and the request line's target."""

    host: str
    port: int
    tls: bool
    path: str

    @classmethod
    def from_url(cls, url: str) -> Endpoint:
        parts = urlsplit(url)
        tls = parts.scheme == "https"
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return cls(parts.hostname or "127.0.0.1", parts.port or (443 if tls else 80), tls, path)

    @property
    def authority(self) -> str:
        default = 443 if self.tls else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def host_header(headers: dict[str, str]) -> str | None:
    """The user's own Host header, if any: KServe behind an ingress gateway is addressed by it
    (`curl -H "Host: $SERVICE_HOSTNAME" http://$INGRESS_HOST:$INGRESS_PORT/...`)."""
    return next((v for k, v in headers.items() if k.lower() == "host"), None)


def sni_name(host: str) -> str:
    """The TLS server name for a Host header value (its host part, without port or brackets)."""
    return urlsplit(f"//{host}").hostname or host


def encode_request(endpoint: Endpoint, method: str, headers: dict[str, str], body: bytes) -> bytes:
    """The complete request as bytes, built once and sent for every request (a given Host header wins)."""
    lines = [f"{method} {endpoint.path} HTTP/1.1", f"Host: {host_header(headers) or endpoint.authority}"]
    lowered = {k.lower() for k in headers}
    lines += [f"{k}: {v}" for k, v in headers.items() if k.lower() not in ("host", "content-length")]
    if "user-agent" not in lowered:
        lines.append("User-Agent: isvcperf")
    if method not in ("GET", "HEAD") or body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Connection:
    """One kept-alive connection; `exchange` sends a request and returns (status, body)."""

    def __init__(self, endpoint: Endpoint, timeout: float, tls_context: ssl.SSLContext | None = None,
                 server_name: str | None = None) -> None:
        self.endpoint = endpoint
        self.server_name = server_name or endpoint.host
        """TLS SNI and certificate name: the Host header's when one is given, as a gateway routes by it."""
        self.timeout = timeout
        self.tls_context = tls_context
        self._sock: socket.socket | None = None
        self._buffer = b""

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None
                self._buffer = b""

    def exchange(self, request: bytes, head_only: bool = False, sink: Sink | None = None) -> tuple[int, bytes]:
        """Send `request`; return the status and the complete body, or with `sink` the status and b""
        after handing the body to `sink` piece by piece as it arrives (each decoded chunk, or each
        recv of an unchunked body), so a stream is never held whole."""
        reused = self._sock is not None
        sock = self._sock or self._connect()
        try:
            try:
                sock.sendall(request)
            except (ConnectionResetError, BrokenPipeError):
                raise ConnectionClosed(IDLE) from None
            return self._read_response(sock, head_only, sink)
        except ConnectionClosed as exc:
            self.close()
            if reused and exc.args[0] == IDLE:  # no byte of the answer came, so `sink` has seen nothing
                return self.exchange(request, head_only, sink)  # the server had dropped this idle keep-alive connection
            raise
        except BaseException:
            self.close()
            raise

    def _connect(self) -> socket.socket:
        sock = socket.create_connection((self.endpoint.host, self.endpoint.port), timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.endpoint.tls:
            context = self.tls_context or ssl.create_default_context()
            sock = context.wrap_socket(sock, server_hostname=self.server_name)
        sock.settimeout(self.timeout)
        self._sock = sock
        self._buffer = b""
        return sock

    def _read_response(self, sock: socket.socket, head_only: bool, sink: Sink | None) -> tuple[int, bytes]:
        buf = self._buffer
        first = True
        while True:
            end = buf.find(b"\r\n\r\n")
            while end < 0:
                try:
                    chunk = sock.recv(RECV)
                except ConnectionResetError:
                    chunk = b""
                if not chunk:
                    raise ConnectionClosed(IDLE if first and not buf else "closed before the response headers")
                first = False
                buf += chunk
                if len(buf) > MAX_HEAD and buf.find(b"\r\n\r\n") < 0:
                    raise ProtocolError("response headers larger than 64 KiB")
                end = buf.find(b"\r\n\r\n")
            head = buf[:end]
            buf = buf[end + 4:]
            if not head.startswith(b"HTTP/1."):
                raise ProtocolError(f"not an HTTP/1.x response: {head[:40]!r}")
            try:
                status = int(head[9:12])
            except ValueError:
                raise ProtocolError(f"bad status line: {head[:60]!r}") from None
            if 100 <= status < 200 and status != 101:
                continue  # interim response; the real one follows
            break
        lower = head.lower()
        keep_alive = not (b"\r\nconnection: close" in lower or (head[7:8] == b"0" and b"keep-alive" not in lower))
        if head_only or status in (204, 304) or 100 <= status < 200:
            body = b""
        elif b"\r\ntransfer-encoding: chunked" in lower:
            body, buf = _read_chunked(sock, buf, sink)
        else:
            length = _content_length(lower)
            if length is not None:
                buf = _read_at_least(sock, buf, length, "closed in the middle of the response body")
                body, buf = buf[:length], buf[length:]
            else:  # delimited by the server closing the connection
                parts: list[bytes] = []
                emit = parts.append if sink is None else sink
                emit(buf)
                while chunk := sock.recv(RECV):
                    emit(chunk)
                body, buf, keep_alive = b"".join(parts), b"", False
        if keep_alive:
            self._buffer = buf
        else:
            self.close()
        if sink is not None and body:
            sink(body)
            body = b""
        return status, body


def _read_chunked(sock: socket.socket, buf: bytes, sink: Sink | None = None) -> tuple[bytes, bytes]:
    """Decode a chunked body; return it (b"" when each chunk went to `sink`) and whatever bytes follow it."""
    parts = []
    while True:
        line_end = buf.find(b"\r\n")
        while line_end < 0:
            chunk = sock.recv(RECV)
            if not chunk:
                raise ConnectionClosed("closed in the middle of a chunked body")
            buf += chunk
            line_end = buf.find(b"\r\n")
        try:
            size = int(buf[:line_end].split(b";", 1)[0], 16)
        except ValueError:
            raise ProtocolError(f"bad chunk size line: {buf[:line_end][:40]!r}") from None
        buf = buf[line_end + 2:]
        if size == 0:
            trailer_end = buf.find(b"\r\n") if buf.startswith(b"\r\n") else buf.find(b"\r\n\r\n")
            while trailer_end < 0:
                chunk = sock.recv(RECV)
                if not chunk:
                    raise ConnectionClosed("closed in the chunked trailer")
                buf += chunk
                trailer_end = buf.find(b"\r\n") if buf.startswith(b"\r\n") else buf.find(b"\r\n\r\n")
            skip = 2 if buf.startswith(b"\r\n") else trailer_end + 4
            return b"".join(parts), buf[skip:]
        buf = _read_at_least(sock, buf, size + 2, "closed in the middle of a chunk")
        if sink is None:
            parts.append(buf[:size])
        else:
            sink(buf[:size])
        buf = buf[size + 2:]


def _content_length(lower_head: bytes) -> int | None:
    at = lower_head.find(b"\r\ncontent-length:")
    if at < 0:
        return None
    end = lower_head.find(b"\r\n", at + 17)
    try:
        return int(lower_head[at + 17: end if end > 0 else None])
    except ValueError:
        raise ProtocolError("bad Content-Length header") from None


def _read_at_least(sock: socket.socket, buf: bytes, size: int, closed_message: str) -> bytes:
    """Receive until `buf` holds `size` bytes (joined once, so a 10 MB body is not copied per recv)."""
    if len(buf) >= size:
        return buf
    parts, have = [buf], len(buf)
    while have < size:
        chunk = sock.recv(min(max(RECV, size - have), 1 << 20))
        if not chunk:
            raise ConnectionClosed(closed_message)
        parts.append(chunk)
        have += len(chunk)
    return b"".join(parts)
