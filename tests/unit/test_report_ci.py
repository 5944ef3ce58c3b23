"""The CI formats: Markdown for a GitHub job summary and JUnit XML, one test case per SLO."""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from synthetic_results import HOSTILE, staged

from isvcperf.cli.main import main
from isvcperf.report import render, write_reports
from isvcperf.report.safe_text import markdown_cell
from isvcperf.results.result import Result, Validity, ValidityCheck


def junit(result: Result) -> ET.Element:
    return ET.fromstring(render(result, "junit").encode())


def test_junit_has_one_case_per_slo_and_failures_carry_value_and_limit() -> None:
    root = junit(staged())
    assert root.tag == "testsuites"
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("name"), suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("iris-soak", "5", "1", "0")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [
        "run completed", "http/latency-p90 ≤ 10 ms", "http/error-rate ≤ 0.001", "http/throughput ≥ 50 req/s",
        "measurement valid"]  # the validity case (issue 14): a result without validity data was not judged
    assert suite.get("skipped") == "1" and root.get("skipped") == "1"  # ... so it is skipped, never passed
    skipped = cases[-1].find("skipped")
    assert skipped is not None and skipped.get("message") == "not judged (a result written before validity checks)"
    judged = junit(_judged(ValidityCheck("drops", "pass", "0 of 900 arrivals dropped", "0.1%"))).find("testsuite")
    assert judged is not None and judged.get("skipped") == "0" and judged.find("testcase/skipped") is None
    failed = [c for c in cases if c.find("failure") is not None]
    assert len(failed) == 1
    failure = failed[0].find("failure")
    assert failure is not None
    assert failure.get("message") == "http/error-rate = 0.004975, limit ≤ 0.001, margin -0.003975 (-398%)"
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["verdict"] == "failed" and props["requests"] == "6030"
    assert "CPU above 90%" in (cases[0].findtext("system-out") or "")


def test_junit_for_runs_that_did_not_complete() -> None:
    down = Result(name="down", status="could-not-run", reason="target not ready after 60s\x00\x1b[31m")
    root = junit(down)
    error = root.find("testsuite/testcase/error")
    assert error is not None and error.get("message") == "target not ready after 60s [31m"
    assert root.find("testsuite").get("errors") == "1"  # type: ignore[union-attr]
    stopped = dataclasses.replace(staged(), status="interrupted", reason="stopped early at 12s")
    run_case = junit(stopped).find("testsuite/testcase")
    assert run_case is not None
    assert run_case.find("failure").get("message") == "stopped early at 12s"  # type: ignore[union-attr]


def test_markdown_summary_table() -> None:
    md = render(staged(), "markdown")
    lines = md.splitlines()
    assert lines[0] == "## ❌ isvcperf: iris-soak — failed"
    table = [line for line in lines if line.startswith("| `http/")]
    assert table[:3] == [
        "| `http/latency-p90` | ≤ 10 ms | 7.439 ms | +2.561 ms (+26%) | ✅ |",
        "| `http/error-rate` | ≤ 0.001 | 0.004975 | -0.003975 (-398%) | ❌ |",
        "| `http/throughput` | ≥ 50 req/s | 100.0 req/s | +50.00 req/s (+100%) | ✅ |",
    ]
    # every table row has the same number of cells as its header
    for block in re.split(r"\n\n+", md):
        rows = [line for line in block.splitlines() if line.startswith("|")]
        if rows:
            widths = {len(re.findall(r"(?<!\\)\|", row)) for row in rows}
            assert len(widths) == 1, block
    assert HOSTILE not in md and "<script" not in md and "<img" not in md
    assert "&lt;script&gt;" in md


def _judged(*checks: ValidityCheck) -> Result:
    return dataclasses.replace(staged(), reason="stopped early at 12s", validity=Validity(
        "invalid" if any(c.status == "fail" for c in checks) else "valid", list(checks)))


