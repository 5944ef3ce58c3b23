"""Watching a generative run: the live line and panel show TTFT/TPOT, the monitor evaluates llm/
SLOs while the run goes (so abortOnFail works on them), and the web UI's SLO tab gets the
TTFT/TPOT rows, all from the master's stats document with its merged `llm` total."""

from __future__ import annotations

import io
import json
import re
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar

import pytest
from loopback import serve_http
from synthetic_llm import merged_llm
from test_live_and_monitor import stats

from isvcperf import spec
from isvcperf.engine.monitor import Monitor, StopEarly, current_metrics
from isvcperf.report.live import LiveView, plain_line, snapshot
from isvcperf.results import llm_metrics


def openai_spec(**sections: Any) -> spec.RunSpec:
    return spec.from_data({"target": {"baseUrl": "http://127.0.0.1:9", "protocol": "openai", "model": "tiny-llm",
                                      "openaiPrefix": "/v1"},
                           "goodput": {"ttft": "100ms"}, "load": {"duration": "60s"}, **sections})


def llm_stats(measured_s: float = 30.0) -> dict[str, Any]:
    found = stats(measured_s, requests=600)
    found["total"]["llm"] = merged_llm()
    return found


def test_snapshot_and_plain_line_show_ttft_and_tpot() -> None:
    snap = snapshot(openai_spec(), llm_stats())
    expected = llm_metrics.compute(merged_llm(), [50.0, 90.0, 99.0], snap.elapsed)
    assert snap.llm_ms("ttft", 90.0) == expected["llm/ttft-p90"]
    line = plain_line(snap)
    assert "\n" not in line
    ttft = "/".join(f"{expected[f'llm/ttft-p{p}']:.2f}" for p in (50, 90, 99))
    tpot = "/".join(f"{expected[f'llm/tpot-p{p}']:.2f}" for p in (50, 90, 99))
    assert f"TTFT p50/p90/p99 {ttft} ms  TPOT p50/p90/p99 {tpot} ms" in line
    assert re.search(r"  1\d{3}\.\d tokens/s  7\d\.\d% good  0 errors", line), line
    assert "TTFT" not in plain_line(snapshot(openai_spec(), stats(30.0)))  # no llm data yet: the plain figures


def test_terminal_panel_has_ttft_tpot_rows() -> None:
    out = io.StringIO()
    run = openai_spec()
    view = LiveView(run, stream=out, terminal=True)
    with view:
        view(llm_stats())
    screen = out.getvalue()
    for text in ("TTFT p50", "TTFT p99", "TPOT p90", "tokens/s", "good"):
        assert text in screen, text


def test_monitor_evaluates_llm_slos_live_and_can_stop_on_them() -> None:
    run = openai_spec(slos={"llm/ttft-p99": {"upper": 1, "abortOnFail": True}, "llm/goodput-ratio": {"lower": 0.5}})
    values, _ = current_metrics(run, llm_stats())
    assert values["llm/ttft-p99"] > 1 and "llm/output-tokens-per-second" in values
    monitor = Monitor(run, live=LiveView(run, lambda _: None, terminal=False))
    with pytest.raises(StopEarly) as stop:
        monitor(llm_stats())
    assert re.fullmatch(r"stopped early after 3\d\.\ds of measuring: SLO llm/ttft-p99 was \d+\.\d ms, "
                        r"limit ≤ 1 ms \(abortOnFail\)", stop.value.reason), stop.value.reason
    assert [(v.metric, v.satisfied) for v in monitor.verdicts] == [("llm/ttft-p99", False), ("llm/goodput-ratio", True)]


class _Collect(BaseHTTPRequestHandler):
    bodies: ClassVar[list[Any]] = []

    def do_POST(self) -> None:
        _Collect.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"[]")

    def log_message(self, *_: Any) -> None:
        pass


def test_web_ui_rows_add_ttft_and_tpot_after_the_slos() -> None:
    run = openai_spec(slos={"llm/ttft-p90": {"upper": 1000}})
    with serve_http(_Collect) as url:
        Monitor(run, live=LiveView(run, lambda _: None, terminal=False), ui_url=url)(llm_stats())
    rows = _Collect.bodies[-1]
    assert [row["metric"] for row in rows] == [
        "llm/ttft-p90", "llm/ttft-p50", "llm/ttft-p99", "llm/tpot-p50", "llm/tpot-p90", "llm/tpot-p99",
        "llm/output-tokens-per-second", "llm/goodput", "llm/goodput-ratio"]
    assert rows[0]["state"] == "ok" and rows[0]["limit"] == "≤ 1000 ms"
    assert {row["state"] for row in rows[1:]} == {"measured"} and {row["limit"] for row in rows[1:]} == {""}
    assert rows[1]["value"].endswith(" ms") and rows[6]["value"].endswith(" tok/s")
