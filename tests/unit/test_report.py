"""The text, HTML and JSON reports rendered from Result objects built in code."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from isvcperf.report import DEFAULT_FORMATS, render, write_reports
from isvcperf.results.metric_text import format_measure, format_metric
from isvcperf.results.result import ErrorGroup, Result, SLOVerdict, Validity, ValidityCheck, WorkerSummary, load_result
from isvcperf.spec.metric_names import order as metric_order
from isvcperf.util.errors import SpecError

URL = "http://127.0.0.1:8080/v2/models/iris/infer"
TARGET = {"url": URL, "protocol": "v2", "model": "iris"}
SCRIPT = "<script>alert(1)</script>"


def passing() -> Result:
    return Result(
        name="iris-smoke",
        status="completed",
        started_at="2025-01-10T12:00:00Z",
        ended_at="2025-01-10T12:05:00Z",
        measured_seconds=300.0,
        target=TARGET,
        load={"users": 8, "workers": 2, "rate": 0, "duration": 300.0, "warmupRequests": 50},
        metrics={
            "http/latency-max": 1234.5678,
            "http/latency-p99.9": 41.234,
            "http/latency-p9": 0.5,
            "http/latency-p50": 0.8123,
            "http/latency-p90": 2.5,
            "http/latency-min": 0.41,
            "http/latency-stddev": 3.2,
            "http/latency-mean": 1.23456,
            "http/throughput": 199.987,
            "http/error-rate": 0.0,
            "http/error-count": 0.0,
            "http/request-count": 60000.0,
        },
        slos=[
            SLOVerdict("http/latency-p90", True, 2.5, upper=5),
            SLOVerdict("http/error-rate", True, 0.0, upper=0),
            SLOVerdict("http/throughput", True, 199.987, lower=100),
        ],
        workers=[WorkerSummary("w-0", 30000, 0, 25, 0), WorkerSummary("w-1", 30000, 0, 25, 2)],
        spec={"name": "iris-smoke", "target": {"url": URL}, "slos": {"http/latency-p90": {"upper": 5}}},
    )


def failing() -> Result:
    """One SLO broken, one on a metric that was never measured."""
    return Result(
        name="iris-slow",
        status="completed",
        measured_seconds=10.0,
        target=TARGET,
        load={"users": 4, "rate": 50.0, "requests": 500},
        metrics={"http/request-count": 500.0, "http/latency-p90": 612.34, "http/error-rate": 0.0},
        slos=[
            SLOVerdict("http/latency-p90", False, 612.34, upper=500),
            SLOVerdict("http/error-rate", True, 0.0, upper=0.01),
            SLOVerdict("http/latency-p99", False, None, lower=1, upper=800),
        ],
    )


def with_errors() -> Result:
    return Result(
        name="iris-broken",
        status="completed",
        measured_seconds=5.0,
        target=TARGET,
        metrics={"http/request-count": 100.0, "http/error-count": 40.0, "http/error-rate": 0.4},
        errors=[
            ErrorGroup("ConnectionRefusedError", 10),
            ErrorGroup("HTTP 500", 30, f"Internal error\n\x1b[31m{SCRIPT}" + "x" * 400),
        ],
        warnings=["dropped 12 arrivals: the users could not keep up with the rate"],
    )


def interrupted() -> Result:
    return Result(
        name="iris-stopped",
        status="interrupted",
        reason="interrupted by Ctrl-C after 12s",
        measured_seconds=12.0,
        target=TARGET,
        metrics={"http/request-count": 240.0},
    )


def section(report: str, title: str) -> list[str]:
    """Lines of one text-report section: after its underlined title, up to the next one."""
    lines = report.splitlines()
    start = lines.index(title) + 2
    end = next(
        (i - 1 for i in range(start + 1, len(lines)) if re.fullmatch(r"-+", lines[i]) and lines[i - 1][0].isupper()),
        len(lines),
    )
    return [line for line in lines[start:end] if line]


def field(report: str, label: str) -> str:
    """The value of a `Label   value` line in the text report's summary."""
    match = re.search(rf"^{label} +(.*)$", report, re.MULTILINE)
    assert match, f"no {label} line"
    return match.group(1)


