"""The live view and the in-run SLO watch, fed the stats dicts the runners pass their progress callback."""

from __future__ import annotations

import io
import re
import time
from typing import Any

import pytest
from synthetic_results import histogram_of, latencies

from isvcperf import spec
from isvcperf.engine.monitor import Monitor, StopEarly, warmup_failure
from isvcperf.report.live import LiveView, plain_line, snapshot

URL = "http://127.0.0.1:9/v2/models/iris/infer"


def run_spec(**sections: Any) -> spec.RunSpec:
    return spec.from_data({"target": {"url": URL}, "payload": {"inline": {}}, **sections})


def stats(measured_s: float | None, requests: int = 1000, errors: int = 0, phase: str = "running") -> dict[str, Any]:
    now = time.time()
    total: dict[str, Any] = {"requests": requests, "errors": errors, "successes": requests - errors,
                             "histogram": histogram_of(latencies(requests, 4.0, 3)) if requests else ""}
    if measured_s is not None:
        total.update(measureStart=now - measured_s, measureEnd=now)
    return {"phase": phase, "users": 8, "connectedWorkers": 2, "expectedWorkers": 2, "total": total}


def test_snapshot_phases_and_remaining() -> None:
    timed = run_spec(load={"duration": "60s"})
    assert snapshot(timed, stats(None, 0, phase="waiting")).phase == "waiting for workers"
    assert snapshot(timed, stats(None, 0)).phase == "warming up"
    snap = snapshot(timed, stats(10.0))
    assert snap.phase == "measuring"
    assert snap.remaining == pytest.approx(50.0, abs=0.5)
    assert snap.throughput == pytest.approx(100.0, rel=0.05)
    assert 3.0 < snap.percentiles[50.0] < 5.0 < snap.percentiles[99.0]  # type: ignore[operator]
    assert snapshot(timed, stats(60.0, phase="finished")).phase == "stopping"
    counted = run_spec(load={"requests": 3000})
    assert snapshot(counted, stats(10.0)).remaining == pytest.approx(20.0, rel=0.05)  # 2000 more at 100/s


def test_plain_line_for_logs() -> None:
    line = plain_line(snapshot(run_spec(load={"duration": "60s"}), stats(10.0, errors=5)))
    assert line.startswith("  [measuring] 10s (50s left)  1000 requests  99.")
    assert "p50 " in line and "p99 " in line and "5 errors  8 users on 2 workers" in line


def test_grpc_live_line_shows_percentiles() -> None:
    """gRPC latencies are named grpc/latency/p50: the live view looks them up by that name."""
    grpc = spec.from_data({"target": {"url": "grpc://127.0.0.1:9", "protocol": "grpc-v2", "model": "iris"},
                           "payload": {"inline": {"inputs": []}}, "load": {"duration": "60s"}})
    snap = snapshot(grpc, stats(10.0))
    assert all(value is not None for value in snap.percentiles.values())
    assert "p50 -" not in plain_line(snap) and "p99 " in plain_line(snap)


def test_plain_lines_are_throttled_when_not_a_terminal() -> None:
    lines: list[str] = []
    view = LiveView(run_spec(load={"duration": "60s"}), lines.append, terminal=False)
    with view:
        for _ in range(5):
            view(stats(10.0))
        view(stats(60.0, phase="finished"))
    assert len(lines) == 2 and lines[-1].startswith("  [stopping]")


def test_terminal_panel_shows_figures_and_slos() -> None:
    out = io.StringIO()
    rules = {"http/latency-p50": {"upper": 1}, "http/error-count": {"upper": 0}}
    run = run_spec(load={"duration": "60s"}, slos=rules)
    monitor = Monitor(run, live=LiveView(run, stream=out, terminal=True))
    with monitor:
        monitor(stats(10.0))
    screen = out.getvalue()
    for text in ("isvcperf isvcperf", "measuring", "50s left", "throughput", "req/s", "p90", "workers", "2/2",
                 "http/latency-p50", "failing", "http/error-count", "ok"):
        assert text in screen, text


