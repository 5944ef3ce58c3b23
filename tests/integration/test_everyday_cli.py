"""Everyday CLI paths against a real MLServer, as a user meets them (issue 12): where the
files go, what a failing model's errors say, when a run is refused instead of measured."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from runs import run_processes  # tests/faults/runs.py
from test_run import RunCli, result_of, write_spec

EXCEPTION = "ValueError: X has 3 features, but LogisticRegression is expecting 4 features as input."
"""The last line of the traceback MLServer answers (HTTP 500) for an iris request with three features."""


def three_features(tmp_path: Path) -> str:
    path = tmp_path / "three-features.json"
    path.write_text(json.dumps({"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}))
    return str(path)


def test_a_relative_out_holds_locust_files_without_nesting(iris_server: Any, tmp_path: Path, run_cli: RunCli) -> None:
    spec = write_spec(tmp_path, iris_server.infer_url, load={"requests": 40, "workers": 1, "warmup": {"requests": 0}})
    # --allow-invalid: 40 requests cannot carry write_spec's p90 (validity: samples); this test is about --out
    proc = run_cli("run", str(spec), "--out", "results/today", "--allow-invalid")  # run_cli's cwd is tmp_path
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = tmp_path / "results" / "today"
    for name in ("result.json", "locust_stats.csv", "locust-master.log", "locust-worker-0.log"):
        assert (out / name).is_file(), name
    assert not (out / "results").exists()


def test_error_examples_keep_the_exception_at_the_end(iris_server: Any, tmp_path: Path, run_cli: RunCli) -> None:
    spec = write_spec(tmp_path, iris_server.infer_url, payload={"file": three_features(tmp_path)},
                      load={"requests": 20, "workers": 1, "warmup": {"requests": 0}})
    out = tmp_path / "out"
    proc = run_cli("run", str(spec), "--out", str(out))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    (group,) = result_of(out)["errors"]
    assert group["type"] == "HTTP 500" and group["count"] == 20
    assert group["example"].startswith("Traceback (most recent call last):")
    assert group["example"].rstrip().endswith(EXCEPTION)


def test_a_warmup_that_all_failed_stops_the_run_with_exit_3(iris_server: Any, tmp_path: Path, run_cli: RunCli) -> None:
    spec = write_spec(tmp_path, iris_server.infer_url, payload={"file": three_features(tmp_path)},
                      load={"requests": None, "duration": "60s", "workers": 2, "users": 2, "warmup": {"requests": 10}})
    out = tmp_path / "out"
    proc = run_cli("run", str(spec), "--out", str(out), timeout=40)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    error = proc.stderr.strip().splitlines()[-1]
    assert error.startswith("isvcperf: error: every one of the 10 warm-up requests failed")
    assert "HTTP 500" in error and EXCEPTION in error
    result = result_of(out)
    assert result["status"] == "could-not-run" and result["measuredSeconds"] < 5
    assert "Traceback" not in proc.stderr.replace(error, "")  # one line, no Python traceback of ours
    assert not run_processes(out)


def test_a_wrong_v2_model_fails_fast_naming_the_served_models(iris_server: Any, tmp_path: Path,
                                                              run_cli: RunCli) -> None:
    """MLServer is up and lists its models (V2 repository index): a typo fails now, not after ready.timeout."""
    url = iris_server.infer_url.replace("sklearn-irisv2", "sklearn-iris-v2")
    spec = write_spec(tmp_path, url, ready={"timeout": "600s"})
    proc = run_cli("run", str(spec), "--out", str(tmp_path / "out"), timeout=60)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "does not serve model 'sklearn-iris-v2'; it serves: sklearn-irisv2" in proc.stderr


def test_a_wait_for_the_target_says_so_every_few_seconds(down_url: str, tmp_path: Path, monkeypatch: Any) -> None:
    """No terminal needed: a CI log shows the wait going on, with the time waited and the timeout."""
    from isvcperf import spec as spec_module
    from isvcperf.readiness import http
    from isvcperf.util.errors import CouldNotRun

    monkeypatch.setattr(http, "PROGRESS_EVERY_S", 0.5)
    run_spec = spec_module.from_data({"target": {"url": f"{down_url}/v2/models/m/infer"}, "payload": {"inline": {}},
                                      "ready": {"timeout": "2s", "interval": "0.1s"}})
    lines: list[str] = []
    try:
        http.wait_ready(run_spec, progress=lines.append)
    except CouldNotRun as exc:
        assert "not ready within 2s" in str(exc)
    else:
        raise AssertionError("a port nothing listens on was called ready")
    assert len(lines) >= 3, lines  # the same problem all along, repeated with the time waited
    assert all(line.startswith("waiting for the target (") and " of 2s): " in line for line in lines)


def test_two_identical_back_to_back_runs_are_not_called_regressed(iris_server: Any, tmp_path: Path,
                                                                  run_cli: RunCli) -> None:
    """What compare's noise model (results.noise) allows for: identical runs on this machine, whatever its load."""
    # 8 users and a 1 s warm-up: on a busy 2-core machine MLServer stalls for tens of ms now and then, and
    # with 4 users a stall dropped arrivals; after 20 warm-up requests the first second was still slow.
    # A stall in the first measured second still trips the warm-up check now and then (1 run in 12): the
    # validity checks have their own tests (test_validity_runs), so --allow-invalid keeps them out of this one.
    spec = write_spec(tmp_path, iris_server.infer_url,
                      load={"requests": None, "duration": "4s", "rate": 100, "users": 8, "workers": 1,
                            "warmup": {"requests": 100}})
    for name in ("base", "again"):
        proc = run_cli("run", str(spec), "--out", name, "--allow-invalid")
        assert proc.returncode == 0, proc.stdout + proc.stderr
    compared = run_cli("compare", "base", "again", "--allow-invalid")
    assert compared.returncode == 0, compared.stdout + compared.stderr
    assert "Verdict: no regression" in compared.stdout and "open loop at 100 req/s" in compared.stdout