@pytest.mark.parametrize(
    ("value", "shown"),
    [(0.8123, "0.812"), (9.9994, "9.999"), (41.234, "41.23"), (612.34, "612.3"), (1234.5678, "1235"), (0.0, "0.000")],
)
def test_latency_decimals_shrink_as_values_grow(value: float, shown: str) -> None:
    assert format_measure(value) == shown


def test_counts_are_integers_and_rates_are_fractions() -> None:
    assert format_metric("http/request-count", 60000.0) == "60000"
    assert format_metric("http/error-rate", 0.0125) == "0.0125"
    assert format_metric("http/error-rate", 0.0) == "0"
    assert format_metric("http/latency-p99", None) == "missing"


@pytest.mark.parametrize(("rate", "shown"), [(1 / 61, "0.01639"), (1 / 3, "0.3333"), (1e-5, "0.00001"), (1.0, "1")])
def test_error_rate_is_rounded_to_four_digits_without_exponent(rate: float, shown: str) -> None:
    assert format_metric("http/error-rate", rate) == shown


def test_an_interrupt_before_any_load_is_not_an_slo_failure() -> None:
    """Ctrl-C during readiness: nothing measured, so the verdict says that, not "3 of 3 SLOs not satisfied"."""
    result = Result(name="early", status="interrupted", reason="interrupted by the user", target=TARGET,
                    slos=[SLOVerdict("http/latency-p90", False, None, upper=5), SLOVerdict("http/error-count", False, None, upper=0)])
    assert result.verdict == "interrupted"
    assert field(render(result, "text"), "Verdict") == "interrupted: interrupted before any load was measured"
    assert interrupted().verdict == "interrupted"  # measured 12 s: still not a pass


def test_metrics_sort_counts_rate_throughput_then_latencies_by_percentile() -> None:
    names = sorted(passing().metrics, key=metric_order)
    assert [n.partition("/")[2] for n in names] == [
        "request-count",
        "error-count",
        "error-rate",
        "throughput",
        "latency-mean",
        "latency-stddev",
        "latency-min",
        "latency-p9",
        "latency-p50",
        "latency-p90",
        "latency-p99.9",
        "latency-max",
    ]


def test_the_validity_table_wraps_its_sentences_to_the_reports_width() -> None:
    """Checks say what they measured in a sentence: the table wraps them to 100 columns, not past."""
    stability = ValidityCheck("stability", "pass", "throughput ±8.76%, p50 ±3.36%, p90 ±11.9% over 3 windows of 5s",
                              "±20% over the last 3 windows")
    samples = ValidityCheck("samples", "pass", "http/latency-p90 rests on 2084 of 20842 requests beyond it",
                            "n·(1−q) ≥ 10, here 100 requests")
    report = render(dataclasses.replace(passing(), validity=Validity("valid", [stability, samples])), "text")
    rows = section(report, "Validity")
    assert max(len(line) for line in rows) <= 100, "\n".join(rows)
    assert rows[0].split() == ["Check", "Status", "Measured", "Limit"]
    assert re.match(r"stability +pass +throughput ±8\.76%", rows[2]), rows[2]
    # a wrapped row goes on under its own column, and every word of it is still there
    indent = rows[0].index("Measured")
    wrapped = [line for line in rows[2:] if line[:indent].strip() == ""]
    assert wrapped and all(line[indent - 1] == " " for line in wrapped)
    words = " ".join(" ".join(line.split()) for line in rows[2:])
    for check in (stability, samples):
        assert all(word in words for word in (check.value + " " + check.limit).split())
    assert len(section(render(passing(), "text"), "Metrics")[2]) < 100  # other tables: one line per row, as before


