"""A metric's value and an SLO's state written as a person reads them.

One rule for every place a figure is shown — the reports, `isvcperf compare`, the web UI's
SLO panel and the reason a run stopped early — so `http/latency-p90` reads `7.439 ms`
everywhere. It lives beside the results, not in `report/`, because the run's own monitor
(domain code) words its abort reason and UI rows with it too.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from isvcperf.results.result import SLOVerdict
from isvcperf.spec import metric_names


class SLORow(NamedTuple):
    metric: str
    limit: str
    value: str
    margin: str
    """How far the value is inside (+) or beyond (-) its nearest limit: `+2.500 ms (+50%)`."""
    satisfied: bool


def format_measure(value: float) -> str:
    """Latencies (ms) and rates with about four significant digits.

    Sub-millisecond precision matters for fast models (a 0.8 ms p50) but is noise on a
    2-second tail, so the decimals shrink as the value grows.
    """
    size = abs(value)
    decimals = 3 if size < 10 else 2 if size < 100 else 1 if size < 1000 else 0
    return f"{value:.{decimals}f}"


def format_metric(name: str, value: float | None) -> str:
    """A metric's value for display, without its unit; `missing` when it was not measured."""
    if value is None:
        return "missing"
    if not math.isfinite(value):
        return str(value)
    metric = name.partition("/")[2]
    if metric.endswith("-count") or metric in metric_names.LLM_TALLIES:
        return str(round(value))
    if metric == "error-rate":
        # A fraction, like the SLO limits written against it (upper: 0.01), to four significant
        # digits and never in exponent form: 1/61 reads 0.01639, one error in 10^5 0.00001.
        return f"{float(f'{value:.4g}'):.12f}".rstrip("0").rstrip(".")
    return format_measure(value)


def with_unit(text: str, unit: str) -> str:
    return f"{text} {unit}" if unit else text


def slo_row(verdict: SLOVerdict) -> SLORow:
    """One SLO's limit, value and margin, each with the metric's unit."""
    unit = metric_names.unit(verdict.metric)
    limits = []
    if verdict.lower is not None:
        limits.append(f"≥ {with_unit(f'{verdict.lower:g}', unit)}")
    if verdict.upper is not None:
        limits.append(f"≤ {with_unit(f'{verdict.upper:g}', unit)}")
    shown = format_metric(verdict.metric, verdict.value)
    value = shown if verdict.value is None else with_unit(shown, unit)
    return SLORow(verdict.metric, " and ".join(limits), value, _margin(verdict, unit), verdict.satisfied)


def _margin(verdict: SLOVerdict, unit: str) -> str:
    """The distance to the nearest limit, positive inside it: `+2.500 ms (+50%)`, `-112.3 ms (-22%)`."""
    if verdict.value is None or not math.isfinite(verdict.value):
        return ""
    gaps = [(verdict.upper - verdict.value, verdict.upper)] if verdict.upper is not None else []
    if verdict.lower is not None:
        gaps.append((verdict.value - verdict.lower, verdict.lower))
    if not gaps:
        return ""
    gap, limit = min(gaps)
    text = with_unit(("+" if gap >= 0 else "") + format_metric(verdict.metric, gap), unit)
    return f"{text} ({gap / abs(limit):+.0%})" if limit else text
