"""The metric vocabulary: Iter8's names, shared by SLOs, metrics and reports.

A name is `<prefix>/<metric>` where prefix is `http` (later `grpc`, `http-<endpoint>`)
and metric is one of the fixed names or `latency-pNN` for any percentile NN in (0, 100].
Knowing the vocabulary in one place lets the spec reject an SLO on a metric that will
never exist, before any load is sent.
"""

from __future__ import annotations

import re

PREFIXES = ("http",)
FIXED = (
    "request-count",
    "error-count",
    "error-rate",
    "throughput",
    "latency-mean",
    "latency-stddev",
    "latency-min",
    "latency-max",
)
DEFAULT_PERCENTILES = (50.0, 75.0, 90.0, 95.0, 99.0, 99.9)
_PERCENTILE = re.compile(r"^latency-p(\d+(?:\.\d+)?)$")

UNITS = {
    "request-count": "",
    "error-count": "",
    "error-rate": "",
    "throughput": "req/s",
}


def percentile_of(metric: str) -> float | None:
    """The percentile a `latency-pNN` metric names, or None for any other metric."""
    match = _PERCENTILE.match(metric)
    if not match:
        return None
    value = float(match.group(1))
    return value if 0 < value <= 100 else None


def percentile_name(percentile: float) -> str:
    """`99.9` → `latency-p99.9`, `90.0` → `latency-p90`."""
    return f"latency-p{percentile:g}"


def canonical(name: str) -> str:
    """Write a percentile metric the way it is reported (`latency-p90.0` → `latency-p90`)."""
    prefix, sep, metric = name.partition("/")
    pct = percentile_of(metric)
    return f"{prefix}{sep}{percentile_name(pct)}" if pct is not None else name


def check(name: str) -> str | None:
    """Return None when `name` is a metric isvcperf produces, else what is wrong with it."""
    prefix, _, metric = name.partition("/")
    if not metric or prefix not in PREFIXES:
        return f"unknown metric {name!r}; metric names look like http/latency-p90 (prefix {', '.join(PREFIXES)})"
    if metric in FIXED or percentile_of(metric) is not None:
        return None
    return f"unknown metric {name!r}; known: {', '.join(FIXED)} and latency-pNN (e.g. latency-p99.9)"


def unit(name: str) -> str:
    """Display unit of a metric: latencies are milliseconds."""
    metric = name.partition("/")[2]
    return UNITS.get(metric, "ms")
