"""The referee's own clock: a minimal asyncio reader of OpenAI-style SSE streams on raw sockets.

The generative benchmarks compare isvcperf's TTFT and ITL with what a target really did. The
fixed-cadence nginx target's nominal cadence is not its true one (nginx's timers count whole
milliseconds), so the truth is measured in the same run by this client: no HTTP library, one
kept-alive socket per concurrent stream, the chunked body decoded by hand, and the arrival time
of every `data:` event taken as soon as the bytes that complete it are read. Kept apart from
isvcperf's request path (loadgen.http1, loadgen.sse) so the two cannot share a bug.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

TIMEOUT_S = 60.0


@dataclass
class Stream:
    """One streamed answer: content-frame arrival times (seconds after the request was written),
    and the server's `timings` object if its last frame carried one (llama-server does)."""

    times: list[float] = field(default_factory=list)
    timings: dict[str, Any] | None = None
    done: bool = False

    @property
    def ttft(self) -> float:
        return self.times[0]

    @property
    def gaps(self) -> list[float]:
        return [after - before for before, after in zip(self.times, self.times[1:], strict=False)]


def _has_content(event: dict[str, Any]) -> bool:
    for choice in event.get("choices") or ():
        if choice.get("text") or (choice.get("delta") or {}).get("content"):
            return True
    return False


class _Connection:
    """One kept-alive HTTP/1.1 connection that POSTs a body and reads a chunked SSE answer."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self.reader, self.writer, self.host = reader, writer, host

    async def stream(self, path: str, body: bytes) -> Stream:
        head = (f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nAccept: text/event-stream\r\n\r\n").encode()
        result = Stream()
        start = time.perf_counter()
        self.writer.write(head + body)
        headers = await self.reader.readuntil(b"\r\n\r\n")
        if not headers.startswith(b"HTTP/1.1 200") or b"chunked" not in headers.lower():
            raise RuntimeError(f"unexpected answer: {headers[:200]!r}")
        pending = b""
        while not result.done:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            data = await self.reader.readexactly(size + 2)
            now = time.perf_counter() - start
            if size == 0:
                break
            pending += data[:-2]
            while b"\n\n" in pending:
                event, pending = pending.split(b"\n\n", 1)
                payload = event.removeprefix(b"data:").strip()
                if payload == b"[DONE]":
                    result.done = True
                elif payload:
                    document = json.loads(payload)
                    if _has_content(document):
                        result.times.append(now)
                    result.timings = document.get("timings", result.timings)
        if result.done:  # the terminating zero-size chunk
            await self.reader.readuntil(b"\r\n\r\n")
        return result


async def _open(url: str) -> tuple[_Connection, str]:
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    return _Connection(reader, writer, parts.netloc), parts.path


async def _run(url: str, bodies: list[dict[str, Any]], concurrency: int) -> list[Stream]:
    queue = list(reversed(bodies))
    streams: list[Stream] = []

    async def worker() -> None:
        connection, path = await _open(url)
        try:
            while queue:
                body = json.dumps({**queue.pop(), "stream": True}).encode()
                try:
                    streams.append(await connection.stream(path, body))
                except (asyncio.IncompleteReadError, ConnectionError):
                    # llama-server closes the connection after each stream (while its headers say
                    # keep-alive): the request was not read, so connect again (untimed) and resend.
                    connection.writer.close()
                    connection, path = await _open(url)
                    streams.append(await connection.stream(path, body))
        finally:
            connection.writer.close()

    await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(concurrency))), TIMEOUT_S + len(bodies))
    return streams


def run(url: str, bodies: list[dict[str, Any]], concurrency: int) -> list[Stream]:
    """Stream every body (POSTed to `url`) with `concurrency` streams at a time; the answers."""
    return asyncio.run(_run(url, bodies, concurrency))
