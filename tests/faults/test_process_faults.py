"""isvcperf's own processes fail or are told to stop: a worker or the master is killed,
the CLI gets SIGINT or SIGTERM in each phase (twice, even). Whatever happens, the result
says what was measured, every process is gone, and the exit code says what happened."""

from __future__ import annotations

import datetime as dt
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from runs import (
    CliRun,
    assert_nothing_left,
    free_port,
    locust_pid,
    measured,
    record,
    run_processes,
    wait_for,
    wait_for_stats,
    write_spec,
)
from servers import FaultServer
from targets import Nginx


def test_worker_killed_mid_run(tmp_path: Path, healthy: Nginx) -> None:
    server = healthy
    duration, rate = 10.0, 60
    spec = write_spec(tmp_path, server.url(), load={"duration": f"{duration:g}s", "rate": rate, "users": 4, "workers": 2})
    out = tmp_path / "out"
    cli = CliRun(tmp_path, ["run", str(spec), "--out", str(out)])
    wait_for_stats(out, measured(rate), "a second of measured load, reported by both workers")
    victim = locust_pid(out, "worker-1")
    os.kill(victim, signal.SIGKILL)
    killed_at = time.time()
    run = cli.wait(out)
    assert run.returncode == 1, run.text  # every SLO may hold: a load shortfall still fails the run
    result = run.result
    assert result["status"] == "completed"
    assert result["reason"] == "load shortfall: 1 of 2 workers lost"
    checks = {c["name"]: c for c in result["validity"]["checks"]}  # and the measurement is invalid (issue 14)
    assert result["validity"]["verdict"] == "invalid" and checks["workers-lost"]["status"] == "fail"
    assert checks["workers-lost"]["value"] == "1 of 2 workers lost"
    lost = [w for w in result["workers"] if w["lostAt"]]
    assert len(lost) == 1
    lost_epoch = dt.datetime.fromisoformat(lost[0]["lostAt"].replace("Z", "+00:00")).timestamp()
    assert killed_at - 1 <= lost_epoch <= killed_at + 15
    assert lost[0]["process"] == f"worker-1 (pid {victim})"  # which process, as the logs name it
    assert any(lost[0]["id"] in w and f"worker-1 (pid {victim})" in w for w in result["warnings"]), result["warnings"]
    # the runner saw the process end and told the master, rather than the master waiting for Locust's heartbeat
    assert any(w.startswith(f"worker-1 (pid {victim}) was killed by SIGKILL during the run") for w in result["warnings"])
    assert "lost (its process exited)" in (out / "locust-master.log").read_text()
    # the shortfall, measured: what the lost worker sent against what the other one did
    kept = next(w["requests"] for w in result["workers"] if not w["lostAt"])
    applied = (kept + lost[0]["requests"]) / (2 * kept)
    assert applied < 0.9
    assert any(f"about {100 * applied:.0f}% of the load asked for was applied (the lost workers sent "
               f"{lost[0]['requests']} requests, the others {kept} each)" in w for w in result["warnings"]), result

    # what the master never heard of: requests the dead worker sent after its last report
    unreported = server.requests - int(result["metrics"]["http/request-count"])
    overrun = run.overrun(duration)
    assert overrun < 15
    assert_nothing_left(out)
    record("worker process killed (SIGKILL)", overrun,
           f"the killed worker's last unreported moments: {unreported} of {server.requests} requests "
           "(workers report every second)")


def test_worker_killed_near_the_end_does_not_hold_the_run(tmp_path: Path, healthy: Nginx) -> None:
    """Killed 2-3 s before the end: the master used to wait for Locust's heartbeat (4-5 s after the kill) to
    call the worker lost and finish the run; the local runner sees the exit and tells it at once."""
    duration, rate = 10.0, 60
    spec = write_spec(tmp_path, healthy.url(), load={"duration": f"{duration:g}s", "rate": rate, "users": 4, "workers": 2})
    out = tmp_path / "out"
    cli = CliRun(tmp_path, ["run", str(spec), "--out", str(out)])
    wait_for_stats(out, measured(int(rate * (duration - 3))), "7 s of measured load")
    victim = locust_pid(out, "worker-1")
    os.kill(victim, signal.SIGKILL)
    run = cli.wait(out)
    assert run.returncode == 1 and run.result["reason"] == "load shortfall: 1 of 2 workers lost", run.text
    assert any(w.startswith(f"worker-1 (pid {victim}) was killed by SIGKILL during the run") for w in run.result["warnings"])
    assert "lost (its process exited)" in (out / "locust-master.log").read_text()
    overrun = run.overrun(duration)
    assert overrun < 15
    assert_nothing_left(out)
    record("worker process killed 2-3 s before the end", overrun, f"{healthy.requests - int(run.result['metrics']['http/request-count'])} "
           f"of {healthy.requests} requests (workers report every second)")


