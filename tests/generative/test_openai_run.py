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
    # the example asks for 100 requests (a p90 SLO needs 100: validity samples), 64 tokens each
    assert metrics["llm/request-count"] == 100 and metrics["llm/error-count"] == 0
    # exactOutput: every answer has max_tokens = 64 tokens, counted from llama-server's usage
    assert metrics["llm/output-length-min"] == metrics["llm/output-length-max"] == 64
    assert metrics["llm/tokens-from-usage"] == 100 and metrics["llm/tokens-from-frames"] == 0
    assert metrics["llm/output-tokens"] == 100 * 64
    assert metrics["llm/input-length-min"] > 0
    assert 0 < metrics["llm/ttft-p50"] <= metrics["llm/e2e-p50"]
    assert metrics["llm/goodput-ratio"] == metrics["llm/good-count"] / 100
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
                                    "goodput.tpot=20ms", "validity.ignore={samples}")  # 10 requests carry no p90
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


def test_iter8_style_launch_of_a_generative_test(run_cli: Run, tmp_path: Path, llama_server: LlamaServer) -> None:
    """`isvcperf launch --set llm.*` (isvcperf's own task: Iter8 had none for LLMs) runs the test and
    gates on the llm/ SLOs given as assess flags; a tightened one exits 1."""
    flags = ["tasks={ready,llm,assess}", f"llm.baseURL={llama_server.base_url}", "llm.openaiPrefix=/v1",
             f"llm.model={llama_server.model}", "llm.api=completions", "llm.inputTokensMin=16", "llm.inputTokensMax=48",
             "llm.outputTokens=32", "llm.exactOutput=true", "llm.numRequests=16", "llm.warmupNumRequests=0",
             "llm.goodput.ttft=2s", "ready.timeout=60s", "assess.SLOs.upper.llm/ttft-p99=5000",
             "assess.SLOs.lower.llm/goodput-ratio=0.9", "assess.SLOs.upper.llm/error-count=0", "load.workers=1"]
    sets = [arg for flag in flags for arg in ("--set", flag)]
    # --allow-invalid: a p99 on 16 requests rests on 0.16 of them (validity: samples); the gate is the SLOs'
    proc = run_cli("launch", "--out", str(tmp_path / "ok"), *sets, "--allow-invalid")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads((tmp_path / "ok" / "result.json").read_text())
    metrics = result["metrics"]
    assert metrics["llm/request-count"] == 16 and metrics["llm/output-length-min"] == 32
    assert metrics["llm/input-length-min"] > 0 and metrics["llm/goodput-ratio"] >= 0.9
    assert {v["metric"]: v["satisfied"] for v in result["slos"]} == {
        "llm/ttft-p99": True, "llm/goodput-ratio": True, "llm/error-count": True}
    tight = run_cli("launch", "--out", str(tmp_path / "tight"), *sets, "--set", "assess.SLOs.upper.llm/ttft-p99=0.001")
    assert tight.returncode == 1, tight.stdout + tight.stderr
    assert "llm/ttft-p99" in tight.stdout


def test_each_stage_reports_its_own_llm_metrics(run_cli: Run, tmp_path: Path, sse_cadence: Nginx) -> None:
    """Two stages on the fixed-cadence stream: every stage has llm/ metrics of the requests scheduled
    in it, with the stream's TTFT and ITL, and the stages' counts add up to the run's."""
    code, result, output = run_spec(run_cli, tmp_path, CHAT, f"target.baseUrl={sse_cadence.openai_url()}",
                                    "target.model=sse-cadence", "load.requests=null", "load.warmup.requests=0",
                                    "load.stages[0].duration=3s", "load.stages[0].users=1",
                                    "load.stages[1].duration=3s", "load.stages[1].users=3",
                                    "validity.ignore={samples}")  # the example's p90 SLOs on a few requests
    assert code == 0, output
    first, second = (stage["metrics"] for stage in result["stages"])
    for stage in (first, second):
        assert stage["llm/request-count"] > 0 and stage["llm/error-count"] == 0
        assert 49 <= stage["llm/ttft-p50"] <= 60 and 9.5 <= stage["llm/itl-p50"] <= 11.5  # loose: a busy machine
    assert second["llm/request-count"] > first["llm/request-count"]  # three streams at once against one
    assert first["llm/request-count"] + second["llm/request-count"] == result["metrics"]["llm/request-count"]
