"""Several endpoints in one run, payload sets and response checks, end to end: the CLI, real
Locust processes, a real MLServer (and nginx as a second, different server)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
PAYLOAD = ROOT / "examples" / "payloads" / "sklearn-irisv2-input.json"
ONE_ROW = {"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP32", "data": [[6.8, 2.8, 4.8, 1.4]]}]}
RunCli = Callable[..., subprocess.CompletedProcess[str]]


def write_spec(tmp_path: Path, data: dict[str, Any]) -> Path:
    base = {
        "name": "endpoints-it",
        "ready": {"timeout": "30s", "interval": "0.2s"},
        "load": {"users": 4, "requests": 200, "warmup": {"requests": 8}, "workers": 2},
    }
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump({**base, **data}))
    return path


def result_of(out: Path) -> dict[str, Any]:
    return json.loads((out / "result.json").read_text())


def test_weighted_split_per_endpoint_metrics_and_slos(iris_server: Any, tmp_path: Path, run_cli: RunCli) -> None:
    # The same model through two URL forms, weights 3:1, one SLO that holds and one that cannot.
    spec = write_spec(tmp_path, {
        "payload": {"file": str(PAYLOAD)},
        "endpoints": [
            {"id": "primary", "url": iris_server.infer_url, "weight": 3,
             "slos": {"latency-p90": {"upper": 5000}, "http/error-count": {"upper": 0}}},
            {"id": "canary", "baseUrl": iris_server.base_url, "model": "sklearn-irisv2",
             "slos": {"request-count": {"lower": 100}}},
        ],
        "slos": {"http/error-rate": {"upper": 0}},
    })
    out = tmp_path / "out"
    proc = run_cli("run", str(spec), "--out", str(out))
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the canary's SLO fails: the verdict is a failure
    result = result_of(out)
    metrics = result["metrics"]
    assert metrics["http/request-count"] == 200
    assert metrics["http-primary/request-count"] == 150  # exactly 3 of every 4, across two workers
    assert metrics["http-canary/request-count"] == 50
    assert metrics["http-primary/error-count"] == metrics["http-canary/error-count"] == 0
    for prefix in ("http-primary", "http-canary"):
        assert 0 < metrics[f"{prefix}/latency-min"] <= metrics[f"{prefix}/latency-p90"] <= metrics[f"{prefix}/latency-max"]
        assert metrics[f"{prefix}/throughput"] > 0
    assert metrics["http/latency-max"] == max(metrics["http-primary/latency-max"], metrics["http-canary/latency-max"])
    verdicts = {s["metric"]: s["satisfied"] for s in result["slos"]}
    assert verdicts == {"http/error-rate": True, "http-primary/latency-p90": True,
                        "http-primary/error-count": True, "http-canary/request-count": False}
    assert "http-canary/request-count" in (out / "report.txt").read_text()
    assert "primary" in result["target"]["endpoints"] and "75% of requests" in result["target"]["endpoints"]


def test_payload_set_round_robin_and_failing_check(iris_server: Any, tmp_path: Path, run_cli: RunCli) -> None:
    # Two bodies in turn: 2 rows (output shape [2, 1]) and 1 row ([1, 1]); the shape check
    # fails for exactly the one-row half, as its own error type.
    one_row = tmp_path / "one-row.json"
    one_row.write_text(json.dumps(ONE_ROW))
    spec = write_spec(tmp_path, {
        "target": {"url": iris_server.infer_url},
        "payload": {"files": [str(PAYLOAD), str(one_row)]},
        "checks": [{"status": 200}, {"jsonPath": "outputs[0].shape", "equals": [2, 1]},
                   {"jsonPath": "outputs[0].data"}],
        "load": {"users": 4, "requests": 100, "warmup": {"requests": 0}, "workers": 2},
        "slos": {"http/error-count": {"upper": 0}},
    })
    out = tmp_path / "out"
    proc = run_cli("run", str(spec), "--out", str(out))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    result = result_of(out)
    assert result["metrics"]["http/request-count"] == 100
    assert result["metrics"]["http/error-count"] == 50
    (group,) = result["errors"]
    assert group["type"] == "check failed: outputs[0].shape equals [2, 1]"
    assert group["count"] == 50
    assert group["example"].startswith("found [1, 1]; response: {")
    assert "check failed: outputs[0].shape equals [2, 1]" in (out / "report.txt").read_text()


def test_jsonl_payloads_at_random_against_two_servers(iris_server: Any, nginx: Any, tmp_path: Path,
                                                      run_cli: RunCli) -> None:
    # MLServer gets a JSONL payload set in random order; nginx (a fixed V2 answer) gets the
    # top-level payload; errors at one endpoint are named after it.
    jsonl = tmp_path / "inputs.jsonl"
    jsonl.write_text(PAYLOAD.read_text().strip() + "\n\n" + json.dumps(ONE_ROW) + "\n")
    spec = write_spec(tmp_path, {
        "payload": {"inline": {"inputs": []}},
        "endpoints": [
            {"id": "mlserver", "url": iris_server.infer_url, "payload": {"jsonl": str(jsonl), "order": "random"},
             "checks": [{"jsonPath": "outputs[0].name", "equals": "predict"}]},
            {"id": "nginx", "url": nginx.url(), "checks": [{"jsonPath": "no.such.key"}]},
        ],
        "ready": {"enabled": False},
        "load": {"users": 2, "requests": 40, "workers": 1},
    })
    out = tmp_path / "out"
    # --allow-invalid: half the requests fail on purpose, so the latency describes only the survivors
    # (validity: survivorship), which alone exits 1
    proc = run_cli("run", str(spec), "--out", str(out), "--allow-invalid")
    assert proc.returncode == 0, proc.stdout + proc.stderr  # no SLOs: completed
    result = result_of(out)
    metrics = result["metrics"]
    assert metrics["http-mlserver/request-count"] == metrics["http-nginx/request-count"] == 20
    assert metrics["http-mlserver/error-count"] == 0
    assert metrics["http-nginx/error-count"] == 20
    assert [(g["type"], g["count"]) for g in result["errors"]] == [("nginx: check failed: no.such.key exists", 20)]


def test_readiness_checks_every_endpoint(iris_server: Any, down_url: str, tmp_path: Path, run_cli: RunCli) -> None:
    spec = write_spec(tmp_path, {
        "payload": {"file": str(PAYLOAD)},
        "endpoints": [{"id": "up", "url": iris_server.infer_url},
                      {"id": "down", "url": f"{down_url}/v2/models/sklearn-irisv2/infer"}],
        "ready": {"timeout": "1s", "interval": "0.2s"},
    })
    proc = run_cli("run", str(spec), "--out", str(tmp_path / "out"))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert down_url.rsplit(":", 1)[1] in proc.stderr + proc.stdout


def test_bad_jsonl_line_is_named(tmp_path: Path, run_cli: RunCli) -> None:
    jsonl = tmp_path / "inputs.jsonl"
    jsonl.write_text(PAYLOAD.read_text().strip() + "\n{\"inputs\": [\n")
    spec = write_spec(tmp_path, {"target": {"url": "http://127.0.0.1:9/v2/models/m/infer"},
                                 "payload": {"jsonl": str(jsonl)}})
    proc = run_cli("validate", str(spec))
    assert proc.returncode == 2
    assert "payload.jsonl: line 2 is not valid JSON" in proc.stderr


def test_grpc_endpoints_have_grpc_prefixed_metrics(iris_server: Any, tmp_path: Path, run_cli: RunCli) -> None:
    grpc = f"grpc://127.0.0.1:{iris_server.grpc_port}"
    spec = write_spec(tmp_path, {
        "target": {"protocol": "grpc-v2"},
        "payload": {"file": str(PAYLOAD)},
        "endpoints": [{"id": "one", "url": grpc, "model": "sklearn-irisv2", "weight": 2,
                       "slos": {"latency-p90": {"upper": 5000}}},
                      {"id": "two", "url": grpc, "model": "sklearn-irisv2"}],
        "load": {"users": 3, "requests": 60, "workers": 1},
    })
    out = tmp_path / "out"
    # --allow-invalid: endpoint one's p90 SLO rests on 4 of its 40 requests (validity: samples needs 10)
    proc = run_cli("run", str(spec), "--out", str(out), "--allow-invalid")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    metrics = result_of(out)["metrics"]
    assert (metrics["grpc/request-count"], metrics["grpc-one/request-count"], metrics["grpc-two/request-count"]) == (
        60, 40, 20)
    assert metrics["grpc-one/latency/p90"] > 0 and metrics["grpc-two/error-count"] == 0