def test_markdown_paragraphs_never_run_into_a_table() -> None:
    """A table glued to the line before it is that line's text in most Markdown renderers."""
    for result in (staged(), _judged(ValidityCheck("drops", "pass", "0 of 900 arrivals dropped", "0.1%"))):
        md = render(result, "markdown")
        lines = md.splitlines()
        for before, line in itertools.pairwise(lines):
            if line.startswith("|") and not before.startswith("|"):
                assert before == "", f"{before!r} runs into {line!r}"
        assert "\n\n\n" not in md


def test_the_what_to_do_column_only_when_a_check_has_advice() -> None:
    passed = ValidityCheck("drops", "pass", "0 of 900 arrivals dropped", "0.1%", "raise load.users")
    failed = ValidityCheck("samples", "fail", "http/latency-p99 rests on 4 of 400 requests", "n·(1−q) ≥ 10",
                           "run at least 1000 requests")
    valid, invalid = _judged(passed), _judged(passed, failed)
    assert "What to do" not in render(valid, "markdown") and "What to do" not in render(valid, "html")
    md = render(invalid, "markdown")
    assert "| Check | Status | Measured | Limit | What to do |" in md
    assert "| drops | pass | 0 of 900 arrivals dropped | 0.1% |  |" in md  # a passing check's advice is not shown
    assert "| samples | fail | http/latency-p99 rests on 4 of 400 requests | n·(1−q) ≥ 10 | run at least 1000 requests |" in md
    assert "<th>What to do</th>" in render(invalid, "html")


def test_markdown_cell_keeps_server_text_literal_and_in_one_cell() -> None:
    assert markdown_cell("a|b\nc") == "a\\|b c"
    assert markdown_cell("<b>*x*</b> & `y`") == "&lt;b&gt;\\*x\\*&lt;/b&gt; &amp; \\`y\\`"
    assert markdown_cell("x" * 50, 10) == "x" * 9 + "…"


def test_write_reports_writes_the_formats_asked_for(tmp_path: Path) -> None:
    paths = write_reports(staged(), tmp_path, ["markdown", "junit", "markdown"])
    assert {fmt: p.name for fmt, p in paths.items()} == {
        "json": "result.json", "markdown": "report.md", "junit": "junit.xml"}
    ET.parse(paths["junit"])
    assert not (tmp_path / "report.html").exists()


@pytest.mark.parametrize("fmt", ["text", "markdown", "html", "junit", "json"])
def test_isvcperf_report_prints_what_the_file_holds(tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    """`isvcperf report DIR -o FMT > file` gives the run's own report file, ending in one newline, not two."""
    paths = write_reports(staged(), tmp_path, [fmt])
    assert main(["report", str(tmp_path), "-o", fmt]) == 0
    printed = capsys.readouterr().out
    assert printed.endswith("\n") and not printed.endswith("\n\n")
    stored = paths[fmt].read_text(encoding="utf-8")
    if fmt == "json":  # read back, a limit written 10 is 10.0: the same data, another spelling
        assert json.loads(printed) == json.loads(stored)
    else:
        assert printed == stored


def test_every_report_of_a_run_that_could_not_start_says_nothing_was_measured() -> None:
    from isvcperf import spec
    from isvcperf.engine.run import build_result

    run = spec.from_data({"target": {"url": "http://127.0.0.1:9/v2/models/m/infer"}, "payload": {"inline": "x"},
                          "load": {"duration": "3s"}})
    down = build_result(run, None, "could-not-run", "the Locust master exited with code 1 during the run", [])
    text = render(down, "text")
    assert "Validity  INVALID: nothing-measured" in text and "VALID\n" not in text
    assert "Validity: INVALID: nothing-measured" in render(down, "html")
    assert "**Validity: INVALID: nothing-measured**" in render(down, "markdown")
    case = next(c for c in junit(down).iter("testcase") if c.get("name") == "measurement valid")
    failure = case.find("failure")
    assert failure is not None and "nothing-measured: no request was measured" in (failure.get("message") or "")
