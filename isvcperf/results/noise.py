"""How far a run's own sampling lets a latency figure move: the noise `compare` allows for.

Two identical back-to-back runs never measure the same p99: the 1% slowest requests are a
few dozen samples, and which ones land in the tail is chance. A comparison that judges the
bare difference calls that chance a regression. Here each figure gets a 95% confidence
interval from the run's own samples, distribution-free:

- a percentile p of n samples: the order statistics at ranks n·p ± 1.96·√(n·p·(1−p)),
  read from the run's merged HdrHistogram (the binomial interval for a quantile);
- the mean: ± 1.96·stddev/√n;
- and drift: on a shared machine the whole latency distribution moves while a run goes, and
  between two runs, by more than sampling explains. The run's own timeline shows how much:
  each interval's latency at the judged quantile is read off that interval's quantile function
  (piecewise linear through its p50, p90 and p99; the mean is that function's integral), and
  the spread of those k values gives a Student-t 95% *prediction* half-width t·sd·√(1 + 1/k):
  how far one more stretch of this machine's time may land, which is what the next run is.
  (The standard error of the run's own figure, t·sd/√k, shrinks with every interval while the
  machine's state between two runs does not: two identical 4 s runs then differed by 2× at
  p75/p90 and +44% in the mean, and were called regressed.) Every judged figure gets its own
  drift this way: p75 and p95 (between the timeline's percentiles) and the mean (which moves
  with how many requests land in the slow tail, not with the median). Independent sources add
  in quadrature. A run too short for two intervals, or one in load stages (whose windows differ
  on purpose), gets no drift allowance; a run whose intervals agree gets a small one, so a
  steady shift between two steady runs is still a regression.

`compare` subtracts the combined half-widths from a worsening before it applies the
tolerance, so only a change beyond both the noise and the tolerance is a regression.
Metrics without samples to judge by (throughput, error counts, per-endpoint figures, a
result without its histogram) get no allowance.
"""

from __future__ import annotations

import itertools
import math

from isvcperf.loadgen.recorder import decode_histogram
from isvcperf.results.result import Result, TimelinePoint
from isvcperf.spec import metric_names

Z = 1.96
"""Two-sided 95%."""
T95 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26, 10: 2.23}
"""Student's t, two-sided 95%, by degrees of freedom (more than 10: Z is close enough)."""
KNOTS = ((0.0, "p50"), (0.5, "p50"), (0.9, "p90"), (0.99, "p99"), (1.0, "p99"))
"""An interval's quantile function as the timeline holds it: (quantile, field) points joined by
straight lines, flat below its p50 and above its p99."""


def spread(result: Result, metric: str) -> tuple[float, float]:
    """How far below and above its measured value `metric` may lie (95%), in its unit; (0, 0) when unknown:
    the sampling interval widened by the run's own drift."""
    low, high = _sampling(result, metric)
    drift = _drift(result, metric)
    return math.hypot(low, drift), math.hypot(high, drift)


def _drift(result: Result, metric: str) -> float:
    """The 95% prediction half-width of `metric` from its interval-to-interval spread in the run's
    timeline; 0 when unknown."""
    prefix, _, name = metric.partition("/")
    name = metric_names.generic(name)
    if prefix not in metric_names.PREFIXES or result.stages:  # stages change the load on purpose: not drift
        return 0.0
    pct = metric_names.percentile_of(name)
    if name != "latency-mean" and (pct is None or not name.startswith("latency-")):
        return 0.0
    quantile = None if pct is None else pct / 100
    values = [v for point in result.timeline if (v := _interval_value(point, quantile)) is not None]
    if len(values) < 2:
        return 0.0
    k = len(values)
    mean = sum(values) / k
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (k - 1))
    return T95.get(k - 1, Z) * sd * math.sqrt(1 + 1 / k)


def _interval_value(point: TimelinePoint, quantile: float | None) -> float | None:
    """One interval's latency at `quantile` read off its quantile function (KNOTS), or its mean (the
    function's integral) when `quantile` is None; None when the interval lacks a percentile."""
    knots = [(q, getattr(point, field)) for q, field in KNOTS]
    if any(value is None for _, value in knots):
        return None
    pairs = list(itertools.pairwise(knots))
    if quantile is None:
        return sum((q1 - q0) * (v0 + v1) / 2 for (q0, v0), (q1, v1) in pairs)
    for (q0, v0), (q1, v1) in pairs:
        if q0 <= quantile <= q1 and q1 > q0:
            return v0 + (quantile - q0) / (q1 - q0) * (v1 - v0)
    return None


def _sampling(result: Result, metric: str) -> tuple[float, float]:
    """The 95% interval from the run's own samples (a percentile's order statistics, the mean's standard error)."""
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
