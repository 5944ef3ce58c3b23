"""A generative spec runs unchanged on the fake cluster: the Kubernetes runner renders
examples/tiny-llm-chat.yaml into pods (run by the fake kubelet as local processes) whose Locust
worker streams from a real llama-server on loopback, and the llm/ SLOs decide the exit code."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from fake_api import FakeCluster
from llm_fixtures import llama_server, tiny_gguf  # the session fixtures (tests/generative)
from llm_server import LlamaServer
from test_kubernetes_runner import isvcperf_objects, lifecycle

ROOT = Path(__file__).resolve().parents[2]
CHAT = ROOT / "examples" / "tiny-llm-chat.yaml"
RunCli = Callable[..., subprocess.CompletedProcess[str]]
ISVC = "tiny-llm"

__all__ = ["llama_server", "tiny_gguf"]


@pytest.fixture
def cluster(fake_cluster: FakeCluster, monkeypatch: pytest.MonkeyPatch) -> FakeCluster:
    monkeypatch.setenv("KUBECONFIG", str(fake_cluster.kubeconfig))
    return fake_cluster


def run_in_pods(cluster: FakeCluster, run_cli: RunCli, out: Path, *overrides: str) -> tuple[int, dict, str]:
    sets = [arg for o in ("runner=kubernetes", "kubernetes.startTimeout=60s", *overrides) for arg in ("--set", o)]
    proc = run_cli("run", str(CHAT), "--out", str(out), *sets)
    result = json.loads((out / "result.json").read_text()) if (out / "result.json").exists() else {}
    return proc.returncode, result, proc.stdout + proc.stderr


def test_the_chat_example_runs_in_pods_against_llama_server(cluster: FakeCluster, run_cli: RunCli, tmp_path: Path,
                                                            llama_server: LlamaServer) -> None:
    code, result, output = run_in_pods(cluster, run_cli, tmp_path / "out", f"target.baseUrl={llama_server.base_url}")
    assert code == 0, output
    metrics = result["metrics"]
    # the example asks for 100 requests (a p90 SLO needs 100: validity samples), 64 tokens each
    assert metrics["llm/request-count"] == 100 and metrics["llm/error-count"] == 0
    assert metrics["llm/output-length-min"] == metrics["llm/output-length-max"] == 64  # exactOutput, from usage
    assert metrics["llm/tokens-from-usage"] == 100
    assert {v["metric"]: v["satisfied"] for v in result["slos"]} == {
        "llm/ttft-p90": True, "llm/tpot-p90": True, "llm/goodput-ratio": True, "llm/error-count": True}
    assert result["llm"]["timeline"] and len(result["workers"]) == 1
    created, deleted = lifecycle(cluster)
    assert any(c.startswith("Pod/") and "-workers" in c for c in created)  # the worker really ran as a pod
    config = next(c for c in created if c.startswith("ConfigMap/"))
    assert set(created) == set(deleted), (created, deleted)
    assert isvcperf_objects(cluster) == [] and cluster.processes() == []
    assert config.endswith("-config")


def test_the_url_comes_from_the_inference_service_and_a_tight_slo_fails(cluster: FakeCluster, run_cli: RunCli,
                                                                        tmp_path: Path,
                                                                        llama_server: LlamaServer) -> None:
    """target.isvc instead of a URL: the InferenceService's status address + the OpenAI prefix."""
    cluster.create_isvc("default", ISVC, ready=True, address_url=llama_server.base_url)
    spec = yaml.safe_load(CHAT.read_text())
    assert spec["target"]["model"] == ISVC  # so the isvc of that name serves it
    code, result, output = run_in_pods(cluster, run_cli, tmp_path / "out", "target.baseUrl=null", f"target.isvc={ISVC}",
                                       "load.requests=16", "slos.llm/ttft-p90.upper=0.001")
    assert code == 1, output
    assert result["target"]["url"] == f"{llama_server.base_url}/v1/chat/completions"
    assert [v["metric"] for v in result["slos"] if not v["satisfied"]] == ["llm/ttft-p90"]
    assert result["metrics"]["llm/request-count"] == 16 and result["metrics"]["llm/error-count"] == 0
    assert isvcperf_objects(cluster) == [] and cluster.processes() == []
