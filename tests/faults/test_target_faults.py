"""The target misbehaves: it dies and comes back, hangs, answers too late, or answers in
ways a well-behaved server would not. The run keeps measuring, counts every failure as
an error of a named type, ends on time and writes everything it measured."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from runs import CliRun, assert_nothing_left, measured, record, run_cli, wait_for_stats, write_spec
from servers import MIXED, FaultServer
from targets import Nginx


def test_target_killed_mid_run_then_back(tmp_path: Path) -> None:
    """SIGKILL the target (nginx) well into the measured window, start it again on the same port
    once the run has counted the outage; each step waits on what the run reports, not on a clock."""
    target = Nginx().__enter__()
    duration, rate = 10.0, 40
    spec = write_spec(tmp_path, target.url(), target={"timeout": "2s"},
                      load={"duration": f"{duration:g}s", "rate": rate, "users": 4})
    out = tmp_path / "out"
    cli = CliRun(tmp_path, ["run", str(spec), "--out", str(out)])
    try:
        before = wait_for_stats(out, measured(2 * rate), "two seconds of measured load")
        assert before["total"]["errors"] == 0
        target.kill()
        killed_at = time.time()
        outage = wait_for_stats(out, lambda s: s["total"]["errors"] >= rate // 2, "the run to count the outage")
        seen_failing_at = time.time()
        dead, target = target, Nginx(port=target.port).__enter__()
        dead.__exit__()  # its files; its processes are gone
        back_at = time.time()
        run = cli.wait(out)
    finally:
        target.__exit__()
    assert outage["total"]["errors"] > 0
    assert run.returncode == 1, run.text  # the error-count SLO fails; the run itself completed
    result = run.result
    assert result["status"] == "completed"
    assert next(s for s in result["slos"] if s["metric"] == "http/error-count")["satisfied"] is False
    assert {e["type"] for e in result["errors"]} <= {"ConnectionRefusedError", "ConnectionClosed", "ConnectionResetError"}
    assert "ConnectionRefusedError" in {e["type"] for e in result["errors"]}
    measure_start = run.measure_start
    timeline = result["timeline"]
    errors_at = [p["t"] for p in timeline if p["errors"]]
    # errors counted from the moment it died (to the interval), none before: the first interval
    # with errors ends after the kill and began before the run's own stats showed them
    assert errors_at and killed_at - measure_start <= errors_at[0] and errors_at[0] - 1.0 <= seen_failing_at - measure_start
    # recovery is visible: intervals after it came back are clean and carry load again
    after = [p for p in timeline if p["t"] - 1.0 >= back_at - measure_start + 0.5]
    assert after and all(p["errors"] == 0 and p["requests"] > 0 for p in after), timeline
    metrics = result["metrics"]
    # nothing lost: every scheduled arrival was sent and recorded, or counted as dropped
    assert sum(p["requests"] for p in timeline) == metrics["http/request-count"]
    sent = metrics["http/request-count"] + sum(w["dropped"] for w in result["workers"])
    assert abs(sent - rate * duration) <= 2, (sent, rate * duration)
    overrun = run.overrun(duration)
    assert overrun < 15
    assert_nothing_left(out)
    record("target killed mid-run, back once the outage was counted", overrun,
           "nothing (every arrival recorded or counted dropped)")


@pytest.mark.parametrize("behaviour", ["hang", "slow"])
def test_target_hangs_or_answers_after_the_timeout(behaviour: str, tmp_path: Path,
                                                   serve: Callable[..., FaultServer]) -> None:
    server = serve(behaviour, delay=3.0)
    duration = 4.0
    spec = write_spec(tmp_path, server.url, target={"timeout": "1s"}, load={"duration": "4s", "rate": 0, "users": 2})
    out = tmp_path / "out"
    run = run_cli(tmp_path, "run", str(spec), "--out", str(out))
    assert run.returncode == 1, run.text
    result = run.result
    assert result["status"] == "completed"
    metrics = result["metrics"]
    assert metrics["http/request-count"] > 0
    assert metrics["http/error-count"] == metrics["http/request-count"]  # every request timed out
    assert [e["type"] for e in result["errors"]] == ["Timeout"]
    # each user times out once a second: about users x duration / timeout requests, none unaccounted
    assert metrics["http/request-count"] <= 2 * duration / 1.0 + 2
    overrun = run.overrun(duration)
    assert overrun < 10, overrun  # in-flight requests at the end wait at most target.timeout
    assert_nothing_left(out)
    record(f"target {'hangs after accept' if behaviour == 'hang' else 'answers after 3 s (timeout 1 s)'}",
           overrun, "nothing (every request is a Timeout error)")


def test_odd_responses_are_measured_exactly(tmp_path: Path, serve: Callable[..., FaultServer]) -> None:
    """10 MB, chunked, non-UTF-8, HTTP/1.0, redirect and reset answers in turn, counted exactly."""
    server = serve("mixed")
    requests = 20 * len(MIXED)
    spec = write_spec(tmp_path, server.url, load={"requests": requests, "duration": None, "rate": 0, "users": 4,
                                                  "workers": 2})
    out = tmp_path / "out"
    started = time.time()
    run = run_cli(tmp_path, "run", str(spec), "--out", str(out))
    assert run.returncode == 1, run.text
    result = run.result
    assert result["status"] == "completed" and not any(w["lostAt"] for w in result["workers"])
    metrics = result["metrics"]
    assert metrics["http/request-count"] == requests == server.requests
    assert all(server.served[kind] == 20 for kind in MIXED), server.served
    errors = {e["type"]: e for e in result["errors"]}
    assert set(errors) == {"HTTP 500", "ConnectionClosed"}  # a redirect is an answer (3xx is not an error)
    assert errors["HTTP 500"]["count"] == server.served["not-utf8"]
    assert errors["ConnectionClosed"]["count"] == server.served["reset"]
    assert metrics["http/error-count"] == server.served["not-utf8"] + server.served["reset"]
    assert "model" in errors["HTTP 500"]["example"] and "\ufffd" in errors["HTTP 500"]["example"]
    assert (out / "report.html").is_file()
    assert_nothing_left(out)
    record("10 MB / chunked / non-UTF-8 / HTTP/1.0 / redirect / reset", None,
           f"nothing ({requests} sent = {requests} recorded; run took {run.exited_at - started:.1f}s)")
