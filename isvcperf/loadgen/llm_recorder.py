"""LlmRecorder: one worker's generative measurements, and their exact merge on the master.

Beside the request latencies of loadgen.recorder, a generative run keeps HdrHistograms
(same range and precision, microseconds; token lengths as plain counts) of:

- ttft: intended start (as for http/latency: the scheduled time in open loop) to the first
  content frame;
- itl: every gap between consecutive content frames, pooled over all requests;
- tpot: per request, (last content frame − first) / (output tokens − 1); requests with one
  token, or not streamed, have none;
- e2e: intended start to the last content frame (to the response, not streamed);
- input-length, output-length: tokens per request (the server's usage, else content frames);

and counts: requests, errors, good requests (no error and within every goodput limit),
input and output tokens, and how many requests' output was counted from usage or from
frames. Per interval of the measured window: requests, good requests and output tokens,
for tokens/s and goodput over time. The worker ships the cumulative state in its
Recorder's snapshot (key `llm`); the master merges the latest of every worker exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from isvcperf.loadgen.protocol import LlmStats, Totals
from isvcperf.loadgen.recorder import Recorder, encode, new_histogram, to_us

HISTOGRAMS = ("ttft", "itl", "tpot", "e2e", "inputLength", "outputLength")
COUNTS = ("requests", "errors", "good", "inputTokens", "outputTokens", "fromUsage", "fromFrames")


@dataclass(frozen=True)
class Answer:
    """What one measured request yielded (perf_counter times)."""

    intended: float
    times: list[float]
    """Arrival of each content frame (one element, the response's end, for an answer not streamed)."""
    output_tokens: int
    from_usage: bool
    input_tokens: int | None
    error: bool
    streamed: bool


class LlmRecorder:
    """Generative histograms and counts of one worker; goodput limits in seconds (None: not checked)."""

    def __init__(self, recorder: Recorder, goodput: dict[str, float | None]) -> None:
        self.recorder = recorder
        self.histograms = {name: new_histogram() for name in HISTOGRAMS}
        self.counts = dict.fromkeys(COUNTS, 0)
        self.intervals: dict[int, list[int]] = {}
        """interval index → [requests, good, output tokens]."""
        self._limits = tuple(goodput.get(key) for key in ("ttft", "tpot", "e2e"))

    def record(self, answer: Answer) -> None:
        counts, histograms = self.counts, self.histograms
        counts["requests"] += 1
        times = answer.times
        ttft = e2e = tpot = None
        if times:
            ttft, e2e = times[0] - answer.intended, times[-1] - answer.intended
            histograms["ttft"].record_value(to_us(ttft))
            histograms["e2e"].record_value(to_us(e2e))
            itl = histograms["itl"]
            for before, after in pairwise(times):
                itl.record_value(to_us(after - before))
            if answer.streamed and answer.output_tokens > 1:
                tpot = (times[-1] - times[0]) / (answer.output_tokens - 1)
                histograms["tpot"].record_value(to_us(tpot))
        if answer.output_tokens:
            histograms["outputLength"].record_value(answer.output_tokens)
            counts["outputTokens"] += answer.output_tokens
            counts["fromUsage" if answer.from_usage else "fromFrames"] += 1
        if answer.input_tokens:
            histograms["inputLength"].record_value(answer.input_tokens)
            counts["inputTokens"] += answer.input_tokens
        good = not answer.error and self._good(ttft, tpot, e2e)
        if answer.error:
            counts["errors"] += 1
        elif good:
            counts["good"] += 1
        end = times[-1] if times else answer.intended
        row = self.intervals.setdefault(self.recorder.interval_index(end), [0, 0, 0])
        row[0] += 1
        row[1] += good
        row[2] += answer.output_tokens

    def _good(self, ttft: float | None, tpot: float | None, e2e: float | None) -> bool:
        ttft_limit, tpot_limit, e2e_limit = self._limits
        if ttft_limit is not None and (ttft is None or ttft > ttft_limit):
            return False
        if tpot_limit is not None and tpot is not None and tpot > tpot_limit:
            return False
        return e2e_limit is None or (e2e is not None and e2e <= e2e_limit)

    def snapshot(self) -> LlmStats:
        return LlmStats(**{name: encode(h) for name, h in self.histograms.items()}, **self.counts,  # type: ignore[typeddict-item]
                        intervals={str(i): row for i, row in self.intervals.items()})


def merge(snapshots: list[LlmStats | None]) -> LlmStats | None:
    """The workers' `llm` snapshots summed (histograms merged exactly); None when no worker had one."""
    present = [snap for snap in snapshots if snap]
    if not present:
        return None
    merged: dict[str, Any] = dict.fromkeys(COUNTS, 0)
    intervals: dict[int, list[int]] = {}
    for name in HISTOGRAMS:
        histogram = new_histogram()
        for snap in present:
            if snap.get(name):
                histogram.decode_and_add(snap[name])
        merged[name] = encode(histogram)
    for snap in present:
        for key in COUNTS:
            merged[key] += snap.get(key, 0)
        for index, row in snap.get("intervals", {}).items():
            total = intervals.setdefault(int(index), [0, 0, 0])
            for i, value in enumerate(row):
                total[i] += value
    merged["intervals"] = {str(i): intervals[i] for i in sorted(intervals)}
    return merged  # type: ignore[return-value]


def with_llm(total: Totals, snapshots: Iterable[Mapping[str, Any]]) -> Totals:
    """`total` (the workers' merged Totals) with their merged `llm` figures, when any worker had them."""
    llm = merge([snap.get("llm") for snap in snapshots])
    if llm is not None:  # a generative run's token-level figures (protocol openai)
        total["llm"] = llm
    return total
