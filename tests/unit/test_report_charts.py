"""The HTML report's charts: what is charted from which sections, and the page's structure."""

from __future__ import annotations

import dataclasses
import itertools
import json
import re

from synthetic_results import HOSTILE, histogram_of, staged

from isvcperf.loadgen.recorder import decode_histogram
from isvcperf.report import render
from isvcperf.report.charts import MAX_TIMELINE_POINTS, charts, downsample
from isvcperf.results.result import Result, TimelinePoint

ALL_CHARTS = [
    "latency-distribution",
    "percentile-spectrum",
    "throughput-over-time",
    "latency-over-time",
    "errors-over-time",
    "users-over-time",
    "stages",
    "endpoints",
]


def by_id(result: Result) -> dict[str, dict]:
    return {chart["id"]: chart for chart in charts(result)}


def chart_data(html: str) -> list[dict]:
    match = re.search(r'<script type="application/json" id="isvcperf-charts">(.*?)</script>', html, re.DOTALL)
    assert match, "no chart data in the page"
    return json.loads(match.group(1))


def test_a_full_result_has_every_chart_in_order() -> None:
    assert [chart["id"] for chart in charts(staged())] == ALL_CHARTS


def test_histogram_bins_hold_every_request_on_a_log_axis() -> None:
    result = staged()
    chart = by_id(result)["latency-distribution"]
    edges, counts = chart["data"]
    histogram = decode_histogram(result.histogram)
    assert sum(counts[:-1]) == histogram.get_total_count()
    assert chart["x"]["log"] is True
    ratios = [b / a for a, b in itertools.pairwise(edges)]
    assert max(ratios) / min(ratios) < 1 + 1e-4, "bins are evenly spaced on a log scale"
    assert edges[0] == histogram.get_min_value() / 1000
    assert abs(edges[-1] - histogram.get_max_value() / 1000) < 1e-6 * edges[-1]


def test_percentile_spectrum_runs_from_p0_to_p99_99_and_never_falls() -> None:
    result = staged()
    xs, values = by_id(result)["percentile-spectrum"]["data"]
    assert xs[0] == 1 and abs(xs[-1] - 10_000) < 1e-6
    assert all(b >= a for a, b in itertools.pairwise(values))
    # p90 sits at x = 10 and matches the metric computed from the same histogram
    p90 = values[xs.index(min(xs, key=lambda x: abs(x - 10)))]
    assert abs(p90 - result.metrics["http/latency-p90"]) < 0.01 * p90


def test_timeline_charts_follow_the_timeline_and_mark_stages() -> None:
    result = staged()
    found = by_id(result)
    t = [p.t for p in result.timeline]
    assert found["throughput-over-time"]["data"] == [t, [p.throughput for p in result.timeline]]
    assert [s["label"] for s in found["latency-over-time"]["series"]] == ["p50", "p90", "p99"]
    assert found["errors-over-time"]["data"][1] == [p.errors for p in result.timeline]
    assert found["users-over-time"]["data"][1][-1] == 40
    assert found["throughput-over-time"]["marks"] == [{"x": 21.0, "label": "stage 1"}, {"x": 41.0, "label": "stage 2"}]


def test_stage_and_endpoint_charts() -> None:
    found = by_id(staged())
    stages = found["stages"]
    assert stages["data"][0] == [0, 1, 2]
    assert [s["label"] for s in stages["series"]] == ["p50", "p90", "p99", "throughput (req/s)"]
    assert stages["series"][-1]["scale"] == "y2"
    endpoints = found["endpoints"]
    assert [s["label"] for s in endpoints["series"]] == [
        "http latency", "http service-time", "http-setosa latency", "http-virginica latency"]
    assert endpoints["data"][0] == [2.0, 10.0, 100.0, 1000.0]  # p50 p90 p99 p99.9 as 1/(1-p)
    assert endpoints["data"][2][-1] is None  # no service-time p99.9


def test_absent_sections_give_no_chart_and_no_script() -> None:
    empty = Result(name="bare", status="completed", metrics={"http/request-count": 0.0})
    assert charts(empty) == []
    html = render(empty, "html")
    assert "<script" not in html and "<h2>Charts</h2>" not in html

    only_histogram = dataclasses.replace(staged(), timeline=[], stages=[], metrics={})
    assert [c["id"] for c in charts(only_histogram)] == ["latency-distribution", "percentile-spectrum"]

    quiet = dataclasses.replace(staged(), timeline=[dataclasses.replace(p, errors=0, stage=None) for p in staged().timeline],
                                stages=staged().stages[:1])
    ids = [c["id"] for c in charts(quiet)]
    assert "errors-over-time" not in ids and "stages" not in ids
    assert "marks" not in by_id(quiet)["throughput-over-time"]


def test_one_request_makes_a_one_bin_histogram() -> None:
    result = Result(name="one", status="completed", histogram=histogram_of([3.0]))
    edges, counts = by_id(result)["latency-distribution"]["data"]
    assert counts == [1, 1] and len(edges) == 2


def test_long_timelines_are_merged_to_a_bounded_size() -> None:
    day = [TimelinePoint(t=float(i + 1), requests=10, errors=i % 2, throughput=10.0, p50=1.0, p90=2.0,
                         p99=3.0 + (i == 5000), users=4) for i in range(86_400)]
    merged, width = downsample(day)
    assert len(merged) <= MAX_TIMELINE_POINTS and width == 58
    assert sum(p.requests for p in merged) == 864_000
    assert sum(p.errors for p in merged) == 43_200
    assert max(p.p99 for p in merged if p.p99 is not None) == 4.0  # a spike survives the merge
    html = render(dataclasses.replace(staged(), timeline=day), "html")
    assert len(html.encode()) < 2_000_000


def test_html_page_structure() -> None:
    result = staged()
    html = render(result, "html")
    data = chart_data(html)
    assert [c["id"] for c in data] == ALL_CHARTS
    figures = re.findall(r'<figure class="chart" data-chart="([^"]+)">', html)
    assert figures == ALL_CHARTS
    # offline: the chart library is inlined, nothing is fetched
    assert not re.search(r"<(script|link|img)\b[^>]*\b(src|href)=", html)
    assert not re.search(r"@import|url\(\s*['\"]?https?:", html)
    assert html.count("<script") == 3
    # the SLO table carries margins, the stage table every stage
    slo_rows = re.findall(r"<tr>\s*<td>(http/[^<]+)</td>.*?</td>\s*<td class=\"num[^\"]*\">([^<]*)</td>\s*<td class=\"num[^\"]*\">([^<]*)</td>",
                          html, re.DOTALL)
    assert [(m, margin) for m, _, margin in slo_rows][:2] == [
        ("http/latency-p90", "+2.561 ms (+26%)"), ("http/error-rate", "-0.003975 (-398%)")]
    stages = html.split('<table class="stages">', 1)[1].split("</table>", 1)[0]
    assert stages.count("<tr><td") == 3
    assert '<details>\n  <summary>Run configuration' in html


def test_hostile_server_text_is_escaped_next_to_the_charts() -> None:
    html = render(staged(), "html")
    assert HOSTILE not in html
    assert "<img" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html
    # and a label in a result file cannot close the data block
    evil = dataclasses.replace(staged(), metrics={**staged().metrics, "</script><b>x/latency-p50": 1.0})
    page = render(evil, "html")
    assert "</script><b>" not in page
    labels = [s["label"] for s in chart_data(page)[-1]["series"]]
    assert "? script??b?x/latency" in labels
    assert not any(set(label) & set("<>&\"'") for label in labels)
