"""Bytes of a generative worker's snapshot as a run grows (benchmarks/README.md, section 7).

A worker's Recorder with an LlmRecorder answers ANSWERS requests of ~TOKENS tokens in every
1-s interval and sends a snapshot after each interval's CPU sample, as loadgen.plugin does;
printed: the msgpack size (what goes on the wire to the master) of the snapshot sent after
1 minute, 10 minutes and 1 hour, of its `llm` part (the six token histograms grow with the
spread of their values, the interval rows, before they were shipped once, with the run's length)
and how many interval rows it carries. No network, no clock: a unit-level measurement of what the
recorder ships, so it runs against any tree (`PYTHONPATH=<a checkout> python this-file`).

    python benchmarks/llm_snapshot_bytes.py
"""

from __future__ import annotations

import random
import time

import msgpack

import isvcperf
from isvcperf.loadgen.llm_recorder import Answer, LlmRecorder
from isvcperf.loadgen.recorder import Recorder

ANSWERS = 4
"""Answers per interval (a few concurrent streams of a small model)."""
TOKENS = 60
MARKS = (60, 600, 3600)


def main() -> None:
    rng = random.Random(14)
    recorder = Recorder(open_loop=True, interval=1.0)
    recorder.begin(time.perf_counter() - max(MARKS) - 5)  # every interval below has long ended
    recorder.llm = llm = LlmRecorder(recorder, {"ttft": 0.5, "tpot": 0.05, "e2e": None})
    sizes = {}
    for k in range(max(MARKS)):
        for _ in range(ANSWERS):
            start = recorder._base + k + rng.uniform(0.0, 0.3)
            tokens = rng.randint(TOKENS // 2, TOKENS * 3 // 2)
            times = [start + rng.uniform(0.02, 0.2) + i * rng.uniform(0.005, 0.012) for i in range(tokens)]
            recorder.record(start, start, times[-1], None)
            llm.record(Answer(start, times, tokens, True, 20, False, True))
        recorder.close_interval(k, 25.0, ANSWERS)
        snapshot = recorder.snapshot()
        if k + 1 in MARKS:
            rows = snapshot.get("llm", {}).get("intervals", {})
            sizes[k + 1] = len(msgpack.packb(snapshot)), len(msgpack.packb(snapshot.get("llm", {}))), len(rows)
    print(f"isvcperf from {isvcperf.__file__}")
    print("intervals  snapshot bytes  of which llm  llm interval rows in it")
    for mark, (whole, part, rows) in sizes.items():
        print(f"{mark:9}  {whole:14,}  {part:12,}  {rows:23,}")


if __name__ == "__main__":
    main()
