"""OpenAIUser: the Locust user of protocol openai, timing every streamed token.

It is the InferenceUser (same ticket loop, encoded requests, kept-alive connection, error
statuses) with a different way of reading the answer: the HTTP client hands the body to a
loadgen.sse.StreamReader chunk by chunk, which notes when each content frame arrived.
Then the answer is judged (loadgen.sse.judge, kept out of this Locust module so a test can
import it without monkey-patching its process with gevent):

- output tokens are the server's `usage.completion_tokens` when it sent usage, else the
  number of content frames (the result says how many requests were counted each way);
- a stream that ends without `data: [DONE]`, or whose connection closes in the middle of
  it (what llama-cpp-python's interrupted stream looks like to this client), or without any
  choice's `finish_reason`
  (llama-cpp-python's interrupted stream: one frame, then `[DONE]`), or, with
  `generate.exactOutput`, with fewer tokens than the request's max_tokens, is an error of
  its own type, `truncated stream: ...`; an `error` object in the stream is `stream error`;
- measured requests go to the worker's LlmRecorder (loadgen.llm_recorder) with their
  intended start, so TTFT is corrected for coordinated omission exactly as HTTP latency is.
"""

from __future__ import annotations

import json
import time

from isvcperf.loadgen import plugin
from isvcperf.loadgen.http1 import ConnectionClosed
from isvcperf.loadgen.llm_recorder import Answer, LlmRecorder
from isvcperf.loadgen.sse import ERROR_TRUNCATED, StreamReader, judge
from isvcperf.loadgen.ticket_user import Sent
from isvcperf.loadgen.user import InferenceUser, UserEndpoint


def _meta(body: bytes, exact: bool) -> tuple[bool, int | None]:
    """(streamed, the tokens the answer must have or None) of one encoded request's body."""
    data = json.loads(body)
    value = data.get("max_tokens")
    expected = int(value) if exact and isinstance(value, (int, float)) else None
    return bool(data.get("stream")), expected


class OpenAIUser(InferenceUser):
    """Sends the generated OpenAI requests and records their token-level timing."""

    def on_start(self) -> None:
        super().on_start()
        st = plugin.state()
        settings = st.config.llm
        if not isinstance(st.recorder.llm, LlmRecorder):  # the first user of this worker creates it
            st.recorder.llm = LlmRecorder(st.recorder, settings.get("goodput") or {})
        self._llm = st.recorder.llm
        exact = bool(settings.get("exact"))
        self._meta = {request: _meta(body, exact)
                      for target, endpoint in zip(self._endpoints, st.config.endpoints, strict=True)
                      for request, body in zip(target.requests, endpoint.bodies, strict=True)}

    def send(self, target: UserEndpoint, request: bytes) -> Sent:  # type: ignore[override]
        ticket = self.ticket
        measured = ticket is not None and not ticket.warmup
        streamed, expected = self._meta[request]
        reader = StreamReader()
        cut: str | None = None
        try:
            status, body = target.connection.exchange(request, False, reader.feed if streamed else None)
        except ConnectionClosed as exc:
            if not reader.size:  # nothing of the answer came: a transport error like any other
                self._record_failure(streamed)
                raise
            status, body, cut = 200, b"", f"{ERROR_TRUNCATED}: connection closed mid-stream ({exc})"
        except Exception:
            self._record_failure(streamed)
            raise
        ended = time.perf_counter()
        if streamed:
            reader.close()
        else:
            reader.whole(body)
        example = reader.example.decode("utf-8", "replace")
        if self._is_error(status):
            error: str | None = f"{target.prefix}HTTP {status}"
            tokens, from_usage = 0, False
        else:
            tokens, from_usage, kind = judge(reader, streamed, expected)
            kind = cut or kind
            error = target.prefix + kind if kind else None
            if kind and reader.error:
                example = reader.error
        if measured:
            times = reader.times if streamed else ([ended] if tokens else [])
            prompt = (reader.usage or {}).get("prompt_tokens")
            self._llm.record(Answer(ticket.intended, times, tokens, from_usage,  # type: ignore[union-attr]
                                    prompt if isinstance(prompt, int) else None, error is not None, streamed))
        exception = RuntimeError(f"{error}: {example}") if error else None
        return ended, True, error, example if error else "", reader.size, exception

    def _record_failure(self, streamed: bool) -> None:
        """A measured request that got no answer at all still counts in llm/error-count."""
        ticket = self.ticket
        if ticket is not None and not ticket.warmup:
            self._llm.record(Answer(ticket.intended, [], 0, False, None, True, streamed))
