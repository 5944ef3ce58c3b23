"""Validity end to end (issue 14): each check provoked by a real run against a real target
(MLServer's iris model, nginx on loopback), the verdict shown first in the reports, the
exit code, `assert -c valid`, `compare` refusing a verdict, and load.overload: queue."""

from __future__ import annotations

import json
import statistics
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
PAYLOAD = ROOT / "examples" / "payloads" / "sklearn-irisv2-input.json"
RunCli = Callable[..., subprocess.CompletedProcess[str]]


def write(tmp_path: Path, url: str, load: dict[str, Any], name: str = "spec", **extra: Any) -> Path:
    data = {"name": "validity", "target": {"url": url}, "ready": {"timeout": "30s", "interval": "0.2s"},
            "payload": {"file": str(PAYLOAD)}, "load": load, **extra}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def checks(out: Path) -> dict[str, dict[str, Any]]:
    found = json.loads((out / "result.json").read_text())
    return {c["name"]: c for c in found["validity"]["checks"]}


def test_an_overloaded_open_loop_run_against_mlserver_is_invalid_and_fails(iris_server: Any, tmp_path: Path,
                                                                           run_cli: RunCli) -> None:
    # finding 3: far more than MLServer serves with 2 users; every SLO is lenient, so only validity fails it.
    # requests: mode (finding 5: no achieved-rate check there before)
    load = {"users": 2, "workers": 1, "rate": 3000, "requests": 1500, "warmup": {"requests": 20}}
    out = tmp_path / "out"
    proc = run_cli("run", str(write(tmp_path, iris_server.infer_url, load,
                                    slos={"http/latency-p90": {"upper": 60000}})), "--out", str(out),
                   "--report", "text", "--report", "markdown", "--report", "junit")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    found = checks(out)
    assert found["drops"]["status"] == "fail" and "raise load.users" in found["drops"]["advice"]
    assert found["achieved-rate"]["status"] == "fail" and "of the 3000 req/s" in found["achieved-rate"]["value"]
    result = json.loads((out / "result.json").read_text())
    assert result["validity"]["verdict"] == "invalid" and [s["satisfied"] for s in result["slos"]] == [True]
    report = (out / "report.txt").read_text().splitlines()
    assert report[3].startswith("Validity") and "INVALID: " in report[3] and "drops" in report[3]
    assert report[4].startswith("Verdict") and "invalid" in report[4]
    assert "Validity: INVALID" in (out / "report.md").read_text().split("\n\n")[1]
    assert 'name="measurement valid"' in (out / "junit.xml").read_text()
    assert "InvalidMeasurement" in (out / "junit.xml").read_text()

    # the stored result: assert -c valid fails, compare gives no regression verdict
    proc = run_cli("assert", str(out), "-c", "slos", "-c", "valid")
    assert proc.returncode == 1 and "valid: NOT satisfied" in proc.stdout
    proc = run_cli("compare", str(out), str(out))
    assert proc.returncode == 1
    assert "Verdict: INVALID: no regression verdict" in proc.stdout and "the base run is invalid (" in proc.stdout
    assert run_cli("compare", str(out), str(out), "--allow-invalid").returncode == 0


def test_queue_mode_waits_and_the_wait_is_in_the_latency(nginx: Any, tmp_path: Path, run_cli: RunCli) -> None:
    # one user against a 20 ms target holds ~50 req/s; 200 req/s queue behind it (wrk2's view)
    load = {"users": 1, "workers": 1, "rate": 200, "duration": "2s", "overload": "queue"}
    out = tmp_path / "out"
    spec = write(tmp_path, nginx.url("delay20"), load, ready={"enabled": False}, target={
        "url": nginx.url("delay20"), "protocol": "raw"})
    proc = run_cli("run", str(spec), "--out", str(out), "--allow-invalid")
    assert proc.returncode == 0, proc.stdout + proc.stderr  # every SLO holds (there are none): allowed
    result = json.loads((out / "result.json").read_text())
    metrics = result["metrics"]
    # served in turn: the later arrivals waited, and their latency from the intended start says so
    assert metrics["http/latency-p50"] > 10 * metrics["http/service-time-p50"]
    assert metrics["http/latency-max"] > 500
    found = checks(out)
    # what was still queued when the window ended was never sent: counted as dropped, so invalid
    assert found["drops"]["status"] == "fail" and result["validity"]["verdict"] == "invalid"
    assert found["send-lateness"]["status"] == "fail"  # the queue wait is send lateness too
    assert "Verdict   invalid: " in (out / "report.txt").read_text()  # reports still say invalid
    assert run_cli("run", str(spec), "--out", str(tmp_path / "strict")).returncode == 1


