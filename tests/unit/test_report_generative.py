"""The reports of a generative (protocol openai) result: the Generative charts and their numbers,
the text block, the section shown only with an `llm` block, and llm/ SLOs in Markdown and JUnit."""

from __future__ import annotations

import dataclasses
import itertools
import re
import xml.etree.ElementTree as ET

from synthetic_llm import OUTPUT_TOKENS, REQUESTS, generative
from synthetic_results import staged
from test_report_charts import chart_data

from isvcperf.loadgen.recorder import decode_histogram
from isvcperf.report import render
from isvcperf.report.llm_charts import llm_charts, merge_rows
from isvcperf.spec.metric_names import LLM_ORDER

GENERATIVE_CHARTS = ["llm-ttft-distribution", "llm-ttft-spectrum", "llm-itl-tpot-distribution", "llm-itl-tpot-spectrum",
                     "llm-tokens-over-time", "llm-goodput-over-time", "llm-lengths"]


def by_id() -> dict[str, dict]:
    return {chart["id"]: chart for chart in llm_charts(generative())}


def test_every_generative_chart_in_order_and_none_without_an_llm_block() -> None:
    assert [chart["id"] for chart in llm_charts(generative())] == GENERATIVE_CHARTS
    assert all(chart["group"] == "generative" for chart in llm_charts(generative()))
    assert llm_charts(staged()) == []


def test_ttft_histogram_holds_every_request_and_its_spectrum_matches_the_metrics() -> None:
    result = generative()
    found = by_id()
    edges, counts = found["llm-ttft-distribution"]["data"]
    assert sum(counts[:-1]) == REQUESTS and len(edges) == len(counts)
    ttft = decode_histogram(result.llm["histograms"]["ttft"])
    assert edges[0] == ttft.get_min_value() / 1000
    xs, values = found["llm-ttft-spectrum"]["data"]
    assert all(b >= a for a, b in itertools.pairwise(values))
    p90 = values[xs.index(min(xs, key=lambda x: abs(x - 10)))]
    assert abs(p90 - result.metrics["llm/ttft-p90"]) < 0.01 * p90


def test_itl_and_tpot_share_bins_as_percentages_of_their_own_totals() -> None:
    chart = by_id()["llm-itl-tpot-distribution"]
    assert [s["label"] for s in chart["series"]] == ["ITL (every gap)", "TPOT (per request)"]
    _, itl, tpot = chart["data"]
    assert abs(sum(itl[:-1]) - 100) < 0.01 and abs(sum(tpot[:-1]) - 100) < 0.01
    assert f"{REQUESTS * (OUTPUT_TOKENS - 1)} ITL gaps, {REQUESTS} TPOT requests" in chart["note"]
    spectrum = by_id()["llm-itl-tpot-spectrum"]
    assert len(spectrum["data"]) == 3 and spectrum["data"][1][-1] >= spectrum["data"][2][-1]  # ITL's tail is wider


def test_tokens_and_goodput_over_time_follow_the_llm_timeline() -> None:
    result = generative()
    timeline = result.llm["timeline"]
    found = by_id()
    assert found["llm-tokens-over-time"]["data"] == [[r["t"] for r in timeline],
                                                     [r["outputTokensPerSecond"] for r in timeline]]
    _, goodput, good = found["llm-goodput-over-time"]["data"]
    assert goodput == [r["goodput"] for r in timeline]
    assert good[0] > 90 and good[-1] < 50  # TTFT triples after 20 s: the good share falls
    assert found["llm-goodput-over-time"]["series"][1]["scale"] == "y2"


def test_lengths_chart_has_input_and_output() -> None:
    chart = by_id()["llm-lengths"]
    assert [s["label"] for s in chart["series"]] == ["input", "output"]
    _, inputs, outputs = chart["data"]
    assert sum(inputs[:-1]) == sum(outputs[:-1]) == REQUESTS