def test_open_loop_latencies_sort_statistic_by_statistic_not_alphabetically() -> None:
    """service-time-max and send-lateness-mean used to trail the table after latency-max."""
    names = [f"http/{kind}-{s}" for kind in ("send-lateness", "service-time", "latency")
             for s in ("stddev", "max", "p99", "mean", "p50", "min")] + ["http/throughput", "http/request-count"]
    assert [n.partition("/")[2] for n in sorted(names, key=metric_order)] == [
        "request-count", "throughput",
        "latency-mean", "service-time-mean", "send-lateness-mean",
        "latency-stddev", "service-time-stddev", "send-lateness-stddev",
        "latency-min", "service-time-min", "send-lateness-min",
        "latency-p50", "service-time-p50", "send-lateness-p50",
        "latency-p99", "service-time-p99", "send-lateness-p99",
        "latency-max", "service-time-max", "send-lateness-max",
    ]
    grpc = sorted(["grpc/latency/max", "grpc/service-time/p90", "grpc/latency/p90", "grpc/latency/mean"], key=metric_order)
    assert grpc == ["grpc/latency/mean", "grpc/latency/p90", "grpc/service-time/p90", "grpc/latency/max"]


def test_text_report_of_a_passing_run() -> None:
    report = render(passing(), "text")
    assert report.splitlines()[0] == "isvcperf report: iris-smoke"
    assert field(report, "Verdict") == "passed: all 3 SLOs satisfied"
    assert field(report, "Target") == URL
    assert field(report, "Protocol") == "v2 (model iris)"
    assert field(report, "Load") == "8 users, 2 workers, closed loop, for 5m, warm-up 50 requests"
    assert field(report, "Measured") == "5m"
    assert field(report, "Requests") == "60000"

    slos = section(report, "SLOs")
    assert slos[0].split() == ["Metric", "Limit", "Value", "Margin", "Satisfied"]
    assert slos[2].split() == ["http/latency-p90", "≤", "5", "ms", "2.500", "ms", "+2.500", "ms", "(+50%)", "true"]
    assert slos[3].split() == ["http/error-rate", "≤", "0", "0", "+0", "true"]
    assert slos[4].split() == ["http/throughput", "≥", "100", "req/s", "200.0", "req/s", "+99.99", "req/s", "(+100%)",
                               "true"]
    assert slos[5] == "3 of 3 satisfied."

    metrics = [line.split() for line in section(report, "Metrics")[2:]]
    assert metrics[0] == ["http/request-count", "60000"]
    assert ["http/latency-p50", "0.812", "ms"] in metrics
    assert ["http/latency-p99.9", "41.23", "ms"] in metrics
    assert metrics[-1] == ["http/latency-max", "1235", "ms"]

    workers = [line.split() for line in section(report, "Workers")]
    assert workers[2:] == [
        ["w-0", "30000", "0", "25", "0"],
        ["w-1", "30000", "0", "25", "2"],
        ["total", "60000", "0", "50", "2"],
    ]
    assert "Errors" not in report.splitlines()
    assert "Warnings" not in report.splitlines()


def test_text_report_fits_100_columns_and_aligns_tables() -> None:
    for result in (passing(), failing(), with_errors(), interrupted()):
        report = render(result, "text")
        assert max(len(line) for line in report.splitlines()) <= 100
        assert "\x1b" not in report
    metrics = section(render(passing(), "text"), "Metrics")
    value_ends = {len(line.split("  ms")[0].rstrip()) for line in metrics[2:] if line.endswith("ms")}
    assert len(value_ends) == 1, "latency values are right-aligned in one column"


def test_failed_slo_and_missing_metric() -> None:
    result = failing()
    assert result.verdict == "failed"
    report = render(result, "text")
    assert field(report, "Verdict") == "failed: 2 of 3 SLOs not satisfied"
    assert field(report, "Load") == "4 users, open loop at 50 req/s, 500 requests"
    slos = [line.split() for line in section(report, "SLOs")]
    assert slos[2] == ["http/latency-p90", "≤", "500", "ms", "612.3", "ms", "-112.3", "ms", "(-22%)", "false"]
    assert slos[4] == ["http/latency-p99", "≥", "1", "ms", "and", "≤", "800", "ms", "missing", "false"]
    assert [row[-1] for row in slos[2:5]] == ["false", "true", "false"]

    html = render(result, "html")
    assert 'class="banner failed"' in html
    assert html.count("✔") == 1
    assert html.count("✘") == 2
    assert ">missing<" in html
    assert "≥ 1 ms and ≤ 800 ms" in html


