"""Metrics under Iter8's names, computed from the merged counts and HdrHistogram.

Latencies are milliseconds with sub-millisecond precision, taken from a histogram that
holds every measured latency at 3 significant digits (never Locust's rounded buckets).
Throughput is successful requests per second over the measured window, from the first
worker starting to measure to the last measured response.
"""

from __future__ import annotations

from isvcperf.loadgen.protocol import Counts, EndpointCounts, StageCounts, Totals
from isvcperf.loadgen.recorder import decode_histogram
from isvcperf.spec import metric_names

PREFIX = "http"
"""The prefix of metrics measured over HTTP; gRPC runs pass `grpc` to compute()."""


def window(total: Totals | None) -> float:
    """The measured seconds: from the first worker starting to measure to the last measured response."""
    if not total:
        return 0.0
    start, end = total.get("measureStart"), total.get("measureEnd")
    return end - start if start is not None and end is not None and end > start else 0.0


def compute(total: Counts | Totals | StageCounts | EndpointCounts, percentiles: list[float], window_s: float,
            prefix: str = PREFIX) -> dict[str, float]:
    """Iter8-named metrics from merged counts (the run's Totals, a stage's or an endpoint's).

    `prefix` is the protocol's (metric_names.protocol_prefix): `http/latency-p90`, `grpc/latency/p90`.
    """
    requests = int(total.get("requests", 0))
    errors = int(total.get("errors", 0))
    successes = int(total.get("successes", requests - errors))
    values: dict[str, float] = {
        "request-count": requests,
        "error-count": errors,
        "error-rate": errors / requests if requests else 0.0,
        "throughput": successes / window_s if window_s > 0 else 0.0,
    }
    values.update(latency_values("latency", total.get("histogram", ""), percentiles))
    # Open loop only: the raw service time, next to the corrected latency above, and how late
    # the generator sent (intended → really sent: the part of the latency that is the generator's).
    values.update(latency_values("service-time", total.get("service", ""), percentiles))
    values.update(latency_values("send-lateness", total.get("lateness", ""), percentiles))
    return {metric_names.full_name(prefix, name): float(value) for name, value in values.items()}


def with_endpoints(total: Totals, endpoints: list[str], percentiles: list[float], window_s: float,
                   prefix: str = PREFIX) -> dict[str, float]:
    """The run's metrics, and each endpoint's under `<prefix>-<id>/` from its own counts and histograms.

    `endpoints` are the ids in spec order (the order of the merged `endpoints` list); a
    run with one target has none.
    """
    values = compute(total, percentiles, window_s, prefix)
    for endpoint, data in zip(endpoints, total.get("endpoints", []), strict=False):
        values.update(compute(data, percentiles, window_s, metric_names.endpoint_prefix(prefix, endpoint)))
    return values


def latency_values(kind: str, encoded: str, percentiles: list[float], ms: float = 1e-3) -> dict[str, float]:
    """`<kind>-mean|stddev|min|max|pNN` in milliseconds from an encoded histogram (nothing when empty);
    `ms=1` keeps the recorded unit (token counts)."""
    histogram = decode_histogram(encoded)
    if not histogram.get_total_count():
        return {}
    values = {
        f"{kind}-mean": histogram.get_mean_value() * ms,
        f"{kind}-stddev": histogram.get_stddev() * ms,
        f"{kind}-min": histogram.get_min_value() * ms,
        f"{kind}-max": histogram.get_max_value() * ms,
    }
    for pct in sorted(set(percentiles)):
        values[metric_names.percentile_name(pct, kind)] = histogram.get_value_at_percentile(pct) * ms
    return values


def wanted_percentiles(configured: list[float], slo_metrics: list[str]) -> list[float]:
    """The configured percentiles plus any an SLO names (so every SLO has its value)."""
    extra = [metric_names.percentile_of(m.partition("/")[2]) for m in slo_metrics]
    return sorted(set(configured) | {p for p in extra if p is not None})