def test_a_quick_run_without_a_spec_file(iris_server: Any, tmp_path: Path, run_cli: RunCli) -> None:
    payload = Path(__file__).resolve().parents[2] / "examples" / "payloads" / "sklearn-irisv2-input.json"
    proc = run_cli("run", "--url", iris_server.infer_url, "--payload", str(payload), "-c", "2", "--requests", "30",
                   "--rate", "50", "--slo", "http/latency-p99<=5000", "--slo", "http/throughput >= 1", "--out", "quick",
                   "--allow-invalid")  # a p99 on 30 requests, knowingly: the flags are what this test is about
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = result_of(tmp_path / "quick")
    assert [c["name"] for c in result["validity"]["checks"] if c["status"] == "fail"] == ["samples"]
    assert result["name"] == "sklearn-irisv2" and result["metrics"]["http/request-count"] == 30
    assert result["load"]["users"] == 2 and result["load"]["rate"] == 50
    assert {s["metric"]: (s.get("upper"), s.get("lower")) for s in result["slos"]} == {
        "http/latency-p99": (5000, None), "http/throughput": (None, 1)}


def test_the_example_server_keeps_serving_until_interrupted(tmp_path: Path) -> None:
    """`make serve`: the iris server stays up for a user's own commands, and Ctrl-C stops all of it."""
    import signal
    import subprocess
    import sys
    import urllib.request

    from iris_server import free_port

    script = Path(__file__).resolve().parents[2] / "examples" / "iris_server.py"
    port = free_port()
    process = subprocess.Popen([sys.executable, str(script), "--workdir", str(tmp_path / "w"), "--serve",
                                "--http-port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()  # printed once MLServer's model is ready (bounded by its READY_TIMEOUT_S)
        assert first.startswith(f"MLServer ready at http://127.0.0.1:{port}"), first
        assert "--set target.url=" in process.stdout.readline() + process.stdout.readline()
        ready = f"http://127.0.0.1:{port}/v2/models/sklearn-irisv2/ready"
        with urllib.request.urlopen(ready, timeout=5) as response:
            assert response.status == 200
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 130
        try:
            urllib.request.urlopen(ready, timeout=2)
            raise AssertionError("the server outlived Ctrl-C")
        except OSError:
            pass
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    usage = subprocess.run([sys.executable, str(script), "--workdir", str(tmp_path)], capture_output=True, text=True,
                           timeout=30)
    assert usage.returncode == 2 and "give either --serve or a COMMAND after --" in usage.stderr
