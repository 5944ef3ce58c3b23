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
frames. The same again per load stage (by the stage of the request's intended start, as
the Recorder files its latency), so each stage gets its own llm/ metrics. Per interval of
the measured window: requests, good requests and output tokens, for tokens/s and goodput
over time. The worker ships the cumulative state in its Recorder's snapshot (key `llm`,
the stages under `stages`); the master merges the latest of every worker exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from isvcperf.loadgen.protocol import LlmSlice, LlmStats, Totals
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


class Slice:
    """The histograms and counts of one slice of the run: all of it, or one stage."""

    def __init__(self) -> None:
        self.histograms = {name: new_histogram() for name in HISTOGRAMS}
        self.counts = dict.fromkeys(COUNTS, 0)

    def record(self, answer: Answer, good: Callable[[float | None, float | None, float | None], bool]) -> bool:
        """File one answer; whether it was good (no error, and `good` of its TTFT, TPOT and E2E)."""
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
        is_good = not answer.error and good(ttft, tpot, e2e)
        if answer.error:
            counts["errors"] += 1
        elif is_good:
            counts["good"] += 1
        return is_good

    def snapshot(self) -> LlmSlice:
        return LlmSlice(**{name: encode(h) for name, h in self.histograms.items()}, **self.counts)  # type: ignore[typeddict-item]


class LlmRecorder:
    """Generative histograms and counts of one worker; goodput limits in seconds (None: not checked)."""

    def __init__(self, recorder: Recorder, goodput: dict[str, float | None]) -> None:
        self.recorder = recorder
        self.total = Slice()
        self.stages = [Slice() for _ in recorder.stage_ends]
        self.intervals: dict[int, list[int]] = {}
        """interval index → [requests, good, output tokens]."""
        self._limits = tuple(goodput.get(key) for key in ("ttft", "tpot", "e2e"))

    def record(self, answer: Answer) -> None:
        good = self.total.record(answer, self._good)
        if self.stages:
            self.stages[self.recorder._stage_index(answer.intended)].record(answer, self._good)
        times = answer.times
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
        return LlmStats(**self.total.snapshot(), stages=[stage.snapshot() for stage in self.stages],
                        intervals={str(i): row for i, row in self.intervals.items()})


def _merge_slices(present: Sequence[LlmSlice]) -> LlmSlice:
    """Slice snapshots summed, histograms merged exactly."""
    merged: dict[str, Any] = dict.fromkeys(COUNTS, 0)
    for name in HISTOGRAMS:
        histogram = new_histogram()
        for snap in present:
            if snap.get(name):
                histogram.decode_and_add(snap[name])
        merged[name] = encode(histogram)
    for snap in present:
        for key in COUNTS:
            merged[key] += snap.get(key, 0)
    return merged  # type: ignore[return-value]  (built key by key above)


def merge(snapshots: list[LlmStats | None]) -> LlmStats | None:
    """The workers' `llm` snapshots summed (histograms merged exactly); None when no worker had one."""
    present = [snap for snap in snapshots if snap]
    if not present:
        return None
    merged: dict[str, Any] = dict(_merge_slices(present))
    stages = max((len(snap.get("stages", [])) for snap in present), default=0)
    merged["stages"] = [_merge_slices([snap["stages"][i] for snap in present if i < len(snap.get("stages", []))])
                        for i in range(stages)]
    intervals: dict[int, list[int]] = {}
    for snap in present:
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
