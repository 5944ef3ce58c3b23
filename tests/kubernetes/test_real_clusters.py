"""The Kubernetes runner in the conditions real clusters have (issue 11), one test per condition.

Each test switches on one strictness of the fake API server (an `edit` user, an unreachable
pod proxy, Istio injection, a pod quota, an unpullable image, throttled lists) and runs the
real CLI against it with real Locust pods and a real MLServer behind the InferenceService.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from fake_api import FakeCluster
from kubernetes import client
from test_kubernetes_runner import ISVC, PAYLOAD, RunCli, _finish, _start_cli, cluster, isvcperf_objects, write_spec

__all__ = ["cluster"]  # the fixture, shared with test_kubernetes_runner

QUICK = {"users": 2, "requests": 40, "warmup": {"requests": 0}, "workers": 1}
ALLOW = "--allow-invalid"
"""These runs are about the cluster, not the figures: 40 requests cannot carry the p90 SLO of
write_spec (validity: samples needs 100), so they accept the invalid measurement knowingly."""


def _ready_isvc(cluster: FakeCluster, iris_server: Any) -> None:
    cluster.create_isvc("default", ISVC, ready=True, address_url=iris_server.base_url)


def _result(out: Path) -> dict[str, Any]:
    return json.loads((out / "result.json").read_text())


def _may_read_isvcs(kube: client.ApiClient, user: str) -> None:
    """What Kubeflow's kubeflow-kserve-edit adds to a contributor's `edit`: reading InferenceServices."""
    rbac = client.RbacAuthorizationV1Api(kube)
    rbac.create_namespaced_role("default", {"metadata": {"name": "isvc-reader"}, "rules": [
        {"apiGroups": ["serving.kserve.io"], "resources": ["inferenceservices"], "verbs": ["get", "list"]}]})
    rbac.create_namespaced_role_binding("default", {
        "metadata": {"name": "isvc-reader"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                                         "name": "isvc-reader"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]})


def test_edit_user_run_writes_its_result_and_leaves_nothing(cluster: FakeCluster, iris_server: Any, tmp_path: Path,
                                                            run_cli: RunCli, edit_kubeconfig: Path, kube: client.ApiClient,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    _ready_isvc(cluster, iris_server)
    _may_read_isvcs(kube, "alice")
    monkeypatch.setenv("KUBECONFIG", str(edit_kubeconfig))
    out = tmp_path / "out"
    proc = run_cli("run", str(write_spec(tmp_path, load=QUICK)), "--out", str(out), ALLOW)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _result(out)["status"] == "completed" and _result(out)["metrics"]["http/request-count"] == 40
    assert "warning" not in proc.stdout and "forbidden" not in proc.stdout + proc.stderr
    assert isvcperf_objects(cluster) == [] and cluster.processes() == []
    listed = run_cli("list")  # list and delete touch only what a run creates: allowed to `edit`
    assert listed.returncode == 0 and "no isvcperf runs" in listed.stdout, listed.stderr


def test_unreachable_pod_proxy_follows_the_run_through_port_forward(cluster: FakeCluster, iris_server: Any,
                                                                   tmp_path: Path, run_cli: RunCli) -> None:
    _ready_isvc(cluster, iris_server)
    cluster.block_pod_proxy("timeout", delay=0.5)
    out = tmp_path / "out"
    proc = run_cli("run", str(write_spec(tmp_path, load=QUICK, kubernetes={"startTimeout": "20s"})), "--out", str(out),
                   ALLOW)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "following the run through a port-forward" in proc.stdout
    assert _result(out)["metrics"]["http/request-count"] == 40
    assert isvcperf_objects(cluster) == [] and cluster.processes() == []


def test_unreachable_pod_proxy_without_port_forward_takes_the_result_from_the_master_log(
        cluster: FakeCluster, iris_server: Any, tmp_path: Path, run_cli: RunCli) -> None:
    _ready_isvc(cluster, iris_server)
    cluster.block_pod_proxy("reset")
    cluster.deny("*", "pods/portforward")
    out = tmp_path / "out"
    spec = write_spec(tmp_path, load=QUICK, slos={"http/latency-p90": {"upper": 0.001}},
                      kubernetes={"startTimeout": "8s", "linger": "5s"})
    proc = run_cli("run", str(spec), "--out", str(out))
    print(proc.stdout)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # ran; its SLO decides, not "could not run"
    assert "final stats read from the log of pod" in proc.stdout
    assert _result(out)["status"] == "completed" and _result(out)["metrics"]["http/request-count"] == 40
    assert isvcperf_objects(cluster) == [] and cluster.processes() == []


def test_istio_injection_namespace_gets_pods_without_sidecars(cluster: FakeCluster, iris_server: Any, tmp_path: Path,
                                                               run_cli: RunCli, istio: FakeCluster) -> None:
    _ready_isvc(cluster, iris_server)
    out = tmp_path / "out"
    proc = run_cli("run", str(write_spec(tmp_path, load=QUICK)), "--out", str(out), ALLOW)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    pods = [e for e in cluster.audit if e.kind == "Pod" and e.verb == "create"]
    assert pods and "istio-proxy" not in proc.stdout
    assert isvcperf_objects(cluster) == [] and cluster.processes() == []


def test_pod_quota_refusing_the_worker_fails_fast_with_the_failed_create_reason(
        cluster: FakeCluster, iris_server: Any, tmp_path: Path, run_cli: RunCli, one_pod_quota: FakeCluster) -> None:
    _ready_isvc(cluster, iris_server)
    started = time.monotonic()
    proc = run_cli("run", str(write_spec(tmp_path, load=QUICK)), "--out", str(tmp_path / "out"))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert time.monotonic() - started < 40  # not the 60 s startTimeout
    assert "Kubernetes refused the run's pods" in proc.stderr and "exceeded quota: pods" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert isvcperf_objects(cluster) == []


def test_unpullable_image_fails_fast_quoting_the_registry(cluster: FakeCluster, iris_server: Any, tmp_path: Path,
                                                          run_cli: RunCli) -> None:
    _ready_isvc(cluster, iris_server)
    cluster.unpullable("ghcr.io/acme/isvcperf:*", "denied")
    spec = write_spec(tmp_path, load=QUICK, kubernetes={"image": "ghcr.io/acme/isvcperf:9.9"})
    started = time.monotonic()
    proc = run_cli("run", str(spec), "--out", str(tmp_path / "out"))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert time.monotonic() - started < 40
    assert "cannot start" in proc.stderr and "pull access denied" in proc.stderr, proc.stderr
    assert "kubernetes.imagePullSecrets" in proc.stderr
    assert isvcperf_objects(cluster) == []


def test_throttled_and_failing_pod_lists_do_not_abort_the_run(cluster: FakeCluster, iris_server: Any, tmp_path: Path) -> None:
    _ready_isvc(cluster, iris_server)
    spec = write_spec(tmp_path, load={"users": 2, "requests": None, "duration": "8s", "rate": 10, "workers": 1,
                                      "warmup": {"requests": 0}})
    out = tmp_path / "out"
    proc = _start_cli(tmp_path, "run", str(spec), "--out", str(out), ALLOW)
    cluster.wait_for(lambda: [p for p in cluster.list("pods", "default", "app.kubernetes.io/component=worker")
                              if p.get("status", {}).get("phase") == "Running"], timeout=60, what="a running worker")
    cluster.fail_lists("pods", 500, seconds=3)
    stdout, stderr = _finish(proc)
    assert proc.returncode == 0, stdout + stderr
    assert "Kubernetes API trouble while following the run" in stdout and "HTTP 500" in stdout
    assert any("API trouble" in w for w in _result(out)["warnings"])
    assert isvcperf_objects(cluster) == [] and cluster.processes() == []


def test_launch_refused_rbac_leaves_no_suspended_job(cluster: FakeCluster, tmp_path: Path, run_cli: RunCli,
                                                     edit_kubeconfig: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(edit_kubeconfig))
    proc = run_cli("k", "launch", "-g", "g1", "--set", "runner=job", "--set", "tasks={ready,http}",
                   "--set", f"ready.isvc={ISVC}", "--set", f"http.payloadFile={PAYLOAD}")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "cannot create serviceaccounts" in proc.stderr or "cannot create roles" in proc.stderr, proc.stderr
    assert [o for o in cluster.objects("default") if o[0] in ("Job", "CronJob")] == []


def test_every_kubeconfig_path_is_read(cluster: FakeCluster, tmp_path: Path, run_cli: RunCli,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    data = yaml.safe_load(cluster.kubeconfig.read_text())
    (tmp_path / "first.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "clusters": [],
                                                          "users": [], "contexts": []}))
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'first.yaml'}:{cluster.kubeconfig}")
    proc = run_cli("list", "--context", data["contexts"][0]["name"])
    assert proc.returncode == 0, proc.stderr
    assert "no isvcperf runs in namespace default" in proc.stdout


def test_launch_for_an_inference_service_in_another_namespace_may_read_it(
        cluster: FakeCluster, iris_server: Any, run_cli: RunCli) -> None:
    cluster.label_namespace("models", {})
    cluster.create_isvc("models", ISVC, ready=True, address_url=iris_server.base_url)
    launch = run_cli("k", "launch", "-g", "cross", "--set", "runner=job", "--set", f"ready.isvc={ISVC}",
                     "--set", "ready.namespace=models", "--set", f"http.payloadFile={PAYLOAD}",
                     "--set", "http.numRequests=20", "--set", "load.workers=1")
    assert launch.returncode == 0, launch.stdout + launch.stderr
    check = run_cli("k", "assert", "-g", "cross", "-c", "completed", "-c", "nofailure", "--timeout", "120s")
    assert check.returncode == 0, check.stdout + check.stderr + run_cli("k", "log", "-g", "cross").stdout
    deleted = run_cli("k", "delete", "-g", "cross")
    assert deleted.returncode == 0 and "Role/isvcperf-cross (namespace models)" in deleted.stdout, deleted.stdout
    assert [o for o in cluster.objects("models") if o[0] in ("Role", "RoleBinding")] == []
    cluster.wait_for(lambda: not isvcperf_objects(cluster) and not cluster.processes(), timeout=30, what="gone")
