"""End to end on this machine: the CLI, a real MLServer (or a real failing server), real Locust
master and worker processes, and the files a run leaves behind."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from runs import measured, run_processes, wait_for_stats  # tests/faults/runs.py

ROOT = Path(__file__).resolve().parents[2]
PAYLOAD = ROOT / "examples" / "payloads" / "sklearn-irisv2-input.json"
RunCli = Callable[..., subprocess.CompletedProcess[str]]


def write_spec(tmp_path: Path, url: str, **sections: Any) -> Path:
    """A spec file for `url`, the example payload, and the given sections merged in."""
    data: dict[str, Any] = {
        "name": "it",
        "target": {"url": url},
        "ready": {"timeout": "30s", "interval": "0.2s"},
        "payload": {"file": str(PAYLOAD)},
        "load": {"users": 4, "requests": 200, "warmup": {"requests": 20}, "workers": 2},
        "slos": {"http/latency-mean": {"upper": 500}, "http/latency-p90": {"upper": 1000}, "http/error-count": {"upper": 0}},
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def result_of(out: Path) -> dict[str, Any]:
    return json.loads((out / "result.json").read_text())


def test_passing_run_writes_everything(iris_server: Any, tmp_path: Path, run_cli: RunCli) -> None:
    spec = write_spec(tmp_path, iris_server.infer_url)
    out = tmp_path / "out"
    proc = run_cli("run", str(spec), "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = result_of(out)
    assert result["status"] == "completed"
    metrics = result["metrics"]
    assert metrics["http/request-count"] == 200  # exact across two workers
    assert metrics["http/error-count"] == 0
    assert sum(w["warmupRequests"] for w in result["workers"]) == 20
    assert len(result["workers"]) == 2
    assert 0 < metrics["http/latency-min"] <= metrics["http/latency-p50"] <= metrics["http/latency-p99"]
    # sub-millisecond precision: not whole milliseconds like Locust's buckets
    assert any(v != round(v) for k, v in metrics.items() if k.startswith("http/latency-p"))
    assert metrics["http/throughput"] > 0
    assert all(s["satisfied"] for s in result["slos"])
    for name in ("report.txt", "report.html", "locust_stats.csv", "locust-master.log"):
        assert (out / name).is_file(), name
    assert "passed" in proc.stdout and "http/latency-p90" in proc.stdout
    assert not run_processes(out)


def test_failing_slo_exits_1(iris_server: Any, tmp_path: Path, run_cli: RunCli) -> None:
    spec = write_spec(tmp_path, iris_server.infer_url, load={"requests": 40, "workers": 1, "warmup": {"requests": 0}},
                      slos={"http/latency-p50": {"upper": 0.001}, "http/latency-p99.9": {"upper": 10000}})
    out = tmp_path / "out"
    proc = run_cli("run", str(spec), "--out", str(out))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    verdicts = {s["metric"]: s["satisfied"] for s in result_of(out)["slos"]}
    assert verdicts["http/latency-p50"] is False
    assert verdicts["http/latency-p99.9"] is True
    assert run_cli("assert", str(out), "-c", "completed", "-c", "nofailure").returncode == 0
    assert run_cli("assert", str(out), "-c", "slos").returncode == 1
    html = run_cli("report", str(out), "-o", "html")
    assert html.returncode == 0 and "<html" in html.stdout


def test_server_errors_are_counted_and_the_run_completes(error_server: str, tmp_path: Path, run_cli: RunCli) -> None:
    spec = write_spec(tmp_path, f"{error_server}/v2/models/broken/infer", ready={"enabled": False},
                      load={"requests": 60, "workers": 1, "warmup": {"requests": 0}})
    out = tmp_path / "out"
    proc = run_cli("run", str(spec), "--out", str(out))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    result = result_of(out)
    assert result["status"] == "completed"
    assert result["metrics"]["http/request-count"] == 60
    assert result["metrics"]["http/error-count"] == 60
    assert result["metrics"]["http/error-rate"] == 1.0
    assert result["errors"][0]["type"] == "HTTP 500"
    assert "model exploded" in result["errors"][0]["example"]
    assert run_cli("assert", str(out), "-c", "nofailure").returncode == 1


def test_target_down_exits_3_within_the_timeout(down_url: str, tmp_path: Path, run_cli: RunCli) -> None:
    spec = write_spec(tmp_path, f"{down_url}/v2/models/sklearn-irisv2/infer", ready={"timeout": "3s"})
    out = tmp_path / "out"
    started = time.monotonic()
    proc = run_cli("run", str(spec), "--out", str(out))
    elapsed = time.monotonic() - started
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "not ready within 3s" in proc.stderr and "refused" in proc.stderr.lower()
    assert "Traceback" not in proc.stderr
    assert elapsed < 30
    assert result_of(out)["status"] == "could-not-run"


def test_wrong_model_name_is_reported_at_readiness(iris_server: Any, tmp_path: Path, run_cli: RunCli) -> None:
    spec = write_spec(tmp_path, f"{iris_server.base_url}/v2/models/no-such-model/infer", ready={"timeout": "2s"})
    proc = run_cli("run", str(spec), "--out", str(tmp_path / "out"))
    assert proc.returncode == 3
    assert "404" in proc.stderr and "no-such-model" in proc.stderr


def test_open_loop_duration_run(iris_server: Any, tmp_path: Path, run_cli: RunCli) -> None:
    spec = write_spec(tmp_path, iris_server.infer_url,
                      load={"requests": None, "duration": "4s", "rate": 50, "workers": 2, "warmup": {"requests": 10}})
    out = tmp_path / "out"
    proc = run_cli("run", str(spec), "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = result_of(out)
    # 50 req/s for 4 s: every scheduled arrival is sent, none beyond the window
    assert 190 <= result["metrics"]["http/request-count"] <= 202
    assert 3.9 <= result["measuredSeconds"] < 6


def test_iter8_tutorial_command(iris_server: Any, tmp_path: Path, run_cli: RunCli) -> None:
    out = tmp_path / "out"
    proc = run_cli(
        "launch",
        "--set", "tasks={ready,http,assess}",
        "--set", f"ready.url={iris_server.base_url}/v2/models/sklearn-irisv2/ready",
        "--set", "ready.timeout=180s",
        "--set", f"http.url={iris_server.infer_url}",
        "--set", f"http.payloadURL={PAYLOAD.as_uri()}",
        "--set", "http.contentType=application/json",
        "--set", "http.warmupNumRequests=50",
        "--set", "http.qps=40",
        "--set", "assess.SLOs.upper.http/latency-mean=500",
        "--set", "assess.SLOs.upper.http/latency-p90=1000",
        "--set", "assess.SLOs.upper.http/error-count=0",
        "--set", "runner=local",
        "--out", str(out),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = result_of(out)
    assert result["metrics"]["http/request-count"] == 100
    assert result["load"]["rate"] == 40 and result["load"]["users"] == 4
    assert len(result["slos"]) == 3


def test_sigint_mid_run_writes_partial_result_and_stops_everything(iris_server: Any, tmp_path: Path) -> None:
    spec = write_spec(tmp_path, iris_server.infer_url, load={"requests": None, "duration": "60s", "workers": 2})
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "isvcperf", "run", str(spec), "--out", str(out)],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_stats(out, measured(40), "measured requests from both workers")
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stdout + stderr
    result = result_of(out)
    assert result["status"] == "interrupted"
    assert result["metrics"]["http/request-count"] > 0
    assert not run_processes(out)
