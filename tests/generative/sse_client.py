"""A plain standard-library client for OpenAI-style streams, to check the targets themselves.

Deliberately independent of isvcperf's own request path: the tests that prove a target
behaves as claimed must not share a bug with the code that will be measured against it.
It times every `data:` frame on arrival (no buffering of the whole body) from just before
the request is sent.
"""

from __future__ import annotations

import http.client
import itertools
import json
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Frame:
    """One `data:` event: seconds from the request's send to its arrival, and its JSON."""

    at: float
    data: dict[str, Any]

    @property
    def content(self) -> str:
        """The text the frame adds (completions' `text` or chat's `delta.content`); "" for
        role-only, finish-only and usage frames, which are not tokens."""
        return "".join(c.get("text") or (c.get("delta") or {}).get("content") or "" for c in self.data.get("choices") or [])


@dataclass
class Stream:
    """Everything one streamed request returned, in arrival order."""

    status: int
    content_type: str
    chunked: bool
    frames: list[Frame] = field(default_factory=list)
    done: bool = False  # `data: [DONE]` arrived
    done_at: float | None = None

    @property
    def content_frames(self) -> list[Frame]:
        return [f for f in self.frames if f.content]

    @property
    def ttft(self) -> float:
        """Seconds to the first frame with content (issue 13's TTFT)."""
        return self.content_frames[0].at

    @property
    def gaps(self) -> list[float]:
        """Seconds between consecutive content frames (issue 13's per-chunk ITL)."""
        times = [f.at for f in self.content_frames]
        return [b - a for a, b in itertools.pairwise(times)]

    @property
    def text(self) -> str:
        return "".join(f.content for f in self.frames)

    @property
    def usage(self) -> dict[str, int] | None:
        return next((f.data["usage"] for f in self.frames if f.data.get("usage")), None)


def stream(url: str, body: dict[str, Any], timeout: float = TIMEOUT_S) -> Stream:
    """POST `body` with `stream: true` to `url` and read the SSE answer frame by frame."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        start = time.perf_counter()
        connection.request("POST", parts.path, json.dumps({**body, "stream": True}),
                           {"Content-Type": "application/json"})
        response = connection.getresponse()
        result = Stream(response.status, response.getheader("Content-Type", ""),
                        response.getheader("Transfer-Encoding", "") == "chunked")
        buffer = b""
        while not result.done and (data := response.read1(65536)):
            now = time.perf_counter() - start
            buffer = (buffer + data).replace(b"\r\n", b"\n")
            # SSE events end with a blank line; `: ping`-style comments and other fields are skipped.
            while b"\n\n" in buffer:
                event, buffer = buffer.split(b"\n\n", 1)
                for line in event.split(b"\n"):
                    if not line.startswith(b"data:"):
                        continue
                    payload = line[5:].strip()
                    if payload == b"[DONE]":
                        result.done, result.done_at = True, now
                    else:
                        result.frames.append(Frame(now, json.loads(payload)))
        return result
    finally:
        connection.close()


def get_json(url: str, timeout: float = TIMEOUT_S) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.load(response)


def post_json(url: str, body: dict[str, Any], timeout: float = TIMEOUT_S) -> Any:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.load(response)
