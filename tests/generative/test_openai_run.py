"""`isvcperf run` with protocol openai against real streaming servers: the example's SLOs pass on
llama-server and a tightened one fails; truncated streams are errors; TTFT and ITL on the
fixed-cadence target are the cadence's; the spec renders into valid Kubernetes objects."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from llm_server import LlamaCppPythonServer, LlamaServer, llama_cpp_python
from targets import Cadence, Nginx

ROOT = Path(__file__).resolve().parents[2]
CHAT = ROOT / "examples" / "tiny-llm-chat.yaml"
COMPLETIONS = ROOT / "examples" / "tiny-llm-completions.yaml"
Run = Callable[..., subprocess.CompletedProcess[str]]


def run_spec(run_cli: Run, tmp_path: Path, spec: Path, *overrides: str) -> tuple[int, dict[str, Any], str]:
    """Run `spec` with `--set` overrides; (exit code, result.json, stderr)."""
    out = tmp_path / "out"
    sets = [arg for o in overrides for arg in ("--set", o)]
    proc = run_cli("run", str(spec), "--out", str(out), *sets)
    result = json.loads((out / "result.json").read_text()) if (out / "result.json").exists() else {}
    return proc.returncode, result, proc.stdout + proc.stderr


def test_example_passes_its_slos_on_llama_server(run_cli: Run, tmp_path: Path, llama_server: LlamaServer) -> None:
    code, result, output = run_spec(run_cli, tmp_path, CHAT, f"target.baseUrl={llama_server.base_url}")
    assert code == 0, output
    metrics = result["metrics"]
    assert metrics["llm/request-count"] == 64 and metrics["llm/error-count"] == 0
    # exactOutput: every answer has max_tokens = 64 tokens, counted from llama-server's usage
    assert metrics["llm/output-length-min"] == metrics["llm/output-length-max"] == 64
    assert metrics["llm/tokens-from-usage"] == 64 and metrics["llm/tokens-from-frames"] == 0
    assert metrics["llm/output-tokens"] == 64 * 64
    assert metrics["llm/input-length-min"] > 0
    assert 0 < metrics["llm/ttft-p50"] <= metrics["llm/e2e-p50"]
    assert metrics["llm/goodput-ratio"] == metrics["llm/good-count"] / 64
    assert {v["metric"] for v in result["slos"]} == {"llm/ttft-p90", "llm/tpot-p90", "llm/goodput-ratio",
                                                     "llm/error-count"}
    assert [point["outputTokens"] for point in result["llm"]["timeline"]] and result["llm"]["histograms"]["ttft"]
    report = (tmp_path / "out" / "report.txt").read_text()
    assert "llm/ttft-p90" in report and "llm/output-tokens-per-second" in report


def test_a_tightened_slo_fails_with_exit_1(run_cli: Run, tmp_path: Path, llama_server: LlamaServer) -> None:
    code, result, output = run_spec(run_cli, tmp_path, COMPLETIONS, f"target.baseUrl={llama_server.base_url}",
                                    "load.requests=16", "slos.llm/ttft-p90.upper=0.001")
    assert code == 1, output
    failed = [v["metric"] for v in result["slos"] if not v["satisfied"]]
    assert failed == ["llm/ttft-p90"]
    assert result["metrics"]["llm/error-count"] == 0


def test_a_model_that_is_not_served_fails_fast_naming_the_served_ones(run_cli: Run, tmp_path: Path,
                                                                       llama_server: LlamaServer) -> None:
    code, _, output = run_spec(run_cli, tmp_path, CHAT, f"target.baseUrl={llama_server.base_url}",
                               "target.model=tiny-lm", "ready.timeout=60s")
    assert code == 3
    assert "model 'tiny-lm' is not served" in output and "it serves: tiny-llm" in output


def test_a_stream_without_done_is_a_truncation_error(run_cli: Run, tmp_path: Path) -> None:
    with Nginx({"cut": Cadence(ttft_s=0.0, gap_s=0.001, frames=8, done=False)}) as nginx:
        code, result, output = run_spec(run_cli, tmp_path, CHAT, f"target.baseUrl={nginx.openai_url('cut')}",
                                        "target.model=sse-cadence", "generate.exactOutput=false",
                                        "load.requests=8", "load.warmup.requests=0")
    assert code == 1, output
    assert result["metrics"]["llm/error-count"] == 8
    assert [(e["type"], e["count"]) for e in result["errors"]] == [("truncated stream: no [DONE]", 8)]


def test_llama_cpp_python_interrupted_streams_are_truncation_errors(run_cli: Run, tmp_path: Path,
                                                                     tiny_gguf: Path) -> None:
    """Its default --interrupt_requests true ends a stream in flight (HTTP 200, [DONE]) when another
    request arrives: two users make that happen, and the answers must not pass as successes."""
    python = llama_cpp_python()
    if python is None:
        pytest.skip("llama-cpp-python[server] is not installed (ISVCPERF_BUILD_LLAMA_CPP_PYTHON=1 build)")
    with LlamaCppPythonServer(python, tiny_gguf, tmp_path / "server.log", interrupt_requests=True) as server:
        code, result, output = run_spec(run_cli, tmp_path, CHAT, f"target.baseUrl={server.base_url}",
                                        "load.users=2", "load.requests=8", "load.warmup.requests=0")
    assert code == 1, output
    assert result["metrics"]["llm/error-count"] > 0
    assert all(e["type"].startswith("truncated stream") for e in result["errors"]), result["errors"]
    assert result["metrics"]["llm/tokens-from-frames"] > 0  # no usage from this server: frames counted


def test_ttft_and_itl_follow_the_fixed_cadence(run_cli: Run, tmp_path: Path, sse_cadence: Nginx) -> None:
    """50 ms to the first frame, then 10 ms gaps (10.22 ms measured: nginx's millisecond timer)."""
    code, result, output = run_spec(run_cli, tmp_path, CHAT, f"target.baseUrl={sse_cadence.openai_url()}",
                                    "target.model=sse-cadence", "load.users=2", "load.requests=10",
                                    "load.warmup.requests=0", "slos.llm/tpot-p90.upper=20",
                                    "goodput.tpot=20ms")
    assert code == 0, output
    metrics = result["metrics"]
    assert metrics["llm/output-length-mean"] == 64 and metrics["llm/tokens-from-usage"] == 10
    assert 49 <= metrics["llm/ttft-p50"] <= 60  # loose: a busy shared machine delays the client
    assert 9.5 <= metrics["llm/itl-p50"] <= 11.5
    assert 9.5 <= metrics["llm/tpot-p50"] <= 11.5
    assert 49 + 63 * 9.5 <= metrics["llm/e2e-p50"] <= 60 + 63 * 11.5


def test_a_generative_spec_renders_valid_manifests(run_cli: Run, tmp_path: Path) -> None:
    import kubernetes_validate
    import yaml

    proc = run_cli("render", str(CHAT), "-n", "perf", "--name", "r1", "--set", "runner=kubernetes")
    assert proc.returncode == 0, proc.stderr
    objects = [doc for doc in yaml.safe_load_all(proc.stdout) if doc]
    for obj in objects:
        kubernetes_validate.validate(obj, "1.30.0", strict=True)
    config = next(obj for obj in objects if obj["kind"] == "ConfigMap")
    assert "OpenAIUser" in config["data"]["locustfile.py"]
    loadgen = json.loads(config["data"]["loadgen.json"])
    assert loadgen["llm"] == {"exact": True, "goodput": {"ttft": 0.5, "tpot": 0.05, "e2e": None}}
