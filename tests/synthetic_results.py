"""Results built in code with every section the reports can chart: a real HdrHistogram of
seeded log-normal latencies, a staged timeline, per-stage and per-endpoint metrics.

Runs against MLServer produce these sections only as the load generator grows them, so the
report tests build them here to exercise every chart deterministically.
"""

from __future__ import annotations

import random

from isvcperf.loadgen.recorder import new_histogram
from isvcperf.results import metrics as metric_values
from isvcperf.results.result import ErrorGroup, Result, SLOVerdict, StageResult, TimelinePoint, WorkerSummary

URL = "http://127.0.0.1:8080/v2/models/iris/infer"
HOSTILE = '<script>alert("x")</script><img src=x onerror="alert(1)">'


def histogram_of(latencies_ms: list[float]) -> str:
    histogram = new_histogram()
    for ms in latencies_ms:
        histogram.record_value(max(1, round(ms * 1000)))
    return histogram.encode().decode("ascii")


def latencies(count: int, median_ms: float, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [rng.lognormvariate(0, 0.5) * median_ms for _ in range(count)]


def staged(name: str = "iris-soak", median_ms: float = 4.0, seed: int = 1) -> Result:
    """A three-stage run (10, 20, 40 users) with errors in the last stage and two endpoints."""
    sample = latencies(6000, median_ms, seed)
    encoded = histogram_of(sample)
    values = metric_values.compute(
        {"requests": len(sample) + 30, "errors": 30, "successes": len(sample), "histogram": encoded},
        [50, 90, 99, 99.9], 60.0,
    )
    values.update({
        "http/service-time-p50": values["http/latency-p50"] * 0.8,
        "http/service-time-p90": values["http/latency-p90"] * 0.8,
        "http/service-time-p99": values["http/latency-p99"] * 0.8,
        "http-setosa/latency-p50": values["http/latency-p50"] * 0.9,
        "http-setosa/latency-p90": values["http/latency-p90"] * 0.9,
        "http-setosa/latency-p99": values["http/latency-p99"] * 0.9,
        "http-virginica/latency-p50": values["http/latency-p50"] * 1.1,
        "http-virginica/latency-p90": values["http/latency-p90"] * 1.2,
        "http-virginica/latency-p99": values["http/latency-p99"] * 1.4,
    })
    rng = random.Random(seed)
    timeline = []
    for second in range(1, 61):
        stage = 0 if second <= 20 else 1 if second <= 40 else 2
        users = (10, 20, 40)[stage]
        errors = rng.randint(0, 3) if stage == 2 else 0
        base = median_ms * (1 + stage * 0.5)
        timeline.append(TimelinePoint(
            t=float(second), requests=users * 10, errors=errors, throughput=users * 10 - errors + rng.uniform(-5, 5),
            p50=base, p90=base * 1.9, p99=base * 3.2, users=users, stage=stage,
        ))
    stages = [
        StageResult(index=i, start=i * 20.0, end=(i + 1) * 20.0, target={"users": u},
                    metrics={"http/throughput": u * 10.0, "http/latency-p50": median_ms * (1 + i * 0.5),
                             "http/latency-p90": median_ms * (1 + i * 0.5) * 1.9,
                             "http/latency-p99": median_ms * (1 + i * 0.5) * 3.2, "http/error-count": 30.0 * (i == 2)})
        for i, u in enumerate((10, 20, 40))
    ]
    slos = [
        SLOVerdict("http/latency-p90", values["http/latency-p90"] <= 10, values["http/latency-p90"], upper=10),
        SLOVerdict("http/error-rate", False, values["http/error-rate"], upper=0.001),
        SLOVerdict("http/throughput", True, values["http/throughput"], lower=50),
    ]
    return Result(
        name=name, status="completed", started_at="2025-01-10T12:00:00Z", ended_at="2025-01-10T12:01:00Z",
        measured_seconds=60.0, target={"url": URL, "protocol": "v2", "model": "iris"},
        load={"users": 40, "workers": 2, "rate": 0, "duration": 60.0},
        metrics=values, histogram=encoded,
        errors=[ErrorGroup("HTTP 500", 30, HOSTILE)],
        warnings=["load generator CPU above 90% (worker-0 97%): latency figures may be inflated by the generator itself"],
        slos=slos, workers=[WorkerSummary("w-0", 3015, 15), WorkerSummary("w-1", 3015, 15)],
        timeline=timeline, stages=stages,
        spec={"name": name, "target": {"url": URL}, "load": {"stages": [{"users": 10}, {"users": 20}, {"users": 40}]}},
    )
