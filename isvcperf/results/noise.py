"""How far a run's own sampling lets a latency figure move: the noise `compare` allows for.

Two identical back-to-back runs never measure the same p99: the 1% slowest requests are a
few dozen samples, and which ones land in the tail is chance. A comparison that judges the
bare difference calls that chance a regression. Here each figure gets a 95% confidence
interval from the run's own samples, distribution-free:

- a percentile p of n samples: the order statistics at ranks n·p ± 1.96·√(n·p·(1−p)),
  read from the run's merged HdrHistogram (the binomial interval for a quantile);
- the mean: ± 1.96·stddev/√n.

`compare` subtracts the combined half-widths from a worsening before it applies the
tolerance, so only a change beyond both the noise and the tolerance is a regression.
Metrics without samples to judge by (throughput, error counts, per-endpoint figures, a
result without its histogram) get no allowance.
"""

from __future__ import annotations

import math

from isvcperf.loadgen.recorder import decode_histogram
from isvcperf.results.result import Result
from isvcperf.spec import metric_names

Z = 1.96
"""Two-sided 95%."""


def spread(result: Result, metric: str) -> tuple[float, float]:
    """How far below and above its measured value `metric` may lie (95%), in its unit; (0, 0) when unknown."""
    prefix, _, name = metric.partition("/")
    value = result.metrics.get(metric)
    if value is None or prefix not in metric_names.PREFIXES or not result.histogram:
        return 0.0, 0.0
    name = metric_names.generic(name)
    if name == "latency-mean":
        count = result.metrics.get(f"{prefix}/request-count", 0.0) - result.metrics.get(f"{prefix}/error-count", 0.0)
        stddev = result.metrics.get(metric_names.full_name(prefix, "latency-stddev"))
        if stddev is None or count < 2:
            return 0.0, 0.0
        half = Z * stddev / math.sqrt(count)
        return half, half
    pct = metric_names.percentile_of(name)
    if pct is None or not name.startswith("latency-"):
        return 0.0, 0.0
    histogram = decode_histogram(result.histogram)
    n = histogram.get_total_count()
    if not n:
        return 0.0, 0.0
    q = pct / 100
    half_rank = Z * math.sqrt(n * q * (1 - q))
    low = histogram.get_value_at_percentile(max(0.0, 100 * (n * q - half_rank) / n)) / 1000
    high = histogram.get_value_at_percentile(min(100.0, 100 * (n * q + half_rank) / n)) / 1000
    return max(0.0, value - low), max(0.0, high - value)