def test_a_missing_tpot_leaves_its_series_out() -> None:
    result = generative()
    no_tpot = dataclasses.replace(result, llm={**result.llm, "histograms": {**result.llm["histograms"], "tpot": ""}})
    chart = {c["id"]: c for c in llm_charts(no_tpot)}["llm-itl-tpot-distribution"]
    assert [s["label"] for s in chart["series"]] == ["ITL (every gap)"]


def test_long_llm_timelines_are_merged() -> None:
    rows = [{"t": float(i + 1), "requests": 2, "good": 1, "outputTokens": 10, "outputTokensPerSecond": 10.0,
             "goodput": 1.0} for i in range(10_000)]
    merged, width = merge_rows(rows)
    assert width == 7 and len(merged) <= 1500
    assert sum(r["requests"] for r in merged) == 20_000 and merged[0]["goodput"] == 1.0


def test_text_report_has_the_generative_block() -> None:
    result = generative()
    text = render(result, "text")
    block = text.split("Generative (llm/ metrics", 1)[1].split("\nMetrics\n", 1)[0]
    ttft = re.search(r"^TTFT .*$", block, re.MULTILINE)
    assert ttft and ttft.group(0).split()[-4:] == [
        f"{result.metrics[f'llm/ttft-{s}']:.{d}f}" for s, d in (("p50", 2), ("p90", 1), ("p99", 1), ("mean", 2))]
    for measure in ("TPOT", "ITL", "E2E"):
        assert re.search(rf"^{measure} ", block, re.MULTILINE), measure
    assert "Output tokens/s  1280 " in block
    ratio = result.metrics["llm/goodput-ratio"]
    assert f"{100 * ratio:.1f}% of requests good (within TTFT ≤ 100ms)" in block
    assert "600 from the server's usage" in block
    assert "input 32–96" in block and "output 64 (mean 64.00)" in block
    assert max(len(line) for line in block.splitlines()) <= 100
    assert "Generative" not in render(staged(), "text")


def _llm_rows(report: str, row: str) -> list[str]:
    """The llm/ metric names of a report's metrics table, in the order it shows them."""
    return re.findall(row, report, re.MULTILINE)


def test_every_report_lists_llm_metrics_in_the_vocabularys_order() -> None:
    """ttft, itl, tpot, e2e, throughput, lengths, goodput: not alphabetical (e2e, good-count, ...),
    each distribution mean, stddev, min, percentiles ascending, max, as http/ latencies."""
    result = generative()
    text = render(result, "text").split("\nMetrics\n", 1)[1]
    shown = {
        "text": _llm_rows(text, r"^llm/(\S+) "),
        "markdown": _llm_rows(render(result, "markdown"), r"^\| `llm/([^`]+)` \| [^|]+ \| [^|]* \|$"),
        "html": _llm_rows(render(result, "html"), r"<tr><td>llm/([^<]+)</td>"),
    }
    names = shown["text"]
    assert len(names) == len([n for n in result.metrics if n.startswith("llm/")])
    assert shown["markdown"] == names and shown["html"] == names
    families = list(dict.fromkeys(re.sub(r"-(mean|stddev|min|max|p[\d.]+)$", "", n) for n in names))
    assert families == [n for n in LLM_ORDER if f"llm/{n}" in result.metrics or any(
        m.startswith(f"llm/{n}-") for m in result.metrics)]
    assert families[:7] == ["request-count", "error-count", "error-rate", "ttft", "itl", "tpot", "e2e"]
    assert [n for n in names if n.startswith("ttft-")] == [
        "ttft-mean", "ttft-stddev", "ttft-min", "ttft-p50", "ttft-p90", "ttft-p99", "ttft-max"]
    block = render(result, "text").split("Generative (llm/ metrics", 1)[1].split("\nMetrics\n", 1)[0]
    assert re.findall(r"^(TTFT|ITL|TPOT|E2E) ", block, re.MULTILINE) == ["TTFT", "ITL", "TPOT", "E2E"]
    tallies = {n: re.search(rf"^llm/{n} +(\S+)", text, re.MULTILINE).group(1)  # type: ignore[union-attr]
               for n in ("tokens-from-usage", "tokens-from-frames", "input-tokens", "good-count")}
    assert tallies == {"tokens-from-usage": "600", "tokens-from-frames": "0", "input-tokens": "38400",
                       "good-count": str(round(result.metrics["llm/good-count"]))}  # whole numbers: not 600.0, 0.000


