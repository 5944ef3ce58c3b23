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
over time. The worker ships its cumulative histograms and counts in its Recorder's snapshot
(key `llm`, the stages under `stages`) and the master merges the latest of every worker
exactly; the interval rows follow the HTTP timeline's rule instead (loadgen.recorder): each
is shipped once, when its HTTP interval is, and summed on the master (IntervalSums), so a
snapshot does not grow with the run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
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

    def snapshot(self, below: int | None = None) -> LlmStats:
        """Cumulative figures, plus the interval rows before `below` (all when None), shipped once and
        forgotten: a row that grows after it was shipped (a late answer) ships again with the growth only."""
        shipped = sorted(i for i in self.intervals if below is None or i < below)
        return LlmStats(**self.total.snapshot(), stages=[stage.snapshot() for stage in self.stages],
                        intervals={str(i): self.intervals.pop(i) for i in shipped})


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
    sums = IntervalSums()
    for snap in present:
        sums.add(snap.get("intervals", {}))
    merged["intervals"] = sums.rows()
    return merged  # type: ignore[return-value]


class IntervalSums:
    """The master's per-interval generative rows: every worker's shipments summed as they arrive
    (a worker ships each row once, and only a row's growth if it ships it again)."""

    def __init__(self) -> None:
        self._rows: dict[int, list[int]] = {}

    def take(self, snapshot: MutableMapping[str, Any]) -> None:
        """Move a worker snapshot's generative interval rows (if any) into the sums: the snapshot the
        master keeps for the worker then holds only figures that do not grow with the run."""
        llm = snapshot.get("llm")
        if llm is not None:
            self.add(llm.pop("intervals", {}))

    def add(self, intervals: Mapping[str, list[int]]) -> None:
        for index, row in intervals.items():
            total = self._rows.setdefault(int(index), [0, 0, 0])
            for i, value in enumerate(row):
                total[i] += value

    def rows(self) -> dict[str, list[int]]:
        """Interval index (as text, in order) → [requests, good requests, output tokens]."""
        return {str(i): list(self._rows[i]) for i in sorted(self._rows)}


def with_llm(total: Totals, snapshots: Iterable[Mapping[str, Any]], intervals: IntervalSums | None = None) -> Totals:
    """`total` (the workers' merged Totals) with their merged `llm` figures, when any worker had them;
    the interval rows from `intervals` (the master's sums of what was shipped) when given, else the
    snapshots' own."""
    llm = merge([snap.get("llm") for snap in snapshots])
    if llm is not None:  # a generative run's token-level figures (protocol openai)
        if intervals is not None:
            llm["intervals"] = intervals.rows()
        total["llm"] = llm
    return total
