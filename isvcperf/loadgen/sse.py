"""Reading an OpenAI-style answer: a server-sent event stream as it arrives, or a whole JSON body.

`StreamReader.feed` takes the body's bytes as the HTTP client receives them (an HTTP chunk
may hold part of an event, or several) and notes, per event, the time the bytes that
completed it arrived: when a client could first have shown that token. Events are
`data: {...}` chunks, `data: [DONE]`, and `: ...` comments (keep-alive pings), which are
skipped. A frame counts as content when a choice carries text (`delta.content`,
`delta.reasoning_content`, `delta.tool_calls` in chat, `text` in completions): the role-only
first frame of a chat stream and the usage-only last frame are not tokens.

What the reader keeps is what judging the answer needs (`judge`, for loadgen.openai_user): the
content frames' arrival times, whether `[DONE]` and a `finish_reason` came, the server's
`usage`, an `error` object if the server sent one mid-stream, and the first bytes as an
example for the errors table. Nothing else of the body is held.
"""

from __future__ import annotations

import json
import time
from typing import Any

EXAMPLE_BYTES = 300
DONE = b"[DONE]"
ERROR_TRUNCATED = "truncated stream"


def _has_content(choice: dict[str, Any]) -> bool:
    delta = choice.get("delta")
    if isinstance(delta, dict):
        return bool(delta.get("content") or delta.get("reasoning_content") or delta.get("tool_calls"))
    message = choice.get("message")
    if isinstance(message, dict):
        return bool(message.get("content") or message.get("reasoning_content") or message.get("tool_calls"))
    return bool(choice.get("text"))


class StreamReader:
    """One answer's events, timed on arrival; `feed` is the HTTP client's body sink."""

    __slots__ = ("_buffer", "done", "error", "example", "finish_reason", "size", "times", "usage")

    def __init__(self) -> None:
        self._buffer = b""
        self.times: list[float] = []
        """perf_counter() arrival time of each content frame, in order."""
        self.done = False
        """`data: [DONE]` came."""
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] | None = None
        self.error: str | None = None
        """The message of an `error` object the server sent instead of (or inside) the answer."""
        self.example = b""
        self.size = 0
        """Body bytes received."""

    def feed(self, data: bytes) -> None:
        now = time.perf_counter()
        self.size += len(data)
        if len(self.example) < EXAMPLE_BYTES:
            self.example += data[: EXAMPLE_BYTES - len(self.example)]
        buffer = self._buffer + data
        if b"\r" in buffer:
            buffer = buffer.replace(b"\r\n", b"\n")
        start = 0
        while (end := buffer.find(b"\n\n", start)) >= 0:
            self._event(buffer[start:end], now)
            start = end + 2
        self._buffer = buffer[start:]

    def close(self) -> None:
        """The body ended: an event without its blank line after it still counts (some servers end so)."""
        if self._buffer.strip():
            self._event(self._buffer, time.perf_counter())
        self._buffer = b""

    def _event(self, event: bytes, now: float) -> None:
        lines = [line[5:].removeprefix(b" ") for line in event.split(b"\n") if line.startswith(b"data:")]
        if not lines:
            return  # a comment (": ping") or a field isvcperf does not use (event:, id:, retry:)
        data = b"\n".join(lines)
        if data.strip() == DONE:
            self.done = True
            return
        try:
            chunk = json.loads(data)
        except ValueError:
            self.error = self.error or f"not JSON: {data[:100].decode('utf-8', 'replace')}"
            return
        if isinstance(chunk, dict):
            self._chunk(chunk, now)

    def _chunk(self, chunk: dict[str, Any], now: float) -> None:
        error = chunk.get("error")
        if error:
            self.error = str(error.get("message", error) if isinstance(error, dict) else error)
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self.usage = usage
        content = False
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict):
                continue
            content = content or _has_content(choice)
            if choice.get("finish_reason"):
                self.finish_reason = str(choice["finish_reason"])
        if content:
            self.times.append(now)

    def whole(self, body: bytes) -> None:
        """A non-streamed answer (one JSON document), read as if it were one event that came now."""
        self.example = body[:EXAMPLE_BYTES]
        self.size = len(body)
        try:
            document = json.loads(body)
        except ValueError:
            self.error = f"not JSON: {body[:100].decode('utf-8', 'replace')}"
            return
        if isinstance(document, dict):
            self._chunk(document, time.perf_counter())
            self.done = True  # a complete JSON body is the whole answer
            if "data" in document and self.usage is not None:  # embeddings: the vectors are the answer
                self.finish_reason = self.finish_reason or "embedding"


def judge(reader: StreamReader, streamed: bool, expected: int | None) -> tuple[int, bool, str | None]:
    """(output tokens, whether they came from usage, error type or None) of one 2xx answer."""
    usage = reader.usage or {}
    reported = usage.get("completion_tokens")
    from_usage = isinstance(reported, int)
    tokens = reported if from_usage else len(reader.times)
    if reader.error is not None:
        return tokens, from_usage, "stream error"
    if streamed and not reader.done:
        return tokens, from_usage, f"{ERROR_TRUNCATED}: no [DONE]"
    if reader.finish_reason is None:
        return tokens, from_usage, f"{ERROR_TRUNCATED}: no finish_reason"
    if expected is not None and tokens < expected:
        return tokens, from_usage, f"{ERROR_TRUNCATED}: fewer tokens than max_tokens"
    return tokens, from_usage, None
