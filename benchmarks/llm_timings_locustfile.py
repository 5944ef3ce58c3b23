"""isvcperf's own OpenAIUser, unchanged, plus a per-request record of the server's `timings`.

For the agreement benchmark (`llm.py agreement`): llama-server puts its own prompt and decode
times in each stream's last frame (`timings.prompt_ms`, `predicted_ms`), which isvcperf reads
past. This locustfile (`load.locustfile` of the benchmark's spec) swaps the stream reader for
one that also keeps that object, and after each measured request appends, as a JSON line to
`$BENCH_TIMINGS_FILE`, isvcperf's TTFT for it (from the same intended start and the same frame
time the llm/ttft histogram records) next to the server's times. Benchmark code only.
"""

import json
import os
from typing import Any

from gevent import getcurrent

from isvcperf.loadgen import openai_user  # the module, so Locust finds only the subclass below as a user
from isvcperf.loadgen.sse import StreamReader

_readers: dict[Any, "TimingsReader"] = {}


class TimingsReader(StreamReader):
    """A StreamReader that also keeps the server's `timings` object, registered per greenlet."""

    def __init__(self) -> None:
        super().__init__()
        self.timings: dict[str, Any] | None = None
        _readers[getcurrent()] = self

    def _chunk(self, chunk: dict[str, Any], now: float) -> None:
        super()._chunk(chunk, now)
        if isinstance(chunk.get("timings"), dict):
            self.timings = chunk["timings"]


openai_user.StreamReader = TimingsReader  # type: ignore[misc]


class TimedOpenAIUser(openai_user.OpenAIUser):
    def send(self, target: Any, request: bytes) -> Any:
        ticket = self.ticket
        sent = super().send(target, request)
        reader = _readers.pop(getcurrent(), None)
        if ticket is not None and not ticket.warmup and reader is not None and reader.times and reader.timings:
            row = {"ttft_ms": 1e3 * (reader.times[0] - ticket.intended), "prompt_ms": reader.timings.get("prompt_ms"),
                   "predicted_ms": reader.timings.get("predicted_ms"), "prompt_n": reader.timings.get("prompt_n"),
                   "e2e_ms": 1e3 * (reader.times[-1] - ticket.intended)}
            with open(os.environ["BENCH_TIMINGS_FILE"], "a") as out:
                out.write(json.dumps(row) + "\n")
        return sent


__all__ = ["TimedOpenAIUser"]
