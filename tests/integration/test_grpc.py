"""gRPC (Open Inference Protocol V2) end to end: the CLI, real Locust processes, MLServer's gRPC port."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
REST_PAYLOAD = ROOT / "examples" / "payloads" / "sklearn-irisv2-input.json"
GRPC_PAYLOAD = ROOT / "examples" / "payloads" / "sklearn-irisv2-input-grpc.json"
RunCli = Callable[..., subprocess.CompletedProcess[str]]


def grpc_url(server: Any) -> str:
    return f"grpc://127.0.0.1:{server.grpc_port}"


def write_spec(tmp_path: Path, url: str, **sections: Any) -> Path:
    data: dict[str, Any] = {
        "name": "grpc-it",
        "target": {"url": url, "protocol": "grpc-v2"},
        "ready": {"timeout": "30s", "interval": "0.2s"},
        "payload": {"file": str(GRPC_PAYLOAD)},
        "load": {"users": 4, "requests": 200, "warmup": {"requests": 20}, "workers": 2},
        "slos": {"grpc/latency/mean": {"upper": 500}, "grpc/latency-p90": {"upper": 1000},
                 "grpc/error-count": {"upper": 0}},
    }
    for key, value in sections.items():
        data[key] = {**data[key], **value} if isinstance(value, dict) and isinstance(data.get(key), dict) else value
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def result_of(out: Path) -> dict[str, Any]:
    return json.loads((out / "result.json").read_text())


def test_rest_payload_converted_and_counted_exactly(iris_server: Any, tmp_path: Path, run_cli: RunCli,
                                                    monkeypatch: Any) -> None:
    monkeypatch.setenv("ISVCPERF_TEST_TOKEN", "t0ken")
    spec = write_spec(tmp_path, grpc_url(iris_server),
                      target={"model": "sklearn-irisv2", "headers": {"Authorization": "Bearer ${ISVCPERF_TEST_TOKEN}"}},
                      payload={"file": str(REST_PAYLOAD)})
    out = tmp_path / "out"
    proc = run_cli("run", str(spec), "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = result_of(out)
    metrics = result["metrics"]
    assert metrics["grpc/request-count"] == 200  # exact across two workers
    assert metrics["grpc/error-count"] == 0 and metrics["grpc/error-rate"] == 0
    assert sum(w["warmupRequests"] for w in result["workers"]) == 20
    assert 0 < metrics["grpc/latency/min"] <= metrics["grpc/latency/p50"] <= metrics["grpc/latency/p90"]
    assert metrics["grpc/throughput"] > 0
    assert not any(name.startswith("http/") for name in metrics)
    assert {s["metric"] for s in result["slos"]} == {"grpc/latency/mean", "grpc/latency/p90", "grpc/error-count"}
    assert all(s["satisfied"] for s in result["slos"])
    assert result["target"] == {"url": grpc_url(iris_server), "protocol": "grpc-v2", "model": "sklearn-irisv2"}
    assert "t0ken" not in (out / "result.json").read_text()  # metadata values are redacted like headers


def test_failed_calls_are_errors_by_status_code(iris_server: Any, tmp_path: Path, run_cli: RunCli) -> None:
    # Readiness off, so the wrong model reaches the load: every call fails with a gRPC status.
    spec = write_spec(tmp_path, grpc_url(iris_server), ready={"enabled": False},
                      target={"model": "no-such-model"}, payload={"file": str(REST_PAYLOAD)},
                      load={"requests": 30, "workers": 1, "warmup": {"requests": 0}})
    out = tmp_path / "out"
    proc = run_cli("run", str(spec), "--out", str(out))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    result = result_of(out)
    assert result["metrics"]["grpc/request-count"] == 30
    assert result["metrics"]["grpc/error-count"] == 30
    (group,) = result["errors"]
    assert group["type"].startswith("grpc ") and group["count"] == 30
    assert "no-such-model" in group["example"]


def test_wrong_model_name_exits_3_at_readiness(iris_server: Any, tmp_path: Path, run_cli: RunCli) -> None:
    spec = write_spec(tmp_path, grpc_url(iris_server), ready={"timeout": "2s"},
                      target={"model": "no-such-model"}, payload={"file": str(REST_PAYLOAD)})
    proc = run_cli("run", str(spec), "--out", str(tmp_path / "out"))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "model 'no-such-model' not found" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_grpc_target_down_exits_3(down_url: str, tmp_path: Path, run_cli: RunCli) -> None:
    port = down_url.rsplit(":", 1)[1]
    spec = write_spec(tmp_path, f"grpc://127.0.0.1:{port}", ready={"timeout": "3s"})
    out = tmp_path / "out"
    started = time.monotonic()
    proc = run_cli("run", str(spec), "--out", str(out))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "not ready within 3s" in proc.stderr and "server unavailable" in proc.stderr
    assert time.monotonic() - started < 30
    assert result_of(out)["status"] == "could-not-run"


def test_iter8_grpc_tutorial_command(iris_server: Any, tmp_path: Path, run_cli: RunCli) -> None:
    """The KServe/Iter8 gRPC tutorial, `iter8 k launch` replaced by `isvcperf launch`; the data
    comes from a file:// URL (no network here) and the protoURL is accepted but not fetched."""
    out = tmp_path / "out"
    proc = run_cli(
        "launch",
        "--set", "tasks={ready,grpc,assess}",
        "--set", f"grpc.host=127.0.0.1:{iris_server.grpc_port}",
        "--set", "grpc.call=inference.GRPCInferenceService.ModelInfer",
        "--set", "grpc.protoURL=https://raw.githubusercontent.com/kserve/kserve/master/docs/predict-api/v2/grpc_predict_v2.proto",
        "--set", f"grpc.dataURL={GRPC_PAYLOAD.as_uri()}",
        "--set", "grpc.warmupNumRequests=10",
        "--set", "assess.SLOs.upper.grpc/latency/mean=50",
        "--set", "assess.SLOs.upper.grpc/error-count=0",
        "--set", "assess.SLOs.upper.grpc/latency/p'97\\.5'=7500",
        "--set", "runner=local",
        "--out", str(out),
    )
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    assert "grpc.protoURL is not read" in proc.stdout
    result = result_of(out)
    assert result["status"] == "completed"
    assert result["metrics"]["grpc/request-count"] == 200
    assert result["load"]["users"] == 50
    verdicts = {s["metric"]: s["satisfied"] for s in result["slos"]}
    assert set(verdicts) == {"grpc/latency/mean", "grpc/error-count", "grpc/latency/p97.5"}
    assert verdicts["grpc/error-count"] is True
    # 50 concurrent callers against one MLServer process: on a loaded 2-core CI machine the
    # mean can exceed the tutorial's 50 ms, so the latency verdicts are the machine's. What
    # must hold is that the exit code is the verdict.
    # The verdict includes validity (issue 14): a p97.5 on 200 requests rests on 5 of them, fewer than
    # the 10 the samples check asks for, so the tutorial's run is invalid and exits 1 whatever the SLOs say.
    valid = result["validity"]["verdict"] == "valid"
    assert proc.returncode == (0 if all(verdicts.values()) and valid else 1), proc.stdout
