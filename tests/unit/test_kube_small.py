"""The small Kubernetes fixes of issue 11: DNS-1035 names, cgroup-aware worker count, RawDeployment host."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from isvcperf.kube import manifests
from isvcperf.util.cpus import available_cpus

ROOT = Path(__file__).resolve().parents[2]
DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


@pytest.mark.parametrize("name", ["3models", "0", "--9x", "Ünïcode!", "a" * 80])
def test_spec_names_starting_with_a_digit_make_dns_1035_service_names(name: str) -> None:
    label = manifests.dns_label(name, 40)
    assert DNS_1035.match(label) and len(label) <= 40
    assert DNS_1035.match(f"{label}-abcde-master")


@pytest.mark.parametrize(("files", "expected"), [
    ({"cpu.max": "200000 100000\n"}, 2),
    ({"cpu.max": "150000 100000\n"}, 2),  # 1.5 CPUs: two workers share them
    ({"cpu.max": "50000 100000\n"}, 1),
    ({"cpu/cpu.cfs_quota_us": "300000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 3),
])
def test_worker_count_follows_the_cgroup_cpu_quota_not_the_node(tmp_path: Path, files: dict[str, str],
                                                                 expected: int) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert available_cpus(tmp_path) == min(expected, len(__import__("os").sched_getaffinity(0)))


def test_no_cgroup_quota_means_every_usable_core(tmp_path: Path) -> None:
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert available_cpus(tmp_path) == available_cpus(tmp_path / "absent") >= 1


@pytest.mark.parametrize(("mode", "host"), [("Serverless", "iris.models.svc.cluster.local"),
                                             ("RawDeployment", "iris-predictor.models.svc.cluster.local")])
def test_render_without_a_cluster_uses_the_deployment_modes_host(tmp_path: Path, mode: str, host: str) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({
        "name": "r", "target": {"isvc": "iris", "namespace": "models"}, "runner": "kubernetes",
        "payload": {"file": str(ROOT / "examples" / "payloads" / "sklearn-irisv2-input.json")}}))
    proc = subprocess.run([sys.executable, "-m", "isvcperf", "render", str(spec), "--deployment-mode", mode],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    config = next(d for d in yaml.safe_load_all(proc.stdout) if d["kind"] == "ConfigMap")
    assert f"http://{host}/v2/models/iris/infer" in config["data"]["loadgen.json"]
