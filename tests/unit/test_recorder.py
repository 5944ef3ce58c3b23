"""Exactness of what crosses process boundaries: shares add up, histograms merge exactly."""

from __future__ import annotations

import math
import random

import pytest

from isvcperf.loadgen.control import Share
from isvcperf.loadgen.recorder import Recorder, Timeline, decode_histogram, merge, new_histogram
from isvcperf.results.metrics import compute
from isvcperf.spec.metric_names import check


@pytest.mark.parametrize(("workers", "requests", "warmup"), [(1, 100, 50), (3, 100, 50), (4, 3, 0), (7, 1001, 13)])
def test_shares_add_up_exactly(workers: int, requests: int, warmup: int) -> None:
    shares = Share.split(workers, requests, warmup, rate=10.0, duration=None, warmup_duration=0.0)
    assert sum(s.requests or 0 for s in shares) == requests
    assert sum(s.warmup_requests for s in shares) == warmup
    assert sum(s.rate for s in shares) == pytest.approx(10.0)
    assert max(s.requests or 0 for s in shares) - min(s.requests or 0 for s in shares) <= 1


def test_merged_worker_histograms_equal_the_pooled_samples() -> None:
    rng = random.Random(7)
    samples = [rng.lognormvariate(-5, 1.2) for _ in range(30_000)]  # seconds, ~7 ms median, long tail
    recorders = [Recorder() for _ in range(3)]
    pooled = new_histogram()
    for i, latency in enumerate(samples):
        recorders[i % 3].record(0.0, 0.0, latency, None)
        pooled.record_value(round(latency * 1e6))
    merged = merge([r.snapshot() for r in recorders])
    assert merged["requests"] == len(samples)
    histogram = decode_histogram(merged["histogram"])
    exact = sorted(samples)
    for pct in (50, 90, 99, 99.9):
        assert histogram.get_value_at_percentile(pct) == pooled.get_value_at_percentile(pct)
        true_value = exact[math.ceil(len(exact) * pct / 100) - 1] * 1e6  # HdrHistogram's rank rule
        assert histogram.get_value_at_percentile(pct) == pytest.approx(true_value, rel=2e-3)


def test_errors_are_grouped_and_summed() -> None:
    a, b = Recorder(), Recorder()
    a.record(0.0, 0.0, 0.01, "HTTP 500", "boom")
    a.record(0.0, 0.0, 0.01, "HTTP 500", "boom again")
    b.record(0.0, 0.0, None, "ConnectionRefusedError", "refused")
    b.record(0.0, 0.0, 0.002, None)
    merged = merge([a.snapshot(), b.snapshot()])
    assert merged["errorGroups"] == {"HTTP 500": [2, "boom"], "ConnectionRefusedError": [1, "refused"]}
    values = compute(merged, [50.0], window_s=2.0)
    assert values["http/request-count"] == 4
    assert values["http/error-count"] == 3
    assert values["http/error-rate"] == 0.75
    assert values["http/throughput"] == 0.5


def test_timeline_keeps_summaries_not_histograms_of_old_intervals() -> None:
    recorder = Recorder(interval=1.0)
    recorder.begin(0.0)
    for second in range(100):
        recorder.record(second + 0.1, second + 0.1, second + 0.1 + 0.002 * (1 + second % 3), None)
    shipped = recorder.snapshot(final=True)["intervals"]
    assert len(shipped) == 100 and not recorder.intervals  # shipped once, then forgotten by the worker
    timeline = Timeline()
    timeline.add("w0", shipped)
    timeline.add("w0", shipped)  # a repeated report changes nothing
    rows = timeline.summary()
    assert [r["index"] for r in rows] == list(range(100))
    assert all(r["requests"] == 1 and r["p50"] is not None for r in rows)
    assert len(timeline._open) <= Timeline.FREEZE_AFTER + 1


def test_send_lateness_is_recorded_merged_and_named_like_latency() -> None:
    # open loop: each worker keeps how late it sent (sent − intended), merged exactly on the master
    rng = random.Random(11)
    recorders = [Recorder(open_loop=True) for _ in range(2)]
    pooled = new_histogram()
    for i in range(4_000):
        late = rng.expovariate(1 / 50e-6)  # seconds, ~50 µs mean
        recorders[i % 2].record(1.0, 1.0 + late, 1.0 + late + 0.001, None if i % 10 else "HTTP 500")
        pooled.record_value(max(1, round(late * 1e6)))
    merged = merge([r.snapshot() for r in recorders])
    lateness = decode_histogram(merged["lateness"])
    assert lateness.get_total_count() == 4_000  # failed requests were late too: every send counts
    for pct in (50, 90, 99):
        assert lateness.get_value_at_percentile(pct) == pooled.get_value_at_percentile(pct)
    values = compute(merged, [50.0, 99.0], window_s=1.0)
    assert values["http/send-lateness-p50"] == pytest.approx(pooled.get_value_at_percentile(50) / 1000)
    assert {"http/send-lateness-mean", "http/send-lateness-max", "http/send-lateness-p99"} <= set(values)
    assert "grpc/send-lateness/p99" in compute(merged, [99.0], window_s=1.0, prefix="grpc")
    assert check("http/send-lateness-p99.9") is None and check("grpc/send-lateness/p50") is None


def test_closed_loop_has_no_send_lateness() -> None:
    recorder = Recorder()
    recorder.record(0.0, 0.0, 0.01, None)
    merged = merge([recorder.snapshot()])
    assert merged["lateness"] == ""
    assert not any("send-lateness" in name for name in compute(merged, [50.0], window_s=1.0))