def test_abort_on_fail_after_the_grace_period_only() -> None:
    rules = {"http/latency-p50": {"upper": 1, "abortOnFail": True, "gracePeriod": "5s"},
             "http/latency-p99": {"upper": 1}}
    run = run_spec(load={"duration": "60s"}, slos=rules)
    monitor = Monitor(run, live=LiveView(run, lambda _: None, terminal=False))
    monitor(stats(2.0))  # failing, but within the grace period
    assert [v.satisfied for v in monitor.verdicts] == [False, False]
    with pytest.raises(StopEarly) as stop:
        monitor(stats(6.0))
    assert re.fullmatch(r"stopped early after 6\.\ds of measuring: SLO http/latency-p50 was \d\.\d{3} ms, "
                        r"limit ≤ 1 ms \(abortOnFail, grace period 5s\)", stop.value.reason), stop.value.reason


def test_no_abort_without_the_flag_or_before_a_value() -> None:
    run = run_spec(load={"duration": "60s"}, slos={"http/latency-p50": {"upper": 1}})
    Monitor(run, live=LiveView(run, lambda _: None, terminal=False))(stats(30.0))
    strict = run_spec(load={"duration": "60s"}, slos={"http/latency-p50": {"upper": 1, "abortOnFail": True}})
    monitor = Monitor(strict, live=LiveView(strict, lambda _: None, terminal=False))
    monitor(stats(30.0, requests=0))  # nothing measured yet: no value, no verdict to act on
    monitor(stats(None, 0))  # warming up
    with pytest.raises(StopEarly):
        monitor(stats(0.5))


def test_a_warm_up_that_all_failed_stops_the_run_once_measuring_began() -> None:
    def warmed(measured_s: float | None, sent: int, failed: int) -> dict[str, Any]:
        document = stats(measured_s)
        document["total"].update(warmupRequests=sent, warmupErrors=failed, warmupError="HTTP 500: boom" if failed else "")
        return document

    assert warmup_failure(warmed(None, 10, 10)) is None  # still warming up
    assert warmup_failure(warmed(1.0, 10, 9)) is None  # one got through: the target can answer
    assert warmup_failure(warmed(1.0, 0, 0)) is None  # no warm-up asked for
    failure = warmup_failure(warmed(1.0, 10, 10))
    assert failure is not None and failure.exit_code == 3
    assert "every one of the 10 warm-up requests failed" in str(failure) and "HTTP 500: boom" in str(failure)
    run = run_spec(load={"duration": "60s"})
    with pytest.raises(type(failure)):
        Monitor(run, live=LiveView(run, lambda _: None, terminal=False))(warmed(1.0, 10, 10))


def test_the_validity_so_far_is_shown_before_the_figures() -> None:
    # issue 14: the live view (and the UI tab, fed by the same Monitor) says whether the figures hold
    from isvcperf.engine.run import build_result

    out = io.StringIO()
    run = run_spec(load={"duration": "60s"}, slos={"http/latency-p99.9": {"upper": 1000}})
    monitor = Monitor(run, live=LiveView(run, stream=out, terminal=True),
                      judge=lambda found, _stable_at: build_result(run, found, "interrupted", "", []).validity)
    document = stats(10.0)  # the parts of the stats document build_result reads beyond the live view's
    document.update(workers={}, interval=1.0, intervals=[])
    document["total"].update(errorGroups={})
    with monitor:
        monitor(document)  # 1,000 requests cannot carry a p99.9
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue())
    assert monitor.validity is not None and [c.name for c in monitor.validity.failed] == ["samples"]
    assert "validity so far: INVALID (samples)" in screen
    assert screen.index("validity so far") < screen.index("throughput")
    lines: list[str] = []
    plain = LiveView(run, lines.append, terminal=False)
    plain.validity = monitor.validity
    plain(stats(10.0))
    assert lines[0].endswith("validity so far: INVALID (samples)")


def test_no_validity_so_far_before_the_first_request_is_measured() -> None:
    # a slow model's first second: measuring has begun, nothing has answered yet; not judged, not INVALID
    from isvcperf.engine.monitor import snapshot as evaluate
    from isvcperf.engine.run import validity_so_far

    run = run_spec(load={"duration": "60s"})
    document = stats(0.5, requests=0)
    document.update(workers={}, interval=1.0, intervals=[])
    document["total"].update(errorGroups={})
    assert evaluate(run, document, lambda found, at: validity_so_far(run, found, at)).validity is None  # type: ignore[arg-type]
