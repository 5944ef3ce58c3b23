"""Load that stays true under pressure, end to end against nginx on loopback: stages, open
loop with dropped arrivals, a saturated generator said out loud, and the capacity sweep."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

RunCli = Callable[..., subprocess.CompletedProcess[str]]


def spec(tmp_path: Path, url: str, load: dict[str, Any], **extra: Any) -> Path:
    data = {"name": "load-model", "target": {"url": url, "protocol": "raw"}, "ready": {"enabled": False},
            "payload": {"inline": {"inputs": []}}, "load": load, **extra}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def result(out: Path) -> dict[str, Any]:
    return json.loads((out / "result.json").read_text())


def validity_line(check: dict[str, str]) -> str:
    return f"{check['name']}: {check['value']}; limit {check['limit']}: {check['advice']}"


def test_rate_stages_are_followed_and_reported(nginx: Any, tmp_path: Path, run_cli: RunCli) -> None:
    load = {"users": 16, "workers": 2, "stages": [{"duration": "2s", "rate": 100}, {"duration": "2s", "rate": 100}]}
    out = tmp_path / "out"
    proc = run_cli("run", str(spec(tmp_path, nginx.url(), load)), "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = result(out)
    first, second = found["stages"]
    assert first["target"] == {"rate": 100.0} and second["end"] == 4.0
    # a ramp from 0 to 100 req/s over 2 s sends about 100 requests, the hold about 200
    assert 90 <= first["metrics"]["http/request-count"] <= 110
    assert 190 <= second["metrics"]["http/request-count"] <= 210
    assert found["metrics"]["http/request-count"] == first["metrics"]["http/request-count"] + second["metrics"]["http/request-count"]
    assert {p["stage"] for p in found["timeline"]} >= {0, 1}
    assert "http/service-time-p50" in found["metrics"]  # open loop keeps both clocks


def test_arrivals_finding_every_user_busy_are_dropped_and_explained(nginx: Any, tmp_path: Path,
                                                                    run_cli: RunCli) -> None:
    # one user can do at most ~50 req/s against a 20 ms target: 200 req/s must drop arrivals
    # (--allow-invalid: the drops make the measurement invalid, which alone exits 1; see test_validity_runs.py)
    load = {"users": 1, "workers": 1, "rate": 200, "duration": "3s"}
    out = tmp_path / "out"
    proc = run_cli("run", str(spec(tmp_path, nginx.url("delay20"), load)), "--out", str(out), "--allow-invalid")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = result(out)
    dropped = sum(w["dropped"] for w in found["workers"])
    assert dropped > 300
    assert found["metrics"]["http/request-count"] < 200
    explained = [validity_line(c) for c in found["validity"]["checks"]]  # the warnings became validity checks
    assert any("users exhausted" in w for w in explained)
    assert any("achieved" in w and "of the 200 req/s" in w for w in explained)


def test_an_open_loop_result_has_its_send_lateness_and_no_spurious_drop(nginx: Any, tmp_path: Path,
                                                                        run_cli: RunCli) -> None:
    # 20 req/s with 4 users against a target answering at once: nothing can be dropped
    # (finding 4: one arrival was, in most runs, with a false "raise load.users" warning)
    load = {"users": 4, "workers": 1, "rate": 20, "duration": "2s"}
    out = tmp_path / "out"
    # --allow-invalid: a p99 SLO on 40 requests rests on 0.4 of them (validity: samples needs 10)
    proc = run_cli("run", str(spec(tmp_path, nginx.url(), load, slos={"http/send-lateness-p99": {"upper": 60000}})),
                   "--out", str(out), "--allow-invalid")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = result(out)
    assert [w["dropped"] for w in found["workers"]] == [0]
    assert found["metrics"]["http/request-count"] == 40  # exactly rate × duration: the first arrival at the start
    assert not any("load.users" in w for w in found["warnings"])
    metrics = found["metrics"]
    lateness = [metrics[f"http/send-lateness-{s}"] for s in ("min", "p50", "p99", "max")]
    assert 0 < lateness[0] <= lateness[1] <= lateness[2] <= lateness[3]
    # the latency from the intended start holds the lateness and the service time, no less
    assert metrics["http/latency-max"] >= metrics["http/service-time-min"]
    report = (out / "report.txt").read_text()
    assert "http/send-lateness-p50" in report
    assert found["slos"][0]["metric"] == "http/send-lateness-p99"


def test_a_wrong_pacer_name_is_one_line(nginx: Any, tmp_path: Path, run_cli: RunCli,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ISVCPERF_PACER", "turbo")
    proc = run_cli("run", str(spec(tmp_path, nginx.url(), {"users": 1, "rate": 5, "duration": "1s"})))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "isvcperf: error: ISVCPERF_PACER: 'turbo' is not a pacer; use one of timerfd, spin, sleep "
        "(or leave it unset for timerfd where the system has it)"]


def test_generator_cpu_is_measured_and_saturation_said_out_loud(nginx: Any, tmp_path: Path,
                                                                run_cli: RunCli) -> None:
    # closed loop against nginx: the worker is the bottleneck and runs flat out
    # (--allow-invalid: a saturated generator makes the measurement invalid, which alone exits 1)
    out = tmp_path / "out"
    proc = run_cli("run", str(spec(tmp_path, nginx.url(), {"users": 16, "workers": 1, "duration": "3s"})),
                   "--out", str(out), "--allow-invalid")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = result(out)
    cpu = max(p["cpu"] for p in found["timeline"])
    assert cpu > 30  # a busy generator, whatever else shares the machine
    saturated = any(c["status"] == "fail" and "load generator saturated" in c["advice"]
                    for c in found["validity"]["checks"])
    assert saturated == (cpu > 90)
    assert max(p["throughput"] for p in found["timeline"]) > 0


def test_sweep_finds_the_highest_passing_load(nginx: Any, tmp_path: Path, run_cli: RunCli) -> None:
    load = {"users": 8, "workers": 1, "duration": "2s", "sweep": {"parameter": "rate", "values": [20, 40]}}
    # p50, not p99: 40 requests a step are too few to judge a p99 by (validity: n·(1−q) ≥ 10)
    path = spec(tmp_path, nginx.url(), load, slos={"http/latency-p50": {"upper": 1000}})
    out = tmp_path / "out"
    proc = run_cli("sweep", str(path), "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    sweep = json.loads((out / "sweep.json").read_text())
    assert sweep["capacity"] == 40 and [s["verdict"] for s in sweep["steps"]] == ["passed", "passed"]
    assert "Capacity: rate 40" in proc.stdout

    impossible = spec(tmp_path, nginx.url(), load, slos={"http/latency-p50": {"upper": 0.001}})
    proc = run_cli("sweep", str(impossible), "--out", str(tmp_path / "out2"))
    assert proc.returncode == 1
    sweep = json.loads((tmp_path / "out2" / "sweep.json").read_text())
    assert sweep["capacity"] is None and len(sweep["steps"]) == 1  # stopped at the first failing step


def test_bad_sweep_is_bad_input(nginx: Any, tmp_path: Path, run_cli: RunCli) -> None:
    load = {"users": 8, "duration": "2s", "sweep": {"start": 10, "max": 50}}
    proc = run_cli("sweep", str(spec(tmp_path, nginx.url(), load)))
    assert proc.returncode == 2
    assert "load.sweep: give values: [...] or all of start, step and max" in proc.stderr
