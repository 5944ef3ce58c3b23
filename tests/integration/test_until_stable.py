"""load.until: stable against the real MLServer (issue 14): a steady run ends as soon as its windows
agree, well before its maximum, completed and valid; a rule it cannot meet runs to the maximum and is
invalid, exit 1. Real Locust processes; the decision is the orchestrator's, the stop the master's."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
PAYLOAD = ROOT / "examples" / "payloads" / "sklearn-irisv2-input.json"
RunCli = Callable[..., subprocess.CompletedProcess[str]]


def run(tmp_path: Path, run_cli: RunCli, url: str, load: dict[str, Any], validity: dict[str, Any]
        ) -> tuple[subprocess.CompletedProcess[str], dict[str, Any], Path]:
    data = {"name": "until", "target": {"url": url}, "ready": {"timeout": "30s", "interval": "0.2s"},
            "payload": {"file": str(PAYLOAD)}, "load": {"until": "stable", **load}, "validity": validity,
            "slos": {"http/latency-p50": {"upper": 60000}}}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    proc = run_cli("run", str(path), "--out", str(out), "--report", "text", "--report", "markdown")
    return proc, json.loads((out / "result.json").read_text()), out


def test_a_steady_run_ends_when_its_windows_agree(iris_server: Any, tmp_path: Path, run_cli: RunCli) -> None:
    # two workers: the decision waits for intervals both have reported
    load = {"users": 8, "workers": 2, "rate": 100, "duration": "60s", "warmup": {"requests": 20}}
    proc, result, out = run(tmp_path, run_cli, iris_server.infer_url, load,
                            {"stabilityWindow": "1s", "stabilityWindows": 3})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert result["status"] == "completed" and result["reason"] == ""
    assert result["until"] == f"stable after {result['stableAt']:g}s (3 windows of 1s within ±20%)"
    assert 3 <= result["stableAt"] <= result["measuredSeconds"] < 20  # well before the 60 s maximum
    assert result["validity"]["verdict"] == "valid"
    checks = {c["name"]: c for c in result["validity"]["checks"]}
    assert checks["stability"]["status"] == "pass" and checks["achieved-rate"]["status"] == "pass"
    assert "until stable, at most 1m" in proc.stdout  # the live view's last line says why it stops
    assert f"stable after {result['stableAt']:g}s: ending the measurement" in proc.stdout
    report = (out / "report.txt").read_text().splitlines()
    assert report[3].startswith("Validity") and report[4] == f"Measurement  {result['until']}"
    assert f"Measurement: {result['until']}" in (out / "report.md").read_text()


def test_a_rule_it_cannot_meet_runs_to_the_maximum_and_is_invalid(iris_server: Any, tmp_path: Path,
                                                                  run_cli: RunCli) -> None:
    # closed loop: throughput and p50 wander by more than ±0.01% from one second to the next
    load = {"users": 2, "workers": 1, "duration": "6s"}
    proc, result, out = run(tmp_path, run_cli, iris_server.infer_url, load,
                            {"stabilityWindow": "1s", "stabilityWindows": 3, "stabilityTolerance": 0.0001})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert result["status"] == "completed" and result.get("stableAt") is None  # left out of the file when None
    assert result["until"] == "not stable within the 6s maximum"
    assert result["measuredSeconds"] >= 5.9
    stability = {c["name"]: c for c in result["validity"]["checks"]}["stability"]
    assert stability["status"] == "fail" and "raise load.duration" in stability["advice"]
    assert result["validity"]["verdict"] == "invalid"
    assert "Measurement  not stable within the 6s maximum" in (out / "report.txt").read_text()
