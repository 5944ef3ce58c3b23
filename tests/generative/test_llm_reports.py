"""Reports of real generative runs on llama-server: the run's report has the Generative section
(text block, HTML charts, llm/ SLOs in Markdown), and a bounded sweep with a goodput target
finds its capacity, or none when no request can be good."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

from llm_server import LlamaServer
from test_openai_run import CHAT, ROOT, run_spec

from isvcperf.results.metric_text import format_measure

SWEEP = ROOT / "examples" / "tiny-llm-sweep.yaml"
Run = Callable[..., subprocess.CompletedProcess[str]]
GENERATIVE_CHARTS = ["llm-ttft-distribution", "llm-ttft-spectrum", "llm-itl-tpot-distribution", "llm-itl-tpot-spectrum",
                     "llm-tokens-over-time", "llm-goodput-over-time", "llm-lengths"]


def test_a_real_run_reports_its_generative_section(run_cli: Run, tmp_path: Path, llama_server: LlamaServer) -> None:
    code, result, output = run_spec(run_cli, tmp_path, CHAT, f"target.baseUrl={llama_server.base_url}",
                                    "load.requests=24", "metrics.interval=250ms",
                                    "validity.ignore={samples}")  # 24 requests carry no p90: judged, not failing
    assert code == 0, output
    out = tmp_path / "out"
    text = (out / "report.txt").read_text()
    block = text.split("Generative (llm/ metrics", 1)[1].split("\nMetrics\n", 1)[0]
    ttft = re.search(r"^TTFT +time to first token +([\d.]+) +([\d.]+) +([\d.]+) +([\d.]+)$", block, re.MULTILINE)
    assert ttft, block
    assert ttft.group(2) == format_measure(result["metrics"]["llm/ttft-p90"])
    assert "24 from the server's usage" in block and "output 64 (mean 64.00) tokens per request" in block
    assert "within TTFT ≤ 500ms, TPOT ≤ 50ms" in block
    html = (out / "report.html").read_text()
    section = html.split('<h2 id="generative">', 1)[1].split("<h2>", 1)[0]
    figures = re.findall(r'data-chart="([^"]+)"', section)
    # over-time charts need two intervals: a quarter-second interval gives them on any machine
    assert figures == GENERATIVE_CHARTS, figures
    markdown = run_cli("report", str(out), "-o", "markdown")
    assert markdown.returncode == 0 and "| `llm/tpot-p90` | ≤ 100 ms |" in markdown.stdout
    assert f"| TTFT | time to first token | {format_measure(result['metrics']['llm/ttft-p50'])} |" in markdown.stdout
    assert "| Token counts | requests' output tokens: 24 from the server's usage |" in markdown.stdout


def test_a_sweep_with_a_goodput_target(run_cli: Run, tmp_path: Path, llama_server: LlamaServer) -> None:
    base = ["--set", f"target.baseUrl={llama_server.base_url}", "--set", "load.duration=3s",
            "--set", "load.sweep.values={1,2}", "--set", "load.warmup.requests=2"]
    proc = run_cli("sweep", str(SWEEP), "--out", str(tmp_path / "ok"), *base)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    sweep = json.loads((tmp_path / "ok" / "sweep.json").read_text())
    assert sweep["capacity"] == 2 and sweep["goodputRatio"] == 0.9
    assert [s["verdict"] for s in sweep["steps"]] == ["passed", "passed"]
    for step in sweep["steps"]:
        assert step["llm"]["goodput-ratio"] >= 0.9 and step["llm"]["output-tokens-per-second"] > 0
        assert 0 < step["llm"]["ttft-p50"] <= step["llm"]["ttft-p99"]
    assert "Capacity: rate 2 is the highest load that met every SLO and kept goodput at 90% of requests or more" \
        in proc.stdout
    assert re.search(r"^ +2 +[\d.]+ +[\d.]+ +[\d.]+ +\d+\.\d% ", proc.stdout, re.MULTILINE), proc.stdout
    html = (tmp_path / "ok" / "sweep.html").read_text()
    assert 'data-chart="sweep-latency-throughput"' in html and '"output tokens/s"' in html

    proc = run_cli("sweep", str(SWEEP), "--out", str(tmp_path / "none"), *base, "--set", "goodput.ttft=1us")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    sweep = json.loads((tmp_path / "none" / "sweep.json").read_text())
    assert sweep["capacity"] is None and len(sweep["steps"]) == 1
    assert sweep["stoppedBecause"] == "rate 1: llm/goodput-ratio 0.000 < 0.9"
    assert "Capacity: none; the first step already failed" in proc.stdout
