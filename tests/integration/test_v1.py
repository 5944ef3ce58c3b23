"""V1 REST end to end against KServe's own Python model server (the `kserve` package) serving iris."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from iris_v1_server import IrisV1Server  # examples/ is on sys.path (tests/conftest.py)

ROOT = Path(__file__).resolve().parents[2]
PAYLOAD = ROOT / "examples" / "payloads" / "sklearn-iris-v1-input.json"
RunCli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def v1_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IrisV1Server]:
    with IrisV1Server(tmp_path_factory.mktemp("kserve")) as server:
        yield server


def write_spec(tmp_path: Path, url: str, **sections: Any) -> Path:
    data: dict[str, Any] = {
        "name": "v1-it",
        "target": {"url": url, "protocol": "v1"},
        "ready": {"timeout": "30s", "interval": "0.2s"},
        "payload": {"file": str(PAYLOAD)},
        "load": {"users": 4, "requests": 150, "warmup": {"requests": 10}, "workers": 2},
        "slos": {"http/latency-p90": {"upper": 1000}, "http/error-count": {"upper": 0}},
    }
    for key, value in sections.items():
        data[key] = {**data[key], **value} if isinstance(value, dict) and isinstance(data.get(key), dict) else value
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_v1_predict_run(v1_server: IrisV1Server, tmp_path: Path, run_cli: RunCli) -> None:
    out = tmp_path / "out"
    proc = run_cli("run", str(write_spec(tmp_path, v1_server.infer_url)), "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads((out / "result.json").read_text())
    assert result["target"]["protocol"] == "v1" and result["target"]["model"] == "sklearn-iris"
    assert result["metrics"]["http/request-count"] == 150
    assert result["metrics"]["http/error-count"] == 0
    assert all(s["satisfied"] for s in result["slos"])


def test_v1_wrong_model_exits_3_at_readiness(v1_server: IrisV1Server, tmp_path: Path, run_cli: RunCli) -> None:
    url = f"{v1_server.base_url}/v1/models/no-such-model:predict"
    proc = run_cli("run", str(write_spec(tmp_path, url, ready={"timeout": "2s"})), "--out", str(tmp_path / "out"))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "/v1/models/no-such-model answered 404" in proc.stderr


def test_v1_wrong_model_fails_fast_naming_the_served_models(v1_server: IrisV1Server, tmp_path: Path,
                                                            run_cli: RunCli) -> None:
    """The server answers /v1/models without the model: waiting out the 600 s would not help."""
    url = f"{v1_server.base_url}/v1/models/sklearn-irsi:predict"
    proc = run_cli("run", str(write_spec(tmp_path, url, ready={"timeout": "600s"})), "--out", str(tmp_path / "out"),
                   timeout=60)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "does not serve model 'sklearn-irsi'; it serves: sklearn-iris" in proc.stderr


def test_v1_from_iter8_flags(v1_server: IrisV1Server, tmp_path: Path, run_cli: RunCli) -> None:
    out = tmp_path / "out"
    proc = run_cli(
        "launch",
        "--set", "tasks={ready,http,assess}",
        "--set", f"http.url={v1_server.infer_url}",
        "--set", f"http.payloadFile={PAYLOAD}",
        "--set", "http.numRequests=40",
        "--set", "http.qps=40",
        "--set", "assess.SLOs.upper.http/error-count=0",
        "--out", str(out),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads((out / "result.json").read_text())
    assert result["target"]["protocol"] == "v1"  # told by the URL's :predict path
    assert result["metrics"]["http/request-count"] == 40
