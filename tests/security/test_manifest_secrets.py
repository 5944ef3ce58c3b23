"""Rendered Kubernetes manifests carry `${VAR}` references and Secret references, never a
secret's value, even when the variable is set where they are rendered."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

SECRET = "tok-5e1f-rendered-nowhere"


def _isvcperf(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "isvcperf", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "ISVCPERF_TEST_TOKEN": SECRET}, timeout=60)


def test_run_manifests_hold_references_not_values(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({
        "name": "sec", "runner": "kubernetes",
        "target": {"url": "http://model.models.svc/v2/models/m/infer",
                   "headers": {"Authorization": "Bearer ${ISVCPERF_TEST_TOKEN}"}},
        "payload": {"inline": {"inputs": []}},
        "load": {"users": 2, "duration": "5s", "workers": 2},
        "kubernetes": {"secretEnv": [{"name": "ISVCPERF_TEST_TOKEN", "secret": "model-token", "key": "token"}]},
    }))
    rendered = _isvcperf("render", str(spec), "-n", "models", cwd=tmp_path)
    assert rendered.returncode == 0, rendered.stderr
    assert SECRET not in rendered.stdout + rendered.stderr
    assert "${ISVCPERF_TEST_TOKEN}" in rendered.stdout  # expanded inside each pod, from its own environment
    assert "secretKeyRef" in rendered.stdout and "model-token" in rendered.stdout


def test_in_cluster_launch_manifests_hold_references_not_values(tmp_path: Path) -> None:
    rendered = _isvcperf("k", "launch", "--set", "tasks={ready,http,assess}", "--set", "runner=job",
                         "--set", "http.url=http://m.models.svc/v2/models/m/infer",
                         "--set", "http.headers.Authorization=Bearer ${ISVCPERF_TEST_TOKEN}",
                         "--set", 'http.payloadStr={"inputs":[]}', "--dry", "-n", "models", cwd=tmp_path)
    assert rendered.returncode == 0, rendered.stderr
    assert SECRET not in rendered.stdout + rendered.stderr
    assert "${ISVCPERF_TEST_TOKEN}" in rendered.stdout
