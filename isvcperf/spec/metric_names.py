"""The metric vocabulary: Iter8's names, shared by SLOs, metrics and reports.

A name is `<prefix>/<metric>` where prefix is `http` or `grpc`, or `http-<id>` / `grpc-<id>`
for one endpoint of a test with several (`endpoints:`), and metric is one of the fixed names or `latency-pNN` for any percentile NN in (0, 100].
Iter8 spelled gRPC latencies with a slash (`grpc/latency/mean`, `grpc/latency/p90`), so
gRPC metrics are reported that way and both spellings are accepted for either prefix.
Knowing the vocabulary in one place lets the spec reject an SLO on a metric that will
never exist, before any load is sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

PREFIXES = ("http", "grpc")
LLM = "llm"
"""The generative metrics' prefix (protocol openai), beside its http/ ones."""
LLM_DISTRIBUTIONS = ("ttft", "itl", "tpot", "e2e", "input-length", "output-length")
"""llm/<name>-mean|stddev|min|max|pNN: milliseconds, except the lengths (tokens per request)."""
LLM_ORDER = (
    "request-count",
    "error-count",
    "error-rate",
    "ttft",
    "itl",
    "tpot",
    "e2e",
    "request-throughput",
    "output-tokens-per-second",
    "total-tokens-per-second",
    "input-length",
    "output-length",
    "input-tokens",
    "output-tokens",
    "goodput",
    "goodput-ratio",
    "good-count",
    "tokens-from-usage",
    "tokens-from-frames",
)
"""The order a person reads a generative run in, in every table (the reports' metrics, `compare`,
the Generative block): counts as for http/, the token latencies as a stream unfolds (first
token, each gap, per request, the last token), throughput, lengths, goodput, then where the
token counts came from. A distribution's own figures go mean, stddev, min, percentiles
ascending, max, as http/ latencies do."""
LLM_FIXED = tuple(name for name in LLM_ORDER if name not in LLM_DISTRIBUTIONS)
"""llm/ totals; README "Generative models" defines each."""
LLM_TALLIES = ("input-tokens", "output-tokens", "tokens-from-usage", "tokens-from-frames")
"""llm/ totals of whole tokens or requests that are not named `-count`: shown without decimals."""
_LLM_DISTRIBUTION = re.compile(rf"^({'|'.join(LLM_DISTRIBUTIONS)})-(mean|stddev|min|max|p(\d+(?:\.\d+)?))$")
_STATISTIC_RANK = {"mean": 0, "stddev": 1, "min": 2, "max": 4}
"""A distribution's figures (http/ latencies and llm/ ones alike) in reading order: mean, stddev,
min, the percentiles (rank 3, by their value), max."""
FIXED = (
    "request-count",
    "error-count",
    "error-rate",
    "throughput",
    "latency-mean",
    "latency-stddev",
    "latency-min",
    "latency-max",
    "service-time-mean",
    "service-time-stddev",
    "service-time-min",
    "service-time-max",
    "send-lateness-mean",
    "send-lateness-stddev",
    "send-lateness-min",
    "send-lateness-max",
)
"""`service-time-*` and `send-lateness-*` exist in open loop only: service time runs from
really sending to the response, while `latency-*` there runs from the intended send time
(coordinated omission corrected); send lateness is how late the request really went out."""
DEFAULT_PERCENTILES = (50.0, 75.0, 90.0, 95.0, 99.0, 99.9)
_PERCENTILE = re.compile(r"^(?:latency|service-time|send-lateness)-p(\d+(?:\.\d+)?)$")
_LATENCY_KINDS = ("latency", "service-time", "send-lateness")

_FIXED_RANK = {
    "request-count": 0,
    "error-count": 1,
    "error-rate": 2,
    "throughput": 3,
}
"""The order a person reads a run's metrics in; the latencies follow (_STATISTIC_RANK), each
statistic of latency, service time and send lateness side by side, then what this version does
not know."""
_LATENCY_RANK = len(_FIXED_RANK)
_OTHER_RANK = _LATENCY_RANK + 1

UNITS = {
    "request-count": "",
    "error-count": "",
    "error-rate": "",
    "throughput": "req/s",
    "request-throughput": "req/s",
    "output-tokens-per-second": "tok/s",
    "total-tokens-per-second": "tok/s",
    "goodput": "req/s",
    "goodput-ratio": "",
    "good-count": "",
    "input-tokens": "tokens",
    "output-tokens": "tokens",
    "tokens-from-usage": "",
    "tokens-from-frames": "",
}


def protocol_prefix(protocol: str) -> str:
    """The metric prefix of a target protocol: `grpc` for gRPC, `http` for everything else."""
    return "grpc" if protocol == "grpc-v2" else "http"


def split_prefix(prefix: str) -> tuple[str, str]:
    """`http-canary` → ("http", "canary"); `grpc` → ("grpc", "")."""
    family, _, endpoint = prefix.partition("-")
    return family, endpoint


def endpoint_prefix(family: str, endpoint: str) -> str:
    """The prefix of one endpoint's metrics (`http-canary`), or the family's for the run's totals."""
    return f"{family}-{endpoint}" if endpoint else family


def generic(metric: str) -> str:
    """A metric without its prefix in the dash spelling: `latency/p90` → `latency-p90`."""
    for kind in _LATENCY_KINDS:
        if metric.startswith(f"{kind}/"):
            return f"{kind}-{metric[len(kind) + 1:]}"
    return metric


