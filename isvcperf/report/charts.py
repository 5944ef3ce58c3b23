"""Chart data for the HTML report, computed from a Result.

Python decides what is charted and computes every number (histogram bins, the percentile
spectrum, downsampled time series); the page only draws it with the vendored uPlot
(isvcperf/report/vendor/, 50 KB, MIT, no network). A chart is produced only when the
Result holds its data: no histogram, no timeline, one stage or one endpoint means no
chart for it rather than an empty placeholder.

Every chart is `{"id", "title", "note", "x": {...}, "y": {...}, "series": [...], "data": [[x...], [y...], ...]}`,
uPlot's own columnar layout, so the page's script stays small and has no logic of its own
beyond axis formatting.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any, TypeVar

from isvcperf.loadgen.recorder import decode_histogram
from isvcperf.results.result import Result, StageResult, TimelinePoint
from isvcperf.spec import metric_names

UPLOT_VERSION = "1.6.32"
HISTOGRAM_BINS = 60
SPECTRUM_POINTS_PER_DECADE = 24
SPECTRUM_MAX_NINES = 4
"""The spectrum ends at p99.99 (1/(1-p) = 10^4)."""
MAX_TIMELINE_POINTS = 1500
"""A day-long soak at 1 s intervals is 86 400 points; more than this are merged so the file stays small."""
_SAFE_LABEL = re.compile(r"[^A-Za-z0-9 ._/%()-]")
_COLORS = ("#0969da", "#bc4c00", "#8250df", "#1a7f37", "#cf222e", "#6e7781", "#116329", "#953800")

Chart = dict[str, Any]
T = TypeVar("T")


def charts(result: Result) -> list[Chart]:
    """Every chart the Result has data for, in the order the report shows them."""
    found = [latency_distribution(result), percentile_spectrum(result)]
    found += timeline_charts(result.timeline)
    found += [stage_chart(result.stages), endpoint_chart(result.metrics)]
    return [found_chart for found_chart in found if found_chart is not None]


def latency_distribution(result: Result) -> Chart | None:
    """Requests per latency bin, bins evenly spaced on a log scale from the fastest to the slowest."""
    histogram = decode_histogram(result.histogram)
    if not histogram.get_total_count():
        return None
    edges, (counts,) = log_bins([histogram])
    # A stepped line needs the closing edge: the last bin's count repeated at its upper edge.
    return chart(
        "latency-distribution",
        "Latency distribution",
        f"{histogram.get_total_count()} measured requests in {len(counts)} bins, logarithmic latency axis",
        x={"label": "latency (ms)", "log": True, "format": "ms"},
        y={"label": "requests"},
        series=[{"label": "requests", "kind": "step", "fill": True}],
        data=[[ms(edge) for edge in edges], [*counts, counts[-1]]],
    )


def log_bins(histograms: list[Any]) -> tuple[list[float], list[list[int]]]:
    """Bin edges evenly spaced on a log scale over every histogram's range (as recorded), and
    each histogram's count per bin. Values within 5% of each other (one request, a constant
    server) make one bin, not 60 slivers."""
    filled = [h for h in histograms if h.get_total_count()]
    low = min(h.get_min_value() for h in filled)
    high = max(h.get_max_value() for h in filled)
    low = max(low, 1)
    bins = HISTOGRAM_BINS if high > low * 1.05 else 1
    ratio = (high / low) ** (1 / bins) if bins > 1 else max(high / low, 1.01)
    edges = [low * ratio**i for i in range(bins + 1)]
    all_counts = []
    for histogram in histograms:
        counts = [0] * bins
        for item in histogram.get_recorded_iterator():
            value = max(item.value_iterated_to, low)
            index = min(bins - 1, max(0, int(math.log(value / low, ratio)))) if bins > 1 else 0
            counts[index] += item.count_added_in_this_iter_step
        all_counts.append(counts)
    return edges, all_counts


def percentile_spectrum(result: Result) -> Chart | None:
    """Latency at every percentile from p0 to p99.99, x = 1/(1-p) on a log axis (HdrHistogram's plot)."""
    histogram = decode_histogram(result.histogram)
    if not histogram.get_total_count():
        return None
    xs, (values,) = spectrum([histogram])
    return chart(
        "percentile-spectrum",
        "Latency by percentile",
        "p0 to p99.99; each step right is one more nine",
        x={"label": "percentile", "log": True, "format": "percentile"},
        y={"label": "latency (ms)", "format": "ms"},
        series=[{"label": "latency", "kind": "line"}],
        data=[xs, [ms(v) for v in values]],
    )


def spectrum(histograms: list[Any]) -> tuple[list[float], list[list[float]]]:
    """x = 1/(1-p) for p0 to p99.99 (SPECTRUM_POINTS_PER_DECADE per nine) and each histogram's
    value (as recorded) at those percentiles."""
    steps = SPECTRUM_MAX_NINES * SPECTRUM_POINTS_PER_DECADE
    xs = [10 ** (i / SPECTRUM_POINTS_PER_DECADE) for i in range(steps + 1)]
    percentiles = [100.0 * (1 - 1 / x) for x in xs]
    columns = []
    for histogram in histograms:
        values = histogram.get_percentile_to_value_dict(percentiles)
        columns.append([values.get(p, 0) for p in percentiles])
    return xs, columns


def timeline_charts(points: list[TimelinePoint]) -> list[Chart | None]:
    """Throughput, latency percentiles, errors and users over the measured window."""
    if len(points) < 2:
        return []
    merged, width = downsample(points)
    t = [p.t for p in merged]
    suffix = f"; every {width} intervals merged" if width > 1 else ""
    x = {"label": "seconds into the measured window", "format": "seconds"}
    charts_: list[Chart | None] = [
        chart("throughput-over-time", "Throughput over time", "successful requests per second" + suffix, x=x,
               y={"label": "req/s"}, series=[{"label": "throughput", "kind": "line"}],
               data=[t, [p.throughput for p in merged]]),
    ]
    latency = [(name, [getattr(p, name) for p in merged]) for name in ("p50", "p90", "p99")]
    latency = [(name, values) for name, values in latency if any(v is not None for v in values)]
    if latency:
        note = "per interval" + ("; the highest of the merged intervals" if width > 1 else "")
        charts_.append(chart("latency-over-time", "Latency percentiles over time", note, x=x,
                              y={"label": "latency (ms)", "format": "ms"},
                              series=[{"label": name, "kind": "line"} for name, _ in latency],
                              data=[t, *(values for _, values in latency)]))
    if any(p.errors for p in merged):
        charts_.append(chart("errors-over-time", "Errors over time", "failed requests per interval" + suffix, x=x,
                              y={"label": "errors"}, series=[{"label": "errors", "kind": "step", "fill": True}],
                              data=[t, [p.errors for p in merged]], colors=("#cf222e",)))
    if any(p.users for p in merged):
        charts_.append(chart("users-over-time", "Users over time", "concurrent users at the end of each interval",
                              x=x, y={"label": "users"}, series=[{"label": "users", "kind": "step"}],
                              data=[t, [p.users for p in merged]], colors=("#6e7781",)))
    stages = sorted({p.stage for p in points if p.stage is not None})
    if len(stages) > 1:
        bounds = [next(p.t for p in points if p.stage == s) for s in stages[1:]]
        for drawn in charts_:
            if drawn is not None:
                drawn["marks"] = [{"x": b, "label": f"stage {s}"} for b, s in zip(bounds, stages[1:], strict=True)]
    return charts_


def downsample(points: list[TimelinePoint]) -> tuple[list[TimelinePoint], int]:
    """At most MAX_TIMELINE_POINTS points: consecutive intervals merged, counts summed,
    throughput averaged, percentiles the highest (a merged p99 cannot be recomputed)."""
    groups, width = chunks(points)
    if width == 1:
        return points, 1
    merged = []
    for group in groups:
        merged.append(
            TimelinePoint(
                t=group[-1].t,
                requests=sum(p.requests for p in group),
                errors=sum(p.errors for p in group),
                throughput=sum(p.throughput for p in group) / len(group),
                p50=_highest(p.p50 for p in group),
                p90=_highest(p.p90 for p in group),
                p99=_highest(p.p99 for p in group),
                users=group[-1].users,
                stage=group[-1].stage,
            )
        )
    return merged, width


def chunks(items: Sequence[T]) -> tuple[list[Sequence[T]], int]:
    """Consecutive items in groups of `width`, the narrowest that leaves at most MAX_TIMELINE_POINTS groups."""
    width = max(1, math.ceil(len(items) / MAX_TIMELINE_POINTS))
    return [items[start : start + width] for start in range(0, len(items), width)], width


def stage_chart(stages: list[StageResult]) -> Chart | None:
    """Throughput and latency percentiles of each load stage side by side."""
    if len(stages) < 2:
        return None
    series, data = [], []
    for prefix, family in _families({k: v for s in stages for k, v in s.metrics.items()})[:1]:
        for pct in (50.0, 90.0, 99.0):
            name = f"{prefix}/{family}-p{pct:g}"
            values = [s.metrics.get(name) for s in stages]
            if any(v is not None for v in values):
                series.append({"label": f"p{pct:g}", "kind": "points-line"})
                data.append(values)
    throughput = [s.metrics.get("http/throughput") for s in stages]
    if any(v is not None for v in throughput):
        series.append({"label": "throughput (req/s)", "kind": "points-line", "scale": "y2"})
        data.append(throughput)
    if not series:
        return None
    return chart("stages", "Per stage", "each load stage's own latency percentiles and throughput",
                  x={"label": "stage", "format": "integer"}, y={"label": "latency (ms)", "format": "ms"},
                  y2={"label": "req/s"} if throughput and any(v is not None for v in throughput) else None,
                  series=series, data=[[s.index for s in stages], *data])


def endpoint_chart(metrics: dict[str, float]) -> Chart | None:
    """Latency percentiles of each endpoint (metric prefix) and kind (latency, service time)
    on one percentile axis, shown when there are at least two to compare."""
    families = _families(metrics)
    if len(families) < 2:
        return None
    percentiles = sorted({
        pct
        for name in metrics
        for pct in [_family_percentile(name)]
        if pct is not None and pct < 100
    })
    if len(percentiles) < 2:
        return None
    xs = [round(1 / (1 - p / 100), 6) for p in percentiles]
    data = [[metrics.get(f"{prefix}/{family}-p{p:g}") for p in percentiles] for prefix, family in families]
    return chart("endpoints", "Latency by endpoint", "each endpoint's latency percentiles (and service time where measured)",
                  x={"label": "percentile", "log": True, "format": "percentile"},
                  y={"label": "latency (ms)", "format": "ms"},
                  series=[{"label": _label(f"{prefix} {family}"), "kind": "points-line"} for prefix, family in families],
                  data=[xs, *data])


def _families(metrics: dict[str, float]) -> list[tuple[str, str]]:
    """(prefix, family) pairs with percentile metrics, e.g. ("http", "latency"), ("http", "service-time")."""
    found = set()
    for name in metrics:
        prefix, _, metric = name.partition("/")
        family, sep, pct = metric.rpartition("-p")
        if sep and family and metric_names.percentile_of(f"latency-p{pct}") is not None:
            found.add((prefix, family))
    known = metric_names.PREFIXES
    return sorted(found, key=lambda pf: (pf[0] not in known, pf[0], pf[1] != "latency", pf[1]))


def _family_percentile(name: str) -> float | None:
    metric = name.partition("/")[2]
    family, sep, pct = metric.rpartition("-p")
    return metric_names.percentile_of(f"latency-p{pct}") if sep and family else None


def chart(chart_id: str, title: str, note: str, *, x: dict[str, Any], y: dict[str, Any], series: list[dict[str, Any]],
          data: list[list[Any]], y2: dict[str, Any] | None = None, colors: tuple[str, ...] = _COLORS,
          group: str = "run") -> Chart:
    """One chart description; `group` is the report section that shows it (`run`, or
    `generative` for the token-level charts of report.llm_charts)."""
    for i, entry in enumerate(series):
        entry.setdefault("color", colors[i % len(colors)])
    described: Chart = {"id": chart_id, "title": title, "note": note, "x": x, "y": y, "series": series, "data": data,
                        "group": group}
    if y2:
        described["y2"] = y2
    return described


def ms(us: float) -> float:
    """Microseconds (the histograms' unit) to milliseconds, rounded for a small page."""
    return round(us / 1000, 6)


def _highest(values: Any) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _label(text: str) -> str:
    """Series labels come from metric names in a result file anyone could have written: keep them plain."""
    return _SAFE_LABEL.sub("?", text)