def test_errors_are_escaped_in_html_and_flattened_in_text() -> None:
    result = with_errors()
    html = render(result, "html")
    assert SCRIPT not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html.lower()
    errors = html.split('<table class="errors">', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr><td>([^<]*)</td><td class=\"num\">(\d+)</td>", errors)
    assert rows == [("HTTP 500", "30"), ("ConnectionRefusedError", "10")]
    assert "dropped 12 arrivals" in html

    report = render(result, "text")
    errors = section(report, "Errors")
    assert errors[2].split() == ["HTTP", "500", "30"]
    assert errors[3].split() == ["ConnectionRefusedError", "10"]
    assert errors[4] == "40 requests failed."
    example = report.split("  HTTP 500:\n", 1)[1].split("\n\n", 1)[0]
    flat = " ".join(line.strip() for line in example.splitlines())
    assert flat.startswith(f"Internal error [31m{SCRIPT}xxx")
    assert flat.endswith("…")
    assert len(flat.replace(" ", "")) <= 200
    assert section(report, "Warnings") == ["- dropped 12 arrivals: the users could not keep up with the rate"]


def test_interrupted_run_shows_its_reason() -> None:
    result = interrupted()
    report = render(result, "text")
    assert field(report, "Verdict").startswith("interrupted: the run stopped early")
    assert field(report, "Reason") == "interrupted by Ctrl-C after 12s"
    assert section(report, "SLOs") == ["No SLOs were given, so the verdict only says whether the run completed."]
    html = render(result, "html")
    assert 'class="banner interrupted"' in html
    assert "interrupted by Ctrl-C after 12s" in html


def test_could_not_run_has_no_metrics() -> None:
    result = Result(name="iris-down", status="could-not-run", reason="target not ready after 60s", target=TARGET)
    report = render(result, "text")
    assert field(report, "Verdict") == "could-not-run: no load was measured"
    assert section(report, "Metrics") == ["No metrics were measured."]
    assert "Measured" not in report
    assert 'class="banner could-not-run"' in render(result, "html")


def test_html_is_self_contained_and_shows_the_spec() -> None:
    html = render(passing(), "html")
    assert html.startswith("<!DOCTYPE html>")
    assert 'class="banner passed"' in html
    assert html.count("✔") == 3
    assert "✘" not in html
    assert not re.search(r"<(script|link)\b|@import|https?://(?!127\.0\.0\.1)", html)
    spec = re.search(r"<details>.*?<pre>(.*?)</pre>", html, re.DOTALL)
    assert spec
    assert "&#34;http/latency-p90&#34;" in spec.group(1)


@pytest.mark.parametrize(
    "make",
    [
        passing,
        failing,
        with_errors,
        interrupted,
    ],
)
def test_json_round_trips(make: Callable[[], Result], tmp_path: Path) -> None:
    result = make()
    path = tmp_path / "copy.json"
    path.write_text(render(result, "json"), encoding="utf-8")
    assert load_result(path) == result


def test_write_reports(tmp_path: Path) -> None:
    result = passing()
    paths = write_reports(result, tmp_path / "out")
    assert set(paths) == set(DEFAULT_FORMATS)
    assert paths["json"].name == "result.json"
    assert load_result(tmp_path / "out") == result
    assert paths["text"].read_text(encoding="utf-8") == render(result, "text")
    assert paths["html"].read_text(encoding="utf-8") == render(result, "html")
    assert json.loads(paths["json"].read_text(encoding="utf-8"))["name"] == "iris-smoke"


def test_unknown_format_is_a_spec_error() -> None:
    with pytest.raises(SpecError, match=r"^-o: 'pdf' is not one of text, html, json, markdown, junit$"):
        render(passing(), "pdf")


def test_workers_are_named_by_their_process_not_locusts_id() -> None:
    """Locust names a worker `vm_<uuid>`; the report names the process or pod it ran in, as the web UI does."""
    import dataclasses

    named = dataclasses.replace(passing(), workers=[WorkerSummary("vm_5f0c", 100, 0, 5, 0, process="worker-0 (pid 42)"),
                                                    WorkerSummary("vm_9a1d", 100, 0, 5, 0)])
    text = render(named, "text")
    assert "worker-0 (pid 42)" in text and "vm_5f0c" not in text
    assert "vm_9a1d" in text  # a worker that never said which process it is keeps Locust's id
    assert "<td>worker-0 (pid 42)</td>" in render(named, "html")