def test_too_few_samples_for_a_p99_9_slo(nginx: Any, tmp_path: Path, run_cli: RunCli) -> None:
    load = {"users": 2, "workers": 1, "requests": 400}
    spec = write(tmp_path, nginx.url(), load, ready={"enabled": False}, target={"url": nginx.url(), "protocol": "raw"},
                 slos={"http/latency-p99.9": {"upper": 60000}})
    out = tmp_path / "out"
    proc = run_cli("run", str(spec), "--out", str(out))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    found = checks(out)["samples"]
    assert found["status"] == "fail" and "0.4 of 400 requests" in found["value"]
    assert "run at least 10000 requests" in found["advice"]


def test_generator_stability_warm_up_and_survivorship_checks_read_real_runs(nginx: Any, error_server: str,
                                                                           tmp_path: Path, run_cli: RunCli) -> None:
    # A real 4 s run judged with limits below any machine's noise: each check must read the run's own
    # windows and intervals and say what it measured (the defaults are argued in the README).
    load = {"users": 4, "workers": 1, "duration": "4s"}
    tight = {"maxGeneratorCpu": 0.01, "stabilityWindow": "1s", "stabilityTolerance": 0.000001, "warmupSlowdown": 0.01,
             "warmupFloor": 0}
    spec = write(tmp_path, nginx.url(), load, ready={"enabled": False}, target={"url": nginx.url(), "protocol": "raw"},
                 validity=tight)
    out = tmp_path / "out"
    assert run_cli("run", str(spec), "--out", str(out)).returncode == 1
    found = checks(out)
    assert found["generator-cpu"]["status"] == "fail" and "load.workers" in found["generator-cpu"]["advice"]
    assert found["stability"]["status"] == "fail" and "over 3 windows of 1s" in found["stability"]["value"]
    # warm-up: with no floor and a ×0.01 limit it fails exactly when the first interval was the slower one
    timeline = [p["p50"] for p in json.loads((out / "result.json").read_text())["timeline"] if p["p50"] is not None]
    first_slower = timeline[0] > statistics.median(timeline[1:])
    assert found["warm-up"]["status"] == ("fail" if first_slower else "pass"), found["warm-up"]
    assert "lengthen load.warmup" in found["warm-up"]["advice"]
    assert found["survivorship"]["status"] == "pass"

    # every request fails: the latency describes nobody; and a judged check can be ignored
    load = {"users": 2, "workers": 1, "requests": 100}
    failing = write(tmp_path, error_server + "/infer", load, name="errors", ready={"enabled": False},
                    target={"url": error_server + "/infer", "protocol": "raw"}, validity={"ignore": ["survivorship"]})
    out = tmp_path / "errors"
    assert run_cli("run", str(failing), "--out", str(out)).returncode == 0
    found = checks(out)["survivorship"]
    assert found["status"] == "warn" and found["value"] == "100% of requests failed"


def test_a_run_of_more_workers_than_a_master_serves_is_warned_before_it_starts(nginx: Any, tmp_path: Path,
                                                                              run_cli: RunCli) -> None:
    """master-capacity (advice only): said before the load starts, and in the verdict's checks after."""
    load = {"users": 2, "workers": 2, "rate": 20, "duration": "2s"}
    spec = write(tmp_path, nginx.url(), load, validity={"maxWorkersPerMaster": 1}, target={"url": nginx.url(),
                                                                                          "protocol": "raw"})
    out = tmp_path / "out"
    proc = run_cli("run", str(spec), "--out", str(out), "--report", "text")
    assert proc.returncode == 0, proc.stdout + proc.stderr  # a warning does not make the measurement invalid
    warning = ("isvcperf: warning: 2 worker processes report to one Locust master, which serves 1 "
               "(validity.maxWorkersPerMaster): past it the master's CPU")
    assert warning in proc.stdout
    assert proc.stdout.index(warning) < proc.stdout.index("isvcperf report")  # before the run, not only in its report
    found = checks(out)["master-capacity"]
    assert found["status"] == "warn" and found["value"] == "2 workers" and found["limit"] == "1 per master"