def test_a_paused_worker_is_slow_not_lost(tmp_path: Path, healthy: Nginx) -> None:
    """SIGSTOP for 2 s, then SIGCONT: a slow but alive worker. Only a process that exited is reported to the
    master, and 2 s is within Locust's heartbeat liveness, so nothing is lost."""
    spec = write_spec(tmp_path, healthy.url(), load={"duration": "6s", "rate": 60, "users": 4, "workers": 2})
    out = tmp_path / "out"
    cli = CliRun(tmp_path, ["run", str(spec), "--out", str(out), "--allow-invalid"])  # the pause makes sends late
    wait_for_stats(out, measured(60), "a second of measured load")
    paused = locust_pid(out, "worker-1")
    os.kill(paused, signal.SIGSTOP)
    try:
        time.sleep(2)
    finally:
        os.kill(paused, signal.SIGCONT)
    run = cli.wait(out)
    assert not any(w["lostAt"] for w in run.result["workers"]), run.result["workers"]
    assert not any("during the run" in w or "lost" in w for w in run.result["warnings"]), run.result["warnings"]
    assert run.result["reason"] != "load shortfall: 1 of 2 workers lost"
    assert_nothing_left(out)


def test_master_killed_mid_run(tmp_path: Path, healthy: Nginx) -> None:
    server = healthy
    spec = write_spec(tmp_path, server.url(), load={"duration": "30s", "rate": 40, "workers": 2})
    out = tmp_path / "out"
    cli = CliRun(tmp_path, ["run", str(spec), "--out", str(out)])
    wait_for_stats(out, measured(80), "two seconds of measured load")
    os.kill(locust_pid(out, "master"), signal.SIGKILL)
    killed_at = time.time()
    run = cli.wait(out)
    assert run.returncode == 3, run.text
    assert "the Locust master was killed by SIGKILL during the run" in run.stderr
    assert "Traceback" not in run.text
    result = run.result
    assert result["status"] == "could-not-run"
    # the workers outlived their master: their own final counts are the result
    assert any("the Locust master died" in w for w in result["warnings"]), result["warnings"]
    recorded = int(result["metrics"]["http/request-count"])
    assert 0 <= server.requests - recorded <= 2  # at most the requests in flight when the workers stopped
    assert_nothing_left(out)
    record("master process killed (SIGKILL)", None,
           f"{server.requests - recorded} of {server.requests} requests (in flight when the workers were stopped); "
           f"exit 3 {run.exited_at - killed_at:.1f}s after the kill")


def test_cli_killed_outright_leaves_nothing_running(tmp_path: Path, healthy: Nginx) -> None:
    """SIGKILL to isvcperf itself: no clean-up can run in it, so its Locust processes notice and quit."""
    server = healthy
    spec = write_spec(tmp_path, server.url(), load={"duration": "60s", "workers": 2})
    out = tmp_path / "out"
    cli = CliRun(tmp_path, ["run", str(spec), "--out", str(out)])
    wait_for(lambda: server.requests > 40, 60, "the load to start")
    assert len(run_processes(out)) == 3
    cli.proc.kill()
    killed_at = time.time()
    cli.proc.wait()
    wait_for(lambda: not run_processes(out), 15, "the orphaned Locust processes to quit")
    gone_after = time.time() - killed_at
    requests = server.requests
    time.sleep(1)  # not a guess at an event: a second in which a live generator would have sent ~40 requests
    assert server.requests == requests  # and no more load is sent
    record("isvcperf itself killed (SIGKILL)", None,
           f"everything not yet written (nothing can run in a SIGKILLed process); its Locust processes quit "
           f"{gone_after:.1f}s later")