def full_name(prefix: str, metric: str) -> str:
    """The reported name of `metric` under `prefix`: `http/latency-p90`, `grpc/latency/p90`."""
    metric = generic(metric)
    if prefix == "grpc" or prefix.startswith("grpc-"):
        for kind in _LATENCY_KINDS:
            if metric.startswith(f"{kind}-"):
                return f"{prefix}/{kind}/{metric[len(kind) + 1:]}"
    return f"{prefix}/{metric}"


def percentile_of(metric: str) -> float | None:
    """The percentile a `latency-pNN` (or `latency/pNN`) metric names, or None for any other metric."""
    match = _PERCENTILE.match(generic(metric))
    if not match:
        return None
    value = float(match.group(1))
    return value if 0 < value <= 100 else None


def percentile_name(percentile: float, kind: str = "latency") -> str:
    """`99.9` → `latency-p99.9`, `90.0` → `latency-p90` (or `service-time-p90` for that kind)."""
    return f"{kind}-p{percentile:g}"


def canonical(name: str) -> str:
    """Write a metric the way it is reported (`http/latency-p90.0` → `http/latency-p90`,
    `grpc/latency-p97.5` → `grpc/latency/p97.5`)."""
    prefix, sep, metric = name.partition("/")
    if not sep:
        return name
    if prefix == LLM:
        pct = llm_percentile_of(metric)
        return f"{prefix}/{metric.rsplit('-p', 1)[0]}-p{pct:g}" if pct is not None else name
    metric = generic(metric)
    pct = percentile_of(metric)
    if pct is not None:
        metric = percentile_name(pct, metric.rsplit("-p", 1)[0])
    return full_name(prefix, metric)


def check(name: str, endpoints: Iterable[str] = ()) -> str | None:
    """Return None when `name` is a metric isvcperf produces, else what is wrong with it.

    `endpoints` are the ids of the test's endpoints, whose metrics are `http-<id>/...`.
    """
    prefix, _, metric = name.partition("/")
    if prefix == LLM:
        return check_llm(name, metric)
    family, endpoint = split_prefix(prefix)
    if not metric or family not in PREFIXES:
        return (f"unknown metric {name!r}; metric names look like http/latency-p90 or grpc/latency/p90 "
                f"(prefix {', '.join(PREFIXES)}, or http-<endpoint id>; llm/ for protocol openai)")
    ids = list(endpoints)
    if endpoint and endpoint not in ids:
        known = f"endpoint ids: {', '.join(ids)}" if ids else "this test has no endpoints: list"
        return f"unknown metric {name!r}: no endpoint {endpoint!r} ({known})"
    if generic(metric) in FIXED or percentile_of(metric) is not None:
        return None
    return f"unknown metric {name!r}; known: {', '.join(FIXED)} and latency-pNN (e.g. latency-p99.9)"


def check_llm(name: str, metric: str) -> str | None:
    """None when `metric` is a generative metric (llm/ttft-p99, llm/goodput-ratio, ...), else what is wrong."""
    if metric in LLM_FIXED:
        return None
    match = _LLM_DISTRIBUTION.match(metric)
    if match and (match.group(3) is None or 0 < float(match.group(3)) <= 100):
        return None
    return (f"unknown metric {name!r}; llm/ metrics: {', '.join(LLM_FIXED)}, and "
            f"{'|'.join(LLM_DISTRIBUTIONS)} with -mean|-stddev|-min|-max|-pNN (e.g. llm/ttft-p99)")


def llm_percentile_of(metric: str) -> float | None:
    """The percentile an llm/ distribution metric names (`ttft-p99` → 99.0), else None."""
    match = _LLM_DISTRIBUTION.match(metric)
    return float(match.group(3)) if match and match.group(3) is not None else None


def unit(name: str) -> str:
    """Display unit of a metric: latencies are milliseconds, token lengths are tokens."""
    metric = name.partition("/")[2]
    if metric.startswith(("input-length-", "output-length-")):
        return "tokens"
    return UNITS.get(metric, "ms")


def order(name: str) -> tuple[Any, ...]:
    """Sort key: by prefix (known ones first), then counts, rate, throughput, then mean, stddev,
    min, percentiles ascending and max, each with latency, service time and send lateness side
    by side; llm/ metrics in LLM_ORDER; metrics this version does not know last.

    Part of the vocabulary, not of a report: a comparison lists its deltas in this order too.
    """
    prefix, _, metric = name.partition("/")
    if prefix == LLM:
        return (len(PREFIXES), prefix, _llm_rank(metric), metric)
    metric = generic(metric)
    prefix_rank = PREFIXES.index(prefix) if prefix in PREFIXES else len(PREFIXES)
    kind, _, statistic = metric.rpartition("-")
    if kind in _LATENCY_KINDS and (statistic in _STATISTIC_RANK or percentile_of(metric) is not None):
        percentile = percentile_of(metric)
        rank: tuple[float, ...] = (_LATENCY_RANK, _STATISTIC_RANK.get(statistic, 3), percentile or 0.0,
                                   _LATENCY_KINDS.index(kind))
    else:
        rank = (_FIXED_RANK.get(metric, _OTHER_RANK),)
    return (prefix_rank, prefix, rank, metric)


def _llm_rank(metric: str) -> tuple[float, ...]:
    """(place in LLM_ORDER, the statistic's rank, the percentile) of an llm/ metric; unknown ones last."""
    match = _LLM_DISTRIBUTION.match(metric)
    if match:
        pct = match.group(3)
        statistic = _STATISTIC_RANK.get(match.group(2), 3)
        return (LLM_ORDER.index(match.group(1)), statistic, float(pct) if pct is not None else 0.0)
    return (LLM_ORDER.index(metric) if metric in LLM_ORDER else len(LLM_ORDER), 0, 0.0)
