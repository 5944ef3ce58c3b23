"""load.until: stable (results.until, issue 14): the spec's rules and default maximum, the live decision
on the intervals every worker has reported, and that the final check judges what the decision judged."""

from __future__ import annotations

import time
from typing import Any

import pytest
from synthetic_results import histogram_of, latencies

from isvcperf import spec
from isvcperf.engine.monitor import Monitor
from isvcperf.report.live import LiveView
from isvcperf.results import until, validity
from isvcperf.results.result import Result, TimelinePoint
from isvcperf.spec.overrides import apply_overrides
from isvcperf.util.errors import SpecError

URL = "http://127.0.0.1:9/v2/models/m/infer"


def run_spec(valid: dict[str, Any] | None = None, slos: dict[str, Any] | None = None, **load: Any) -> spec.RunSpec:
    return spec.from_data({"target": {"url": URL}, "payload": {"inline": "x"}, "load": {"until": "stable", **load},
                           "validity": valid or {}, "slos": slos or {}})


def row(index: int, requests: int = 100, p50: float = 2.0, workers: int = 2) -> dict[str, Any]:
    return {"index": index, "requests": requests, "successes": requests, "errors": 0, "p50": p50, "p90": 3.0,
            "p99": 4.0, "cpu": 10.0, "users": 4, "workers": workers}


def stats(rows: list[dict[str, Any]], lost: int = 0) -> Any:
    workers = {f"w{i}": {"index": i, "lostAt": 1.0 if i < lost else None} for i in range(2)}
    return {"phase": "running", "interval": 1.0, "timeline": rows, "workers": workers, "total": {}}


def test_until_stable_takes_duration_as_its_maximum_with_a_default_of_ten_windows() -> None:
    assert run_spec().load.duration == 50.0  # 10 windows of the default 5 s: perf_analyzer's max-trials
    assert run_spec(valid={"stabilityWindow": "1s"}).load.duration == 10.0
    assert run_spec(duration="2m").load.duration == 120.0
    assert spec.from_data({"target": {"url": URL}, "payload": {"inline": "x"}, "load": {"duration": "10s"}}
                          ).load.until is None
    data = apply_overrides({"target": {"url": URL}, "payload": {"inline": "x"}}, ["load.until=stable"])
    assert spec.from_data(data).load.until == "stable"


@pytest.mark.parametrize("load,field,words", [
    ({"requests": 500}, "load.until", "remove load.requests"),
    ({"stages": [{"duration": "20s", "rate": 10}]}, "load.until", "remove load.stages"),
    ({"duration": "10s"}, "load.duration", "at least 15s"),
    ({"until": "forever"}, "load.until", "stable"),
])
def test_what_cannot_work_is_refused_in_one_line(load: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(SpecError) as info:
        run_spec(**load)
    message = str(info.value)
    assert message.startswith(f"{field}:") and words in message and "\n" not in message


def test_the_live_decision_waits_for_enough_complete_windows() -> None:
    run = run_spec(valid={"stabilityWindow": "2s", "stabilityWindows": 3})
    early = until.judge_live(run, stats([row(i) for i in range(5)]))
    assert not early.stable and early.waiting == "until stable: 2 of 3 windows of 2s measured"
    ready = until.judge_live(run, stats([row(i) for i in range(6)]))
    assert ready.stable and ready.at == 6.0
    # interval 6 reached the master from one worker only: not judged (it would read as a dip), not counted
    partial = until.judge_live(run, stats([*(row(i) for i in range(6)), row(6, requests=50, workers=1)]))
    assert partial.stable and partial.at == 6.0
    # a lost worker reports no more: the others' rows are complete without it
    assert until.judge_live(run, stats([row(i, workers=1) for i in range(6)], lost=1)).stable


def test_the_live_decision_says_what_disagrees() -> None:
    run = run_spec(valid={"stabilityWindow": "1s", "stabilityWindows": 3})
    drifting = until.judge_live(run, stats([row(0, requests=100), row(1, requests=150), row(2, requests=200)]))
    assert not drifting.stable
    assert drifting.waiting.startswith("until stable: throughput ±") and drifting.waiting.endswith("limit ±20%")
    # a p90 SLO is judged in windows of 100 requests: n·(1−q) = 10 is enough, floating point notwithstanding
    slow = run_spec(valid={"stabilityWindow": "1s", "stabilityWindows": 3}, slos={"http/latency-p90": {"upper": 9}})
    rows = [row(0), row(1), {**row(2), "p90": 6.0}]
    found = until.judge_live(slow, stats(rows))
    assert not found.stable and "p90 ±" in found.waiting


def test_the_final_check_judges_the_windows_the_decision_judged() -> None:
    run = run_spec(valid={"stabilityWindow": "1s", "stabilityWindows": 3}, slos={"http/latency-p50": {"upper": 9}})
    judged = [TimelinePoint(t=i + 1.0, requests=100, throughput=100.0, p50=2.0, p90=3.0, p99=4.0) for i in range(3)]
    drain = TimelinePoint(t=3.4, requests=5, throughput=12.5, p50=9.0, p90=9.0, p99=9.0)  # after the stop
    ended = Result(name="r", status="completed", measured_seconds=3.4, timeline=[*judged, drain], stable_at=3.0)
    assert validity.stability(run, ended).status == "pass"
    assert until.ending(run, ended) == "stable after 3s (3 windows of 1s within ±20%)"
    ended.stable_at = None  # judged on the whole timeline, the drain's interval would have counted
    assert validity.stability(run, ended).status == "fail"
    assert until.ending(run, ended) == "not stable within the 10s maximum"
    assert "raise load.duration" in validity.stability(run, ended).advice
    ended.status = "interrupted"
    assert until.ending(run, ended) == ""


def test_the_monitor_says_what_it_waits_for_then_asks_once_to_end() -> None:
    run = run_spec(valid={"stabilityWindow": "1s", "stabilityWindows": 3})
    lines: list[str] = []
    monitor = Monitor(run, live=LiveView(run, lines.append, terminal=False))
    now = time.time()
    document = stats([row(0), row(1)])
    document["total"] = {"requests": 200, "errors": 0, "successes": 200, "measureStart": now - 2.5, "measureEnd": now,
                         "histogram": histogram_of(latencies(200, 4.0, 3))}
    assert monitor(document) is None and monitor.stable_at is None
    assert lines[-1].endswith("until stable: 2 of 3 windows of 1s measured")
    document["timeline"] = [row(0), row(1), row(2)]
    assert monitor(document) == "stable after 3s: ending the measurement"
    assert monitor.stable_at == 3.0 and lines[-1].startswith("  [stopping]")
    document["timeline"] = [row(0), row(1), row(2), row(3, requests=10)]
    assert monitor(document) is None and monitor.stable_at == 3.0  # decided once: the later rows change nothing
