"""The HTML report in a real headless Chromium: every chart drawn, no console errors,
hostile server text inert. Screenshots are kept in the test's temporary directory."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from browser import chromium, chromium_path
from synthetic_llm import generative
from synthetic_results import staged

from isvcperf.report import write_reports
from isvcperf.report.comparison import render_comparison
from isvcperf.results.compare import compare
from isvcperf.results.result import Validity, ValidityCheck

CHART_CHECK = """
Array.from(document.querySelectorAll('figure.chart')).map(function (figure) {
  var canvas = figure.querySelector('canvas');
  var painted = 0;
  if (canvas && canvas.width && canvas.height) {
    var pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    for (var i = 3; i < pixels.length; i += 4) { if (pixels[i]) painted++; }
  }
  return {id: figure.dataset.chart, width: canvas ? canvas.width : 0, height: canvas ? canvas.height : 0,
          painted: painted};
})
"""


def check_charts(page, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    charts = page.evaluate(CHART_CHECK)
    assert [c["id"] for c in charts] == expected
    for chart in charts:
        assert chart["width"] > 300 and chart["height"] > 200, chart
        assert chart["painted"] > 1000, f"{chart['id']} has an empty canvas"
    state = page.evaluate("window.isvcperfCharts")
    assert state == {"drawn": expected, "failed": []}


def test_every_chart_renders_without_console_errors(tmp_path: Path) -> None:
    result = staged()
    paths = write_reports(result, tmp_path)
    with chromium(chromium_path()) as page:
        page.goto(paths["html"].as_uri())
        check_charts(page, ["latency-distribution", "percentile-spectrum", "throughput-over-time", "latency-over-time",
                            "errors-over-time", "users-over-time", "stages", "endpoints"])
        # the hostile error example is shown as text, and none of it ran
        example = page.evaluate("document.querySelector('table.errors code').textContent")
        assert example == result.errors[0].example
        assert page.evaluate("document.querySelectorAll('img').length") == 0
        assert page.errors == [], page.errors
        shot = page.screenshot(tmp_path / "report.png")
    assert shot.stat().st_size > 50_000


def test_compare_page_draws_both_spectra(tmp_path: Path) -> None:
    page_path = tmp_path / "compare.html"
    page_path.write_text(render_comparison(compare(staged("v1", 4.0, 1), staged("v2", 4.6, 2)), "html"), encoding="utf-8")
    with chromium(chromium_path()) as page:
        page.goto(page_path.as_uri())
        check_charts(page, ["spectrum-comparison"])
        assert page.evaluate("document.querySelectorAll('tr.regressed').length") > 0
        assert page.errors == [], page.errors
        page.screenshot(tmp_path / "compare.png")


def test_generative_charts_paint(tmp_path: Path) -> None:
    """The Generative section's charts (TTFT, ITL/TPOT, tokens/s, goodput, lengths) ahead of the run's."""
    paths = write_reports(generative(), tmp_path)
    with chromium(chromium_path()) as page:
        page.goto(paths["html"].as_uri())
        generative_ids = ["llm-ttft-distribution", "llm-ttft-spectrum", "llm-itl-tpot-distribution",
                          "llm-itl-tpot-spectrum", "llm-tokens-over-time", "llm-goodput-over-time", "llm-lengths"]
        run_ids = ["latency-distribution", "percentile-spectrum", "throughput-over-time", "latency-over-time",
                   "errors-over-time", "users-over-time", "endpoints"]
        charts = page.evaluate(CHART_CHECK)
        assert [c["id"] for c in charts] == generative_ids + run_ids
        for chart in charts:
            assert chart["painted"] > 1000, f"{chart['id']} has an empty canvas"
        state = page.evaluate("window.isvcperfCharts")
        assert sorted(state["drawn"]) == sorted(generative_ids + run_ids) and state["failed"] == []
        assert page.evaluate("document.querySelector('#generative + p + table.generative tbody tr td').textContent"
                             ).startswith("TTFT")
        assert page.errors == [], page.errors
        page.screenshot(tmp_path / "generative.png")


VALIDITY_ROWS = """
Array.from(document.querySelectorAll('table.validity tbody tr')).map(function (row) {
  var name = row.cells[0], style = getComputedStyle(name), text = document.createRange();
  text.selectNodeContents(name);
  return {name: name.textContent, color: style.color, bold: style.fontWeight >= 700,
          lines: text.getClientRects().length};
})
"""


def test_a_failed_validity_check_stands_out_and_names_stay_whole(tmp_path: Path) -> None:
    """The failed check is red and bold, a skipped one muted; `generator-cpu` never breaks at its hyphen."""
    checks = [ValidityCheck("generator-cpu", "pass", "a worker's CPU reached 16% during the measured window", "90%"),
              ValidityCheck("send-lateness", "skip", "closed loop: requests have no intended time", "-"),
              ValidityCheck("drops", "fail", "1312 of 12000 arrivals dropped (10.9%)", "0.1%",
                            "raise load.users or lower load.rate; or load.overload: queue to count the wait in the "
                            "latency " * 3)]
    paths = write_reports(dataclasses.replace(staged(), validity=Validity("invalid", checks)), tmp_path, ["html"])
    with chromium(chromium_path(), width=900) as page:
        page.goto(paths["html"].as_uri())
        rows = {row["name"]: row for row in page.evaluate(VALIDITY_ROWS)}
        assert rows["drops"]["color"] == "rgb(207, 34, 46)" and rows["drops"]["bold"]
        assert not rows["generator-cpu"]["bold"] and rows["generator-cpu"]["color"] != rows["drops"]["color"]
        assert rows["send-lateness"]["color"] not in (rows["generator-cpu"]["color"], rows["drops"]["color"])
        assert all(row["lines"] == 1 for row in rows.values()), rows
        assert page.errors == [], page.errors
        page.screenshot(tmp_path / "validity.png")
