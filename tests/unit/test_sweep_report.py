"""The sweep's steps and report: a goodput target decides a generative step, the table reads
latency against tokens/s, sweep.html charts latency against throughput, bad targets are bad input."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
from synthetic_llm import generative
from synthetic_results import staged

from isvcperf import spec
from isvcperf.engine.sweep import SweepResult, summarise, sweep_loads
from isvcperf.report.sweep import latency_throughput_chart, render_html, render_text, step_line
from isvcperf.util.errors import SpecError

RESULT = dataclasses.replace(generative(), slos=[])  # 76.2% of its requests are good


def generative_sweep(target: float | None = 0.7) -> SweepResult:
    slower = dataclasses.replace(RESULT, metrics={**RESULT.metrics, "llm/goodput-ratio": 0.5,
                                                  "llm/ttft-p90": 900.0, "llm/output-tokens-per-second": 1500.0})
    steps = [summarise(4, RESULT, Path("s1"), target), summarise(8, slower, Path("s2"), target)]
    return SweepResult("tiny-llm-sweep", "rate", steps, 4, "rate 8: " + ", ".join(steps[1].failed_slos), target)


def test_a_goodput_target_decides_the_step() -> None:
    passed = summarise(4, RESULT, Path("s"), 0.7)
    assert passed.verdict == "passed" and passed.failed_slos == []
    assert passed.llm["goodput-ratio"] == RESULT.metrics["llm/goodput-ratio"]
    assert set(passed.llm) >= {"output-tokens-per-second", "goodput", "ttft-p90", "tpot-p90"}
    failed = summarise(4, RESULT, Path("s"), 0.9)
    assert failed.verdict == "failed" and failed.failed_slos == ["llm/goodput-ratio 0.762 < 0.9"]
    # with a goodput target, errors count against goodput instead of failing the step by themselves
    with_errors = dataclasses.replace(RESULT, metrics={**RESULT.metrics, "http/error-count": 3.0})
    assert summarise(4, with_errors, Path("s"), 0.7).verdict == "passed"
    assert summarise(4, with_errors, Path("s")).failed_slos == ["errors appeared"]
    assert summarise(4, staged(), Path("s")).llm == {}


def test_the_generative_table_reads_latency_against_tokens_per_second() -> None:
    sweep = generative_sweep()
    text = render_text(sweep)
    header = next(line for line in text.splitlines() if line.startswith("rate"))
    assert header.split() == ["rate", "req/s", "tokens/s", "goodput", "good", "TTFT", "p50", "p90", "p99", "TPOT",
                              "p90", "errors", "met"]
    rows = [line for line in text.splitlines() if re.match(r"\s*[48] ", line)]
    assert "76.2%" in rows[0] and rows[0].rstrip().endswith("yes")
    assert "1500.0" in rows[1] and "no: llm/goodput-ratio 0.500 < 0.7" in rows[1]
    assert "Capacity: rate 4 is the highest load that met every SLO and kept goodput at 70% of requests or more" in text
    assert "TTFT and TPOT in ms" in text
    line = step_line(sweep.steps[0])
    assert line.startswith("  passed: ") and "tokens/s, TTFT p90 " in line and line.endswith("76.2% good")
    assert "Capacity: rate 4 is the highest load that met every SLO\n" in render_text(generative_sweep(None)) + "\n"


def test_sweep_html_charts_ttft_and_tpot_against_tokens_per_second() -> None:
    sweep = generative_sweep()
    chart = latency_throughput_chart(sweep)
    assert chart is not None
    assert chart["data"][0] == [RESULT.metrics["llm/output-tokens-per-second"], 1500.0]
    assert [s["label"] for s in chart["series"]] == ["TTFT p50", "TTFT p90", "TTFT p99", "TPOT p90"]
    assert chart["data"][2] == [RESULT.metrics["llm/ttft-p90"], 900.0] and chart["y2"]["label"] == "TPOT (ms)"
    html = render_html(sweep)
    data = json.loads(re.search(r'id="isvcperf-charts">(.*?)</script>', html, re.DOTALL).group(1))  # type: ignore[union-attr]
    assert [c["id"] for c in data] == ["sweep-latency-throughput"]
    assert 'data-chart="sweep-latency-throughput"' in html and "<th>met</th>" in html
    assert html.count("<tr><td") == 2 and "and kept goodput at 70%" in html


def test_a_predictive_sweep_charts_latency_against_requests_per_second() -> None:
    steps = [summarise(load, staged(), Path("s")) for load in (10, 20)]
    chart = latency_throughput_chart(SweepResult("iris", "rate", steps, None, "rate 10: errors appeared"))
    assert chart is not None and chart["x"]["label"] == "throughput (req/s)"
    assert [s["label"] for s in chart["series"]] == ["p50", "p90", "p99"] and "y2" not in chart
    one = SweepResult("iris", "rate", steps[:1], None, "x")
    assert latency_throughput_chart(one) is None and "<script" not in render_html(one)


@pytest.mark.parametrize(("example", "overrides", "problem"), [
    ("tiny-llm-sweep", ["load.sweep.goodputRatio=0"], "0 must be a share of requests, more than 0 and at most 1"),
    ("sklearn-irisv2-sweep", ["load.sweep.goodputRatio=0.9"], r"needs target.protocol openai \(this target is v2\)"),
    ("tiny-llm-sweep", ["goodput=null"], "needs the per-request limits that make a request good"),
])
def test_bad_goodput_targets_name_the_field(example: str, overrides: list[str], problem: str) -> None:
    path = Path(__file__).resolve().parents[2] / "examples" / f"{example}.yaml"
    with pytest.raises(SpecError, match=rf"^load\.sweep\.goodputRatio: .*{problem}"):
        sweep_loads(spec.load_file(str(path), overrides))