def test_frames_counted_tokens_are_said_and_unasked_percentiles_are_dashes() -> None:
    result = generative()
    metrics = {k: v for k, v in result.metrics.items() if not k.endswith("-p99")}
    metrics.update({"llm/tokens-from-usage": 0.0, "llm/tokens-from-frames": 600.0})
    text = render(dataclasses.replace(result, metrics=metrics, spec={}), "text")
    assert "600 counted from content frames (the server sent no usage)" in text
    assert re.search(r"^TPOT .* -\s+\S+$", text, re.MULTILINE)
    assert "no goodput limits set" in text


def test_html_has_the_generative_section_before_the_run_charts() -> None:
    html = render(generative(), "html")
    assert '<h2 id="generative">Generative</h2>' in html
    section = html.split('<h2 id="generative">', 1)[1].split("<h2>", 1)[0]
    assert re.findall(r'data-chart="([^"]+)"', section) == GENERATIVE_CHARTS
    assert "<td>TTFT <span" in section
    assert [c["id"] for c in chart_data(html) if c["group"] == "generative"] == GENERATIVE_CHARTS
    assert 'id="generative"' not in render(staged(), "html")


def test_markdown_has_the_generative_block_with_the_text_blocks_figures() -> None:
    result = generative()
    markdown = render(result, "markdown")
    block = markdown.split("**Generative** (`llm/` metrics", 1)[1].split("**Warnings**", 1)[0]
    text = render(result, "text").split("Generative (llm/ metrics", 1)[1].split("\nMetrics\n", 1)[0]
    for measure in ("TTFT", "ITL", "TPOT", "E2E"):
        row = re.search(rf"^\| {measure} \| [^|]+ \| ([^|]+) \| ([^|]+) \| ([^|]+) \| ([^|]+) \|$", block, re.MULTILINE)
        line = re.search(rf"^{measure} .*$", text, re.MULTILINE)
        assert row and line, block
        assert [cell.strip() for cell in row.groups()] == line.group(0).split()[-4:]
    assert f"| TTFT | time to first token | {result.metrics['llm/ttft-p50']:.2f} |" in block
    for label in ("Output tokens/s", "Requests/s", "Goodput", "Token counts", "Lengths"):
        assert re.search(rf"^\| {re.escape(label)} \| \S", block, re.MULTILINE), label
    assert "| Goodput | 15.23 req/s; 76.2% of requests good (within TTFT ≤ 100ms) |" in block
    assert markdown.index("**Generative**") < markdown.index("<summary>Metrics</summary>")
    assert "Generative" not in render(staged(), "markdown")


def test_markdown_and_junit_carry_llm_slos() -> None:
    result = generative()
    markdown = render(result, "markdown")
    assert "| `llm/ttft-p90` | ≤ 500 ms |" in markdown
    assert re.search(r"\| `llm/goodput-ratio` \| ≥ 0\.9 \| 0\.762 \| -0\.138 \(-15%\) \| ❌ \|", markdown)
    suite = ET.fromstring(render(result, "junit"))
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert cases["llm/ttft-p90 ≤ 500 ms"].find("failure") is None
    failure = cases["llm/goodput-ratio ≥ 0.9"].find("failure")
    assert failure is not None and failure.get("message", "").startswith("llm/goodput-ratio = 0.762, limit ≥ 0.9")