def _phase_setup(phase: str, tmp_path: Path, target: Nginx,
                 serve: Callable[..., FaultServer]) -> tuple[Path, dict[str, str], Callable[[Path, CliRun], None]]:
    """A spec that stays in `phase` long enough, and how to tell (from the run itself) that it is in it."""
    if phase == "readiness":  # a port nothing listens on: readiness keeps polling
        spec = write_spec(tmp_path, f"http://127.0.0.1:{free_port()}/v2/models/fault/infer", ready={"timeout": "60s"})
        return spec, {}, lambda out, cli: wait_for(lambda: "waiting for the target" in cli.stdout, 30, "readiness")
    if phase == "reporting":
        hook = serve("hang")
        spec = write_spec(tmp_path, target.url(), load={"duration": "1s"},
                          notify={"url": "${FAULT_HOOK}", "on": "always"})
        return spec, {"FAULT_HOOK": hook.base_url}, lambda out, cli: wait_for(lambda: hook.requests > 0, 60,
                                                                              "the webhook")
    if phase == "warm-up":  # both workers have reported warm-up requests, and the measured window has not begun
        spec = write_spec(tmp_path, target.url(), load={"duration": "60s", "warmup": {"duration": "60s"}, "workers": 2})
        return spec, {}, lambda out, cli: wait_for_stats(out, lambda s: not s["total"].get("measureStart") and all(
            (w.get("warmupRequests") or 0) > 0 for w in s["workers"].values()) and len(s["workers"]) == 2, "warm-up")
    spec = write_spec(tmp_path, target.url(), load={"duration": "60s", "workers": 2})
    return spec, {}, lambda out, cli: wait_for_stats(out, measured(80), "two seconds of measured load")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("phase", ["readiness", "warm-up", "measuring", "reporting"])
def test_signal_in_each_phase(phase: str, sig: signal.Signals, tmp_path: Path, healthy: Nginx,
                              serve: Callable[..., FaultServer]) -> None:
    spec, env, reached = _phase_setup(phase, tmp_path, healthy, serve)
    out = tmp_path / "out"
    cli = CliRun(tmp_path, ["run", str(spec), "--out", str(out)], env)
    reached(out, cli)
    cli.signal(sig)
    signalled = time.time()
    run = cli.wait(out)
    assert run.returncode == 130, run.text
    assert "Traceback" not in run.text
    result = run.result
    for name in ("report.txt", "report.html"):
        assert (out / name).is_file(), name
    if phase == "reporting":
        assert result["status"] == "completed"  # the result was whole; only the webhook was cut short
    else:
        assert result["status"] == "interrupted" and result["reason"] == "interrupted by the user"
    lost = "nothing"
    if phase in ("warm-up", "measuring"):
        sent = int(result["metrics"].get("http/request-count", 0)) + sum(w["warmupRequests"] for w in result["workers"])
        assert (result["metrics"].get("http/request-count", 0) == 0) == (phase == "warm-up")
        served = healthy.requests
        assert 0 <= served - sent <= 2, (served, sent)  # the workers were flushed: only requests in flight are missing
        lost = f"{served - sent} of {served} requests (in flight at the stop)"
    assert_nothing_left(out)
    if sig == signal.SIGINT:
        record(f"SIGINT during {phase}", None, f"{lost}; exit 130 {run.exited_at - signalled:.1f}s after it")


def test_second_sigint_stops_at_once(tmp_path: Path, serve: Callable[..., FaultServer]) -> None:
    """Ctrl-C, then Ctrl-C again while the first one is cleaning up: everything is killed at once."""
    target = serve("hang")
    spec = write_spec(tmp_path, target.url, target={"timeout": "30s"},
                      load={"duration": "60s", "rate": 0, "users": 4, "workers": 2})
    out = tmp_path / "out"
    cli = CliRun(tmp_path, ["run", str(spec), "--out", str(out)])
    wait_for(lambda: target.connections >= 4, 60, "every user to wait on the hanging target")
    cli.signal(signal.SIGINT)
    master_log = out / "locust-master.log"
    wait_for(lambda: "the orchestrator asked to stop" in master_log.read_text(), 20, "the first SIGINT's clean-up")
    cli.signal(signal.SIGINT)
    signalled = time.time()
    run = cli.wait(out, timeout=20)
    assert run.returncode == 130, run.text
    assert "Traceback" not in run.text
    assert run.result["status"] == "interrupted"
    assert "Got SIGTERM" not in (out / "locust-master.log").read_text()  # killed at once, not stopped gracefully
    assert_nothing_left(out)
    record("second SIGINT during clean-up", None, f"nothing; exit 130 {run.exited_at - signalled:.1f}s after it")
