"""End to end on the fake cluster: the real CLI, the official client, Locust master and worker
"pods" (real processes run by the fake kubelet) and a real MLServer behind an InferenceService
whose status the test controls."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from fake_api import FakeCluster
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

ROOT = Path(__file__).resolve().parents[2]
PAYLOAD = ROOT / "examples" / "payloads" / "sklearn-irisv2-input.json"
ISVC = "sklearn-irisv2"
RunCli = Callable[..., subprocess.CompletedProcess[str]]
LABEL = "app.kubernetes.io/name=isvcperf"


@pytest.fixture
def cluster(fake_cluster: FakeCluster, monkeypatch: pytest.MonkeyPatch) -> FakeCluster:
    """The fake cluster, with the CLI's KUBECONFIG pointing at it."""
    monkeypatch.setenv("KUBECONFIG", str(fake_cluster.kubeconfig))
    return fake_cluster


def write_spec(tmp_path: Path, **sections: Any) -> Path:
    data: dict[str, Any] = {
        "name": "k8s-it",
        "target": {"isvc": ISVC},
        "ready": {"timeout": "30s", "interval": "0.2s"},
        "payload": {"file": str(PAYLOAD)},
        "load": {"users": 4, "requests": 200, "warmup": {"requests": 20}, "workers": 2},
        "slos": {"http/latency-p90": {"upper": 1000}, "http/error-count": {"upper": 0}},
        "runner": "kubernetes",
        "kubernetes": {"startTimeout": "60s", "linger": "30s"},
    }
    for key, value in sections.items():
        data[key] = {**data[key], **value} if isinstance(value, dict) and isinstance(data.get(key), dict) else value
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def isvcperf_objects(cluster: FakeCluster) -> list[tuple[str, str, str]]:
    names = {o["metadata"]["name"] for plural in ("pods", "jobs", "services", "configmaps")
             for o in cluster.list(plural, "default", LABEL)}
    return [o for o in cluster.objects("default") if o[2] in names]


def lifecycle(cluster: FakeCluster) -> tuple[list[str], list[str]]:
    """Objects the run created and deleted (Events aside), as Kind/name."""
    entries = [e for e in cluster.audit if e.namespace == "default" and e.kind not in ("Event", "InferenceService")
               and (e.kind, e.name) != ("ServiceAccount", "default")]
    created = [f"{e.kind}/{e.name}" for e in entries if e.verb == "create"]
    deleted = [f"{e.kind}/{e.name}" for e in entries if e.verb == "delete"]
    return created, deleted


def test_passing_run_in_pods(cluster: FakeCluster, iris_server: Any, tmp_path: Path, run_cli: RunCli) -> None:
    cluster.create_isvc("default", ISVC, ready=True, address_url=iris_server.base_url)
    out = tmp_path / "out"
    proc = run_cli("run", str(write_spec(tmp_path)), "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads((out / "result.json").read_text())
    assert result["status"] == "completed"
    assert result["metrics"]["http/request-count"] == 200  # exact across two worker pods
    assert result["metrics"]["http/error-count"] == 0
    assert len(result["workers"]) == 2
    assert result["target"]["url"] == f"{iris_server.base_url}/v2/models/{ISVC}/infer"
    created, deleted = lifecycle(cluster)
    print("created:", created, "\ndeleted:", deleted)  # the closing note quotes this
    run = next(c.split("/")[1] for c in created if c.startswith("Job/") and c.endswith("-master"))[: -len("-master")]
    assert {f"Job/{run}-master", f"Service/{run}-master", f"Job/{run}-workers", f"ConfigMap/{run}-config"} <= set(created)
    assert sum(c.startswith(f"Pod/{run}-workers") for c in created) == 2
    assert set(created) == set(deleted)  # everything it created is gone
    assert isvcperf_objects(cluster) == []
    assert cluster.processes() == []
    assert "passed" in proc.stdout and f"deleted Job/{run}-master" in proc.stdout


def test_inference_service_never_ready_exits_3_with_its_condition(cluster: FakeCluster, tmp_path: Path,
                                                                   run_cli: RunCli) -> None:
    cluster.create_isvc("default", ISVC, ready=False, reason="RevisionMissing",
                        message="Configuration \"sklearn-irisv2-predictor\" does not have any ready Revision.")
    proc = run_cli("run", str(write_spec(tmp_path, ready={"timeout": "2s", "interval": "0.2s"})), "--out",
                   str(tmp_path / "out"))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "not Ready within 2s" in proc.stderr
    assert "RevisionMissing" in proc.stderr and "does not have any ready Revision" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert json.loads((tmp_path / "out" / "result.json").read_text())["status"] == "could-not-run"
    assert isvcperf_objects(cluster) == []  # nothing was created


@pytest.mark.parametrize(("setup", "expected"), [
    (lambda c: c.create_isvc("default", "other", ready=True), "InferenceService 'sklearn-irisv2' not found"),
    (lambda c: c.remove_kserve_crd(), "KServe is not installed"),
    (lambda c: (c.create_isvc("default", ISVC, ready=True), c.deny("get", "inferenceservices")),
     "permission denied"),
])
def test_missing_isvc_kserve_or_permission_is_one_line(cluster: FakeCluster, tmp_path: Path, run_cli: RunCli,
                                                       setup: Callable[[FakeCluster], Any], expected: str) -> None:
    setup(cluster)
    proc = run_cli("run", str(write_spec(tmp_path)), "--out", str(tmp_path / "out"))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert expected in proc.stderr and "Traceback" not in proc.stderr


def _running_workers(cluster: FakeCluster) -> list[str]:
    return [p["metadata"]["name"] for p in cluster.list("pods", "default", "app.kubernetes.io/component=worker")
            if p.get("status", {}).get("phase") == "Running"]


def _wait_measuring(cluster: FakeCluster, requests: int, what: str) -> None:
    """Wait until the run's master reports at least `requests` measured requests, read as the CLI
    reads them: its stats route through the API server's service proxy (official client)."""
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(cluster.kubeconfig), client_configuration=configuration)
    with client.ApiClient(configuration) as api:
        core = client.CoreV1Api(api)

        def measuring() -> bool:
            time.sleep(0.2)  # a poll every ~0.25 s, like the CLI's own, not a busy loop on two cores
            services = cluster.list("services", "default", "app.kubernetes.io/component=master")
            try:
                body = core.connect_get_namespaced_service_proxy_with_path(
                    f"{services[0]['metadata']['name']}:web", "default", "isvcperf/stats", _preload_content=False).data
                total = json.loads(body)["total"]
            except (IndexError, ApiException, OSError, ValueError, KeyError):  # not up yet
                return False
            return bool(total.get("measureStart")) and total.get("requests", 0) >= requests

        cluster.wait_for(measuring, timeout=60, what=what)


def _start_cli(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "isvcperf", *args], cwd=tmp_path, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _finish(proc: subprocess.Popen[str], timeout: float = 120) -> tuple[str, str]:
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise


def test_worker_pod_killed_mid_run_is_a_load_shortfall(cluster: FakeCluster, iris_server: Any, tmp_path: Path) -> None:
    cluster.create_isvc("default", ISVC, ready=True, address_url=iris_server.base_url)
    spec = write_spec(tmp_path, load={"users": 4, "requests": None, "duration": "10s", "rate": 40, "workers": 2,
                                      "warmup": {"requests": 0}})
    out = tmp_path / "out"
    proc = _start_cli(tmp_path, "run", str(spec), "--out", str(out))
    victim = cluster.wait_for(lambda: (len(_running_workers(cluster)) == 2 and _running_workers(cluster)[0]),
                              timeout=60, what="two running worker pods")
    _wait_measuring(cluster, 80, "two seconds of measured load")
    cluster.kill_pod("default", victim)
    stdout, stderr = _finish(proc)
    assert proc.returncode == 1, stdout + stderr
    result = json.loads((out / "result.json").read_text())
    assert result["status"] == "completed"
    assert result["reason"] == "load shortfall: 1 of 2 workers lost", stdout
    assert sum(1 for w in result["workers"] if w["lostAt"]) == 1
    assert any(victim in w for w in result["warnings"])  # which pod, and when
    assert "load shortfall" in stdout, stdout  # the printed report says so
    # the stats were pulled through the service proxy (503 until the master listened), from the settled
    # rows on once there were some: the query (`?since=N`) reached the master unescaped
    pulls = [r for r in cluster.requests if "/proxy/isvcperf/stats" in r.path]
    answered = [r for r in pulls if r.status == 200]
    assert answered and {r.status for r in pulls} <= {200, 503}, pulls
    assert "since=" not in answered[0].path and any("/proxy/isvcperf/stats?since=" in r.path for r in answered), pulls
    assert "port-forward" not in stdout
    assert isvcperf_objects(cluster) == [] and cluster.processes() == []


def test_k_launch_allow_invalid_lets_the_runner_job_succeed_on_an_invalid_measurement(
        cluster: FakeCluster, iris_server: Any, run_cli: RunCli) -> None:
    """60 requests cannot carry a p90 SLO (validity: samples needs 100): the stored result is invalid, and
    the in-cluster runner, given --allow-invalid by k launch, exits with the SLOs' verdict, so its Job succeeds."""
    cluster.create_isvc("default", ISVC, ready=True, address_url=iris_server.base_url)
    launch = run_cli("k", "launch", "-g", "lenient", "--set", f"ready.isvc={ISVC}", "--set", "ready.timeout=30s",
                     "--set", f"http.payloadFile={PAYLOAD}", "--set", "http.numRequests=60",
                     "--set", "assess.SLOs.upper.http/latency-p90=1000", "--set", "load.workers=1",
                     "--set", "runner=job", "--allow-invalid")
    assert launch.returncode == 0, launch.stdout + launch.stderr
    check = run_cli("k", "assert", "-g", "lenient", "-c", "completed", "-c", "slos", "--timeout", "150s")
    log = run_cli("k", "log", "-g", "lenient")
    assert check.returncode == 0, check.stdout + check.stderr + log.stdout
    invalid = run_cli("k", "assert", "-g", "lenient", "-c", "valid")
    assert invalid.returncode == 1 and "valid: NOT satisfied" in invalid.stdout
    job = cluster.wait_for(lambda: _finished(cluster.get("jobs", "default", "isvcperf-lenient")), timeout=30,
                           what="the runner Job to finish")
    assert job == "Complete", log.stdout
    run_cli("k", "delete", "-g", "lenient")


def _finished(job: dict[str, Any] | None) -> str | None:
    """Complete or Failed once the Job has finished, else None."""
    conditions = (job or {}).get("status", {}).get("conditions") or []
    return next((c["type"] for c in conditions if c["type"] in ("Complete", "Failed") and c["status"] == "True"), None)


def test_sigint_mid_run_leaves_nothing(cluster: FakeCluster, iris_server: Any, tmp_path: Path) -> None:
    cluster.create_isvc("default", ISVC, ready=True, address_url=iris_server.base_url)
    spec = write_spec(tmp_path, load={"users": 2, "requests": None, "duration": "60s", "rate": 10, "workers": 1,
                                      "warmup": {"requests": 0}})
    out = tmp_path / "out"
    proc = _start_cli(tmp_path, "run", str(spec), "--out", str(out))
    _wait_measuring(cluster, 10, "a second of measured load")
    proc.send_signal(signal.SIGINT)
    stdout, stderr = _finish(proc, timeout=90)
    assert proc.returncode == 130, stdout + stderr
    assert json.loads((out / "result.json").read_text())["status"] == "interrupted"
    assert isvcperf_objects(cluster) == []
    assert cluster.processes() == []


def test_a_second_launch_of_a_group_replaces_the_first(cluster: FakeCluster, tmp_path: Path, run_cli: RunCli) -> None:
    """k launch deletes the group's previous launch and waits (util.polling) until it is gone; k assert
    waits for a result on the same poll and, when none comes, says what the runner is doing."""
    launch = ("k", "launch", "-g", "weekly", "--set", f"ready.isvc={ISVC}", "--set", f"http.payloadFile={PAYLOAD}",
              "--set", "runner=cronjob", "--set", "cronjobSchedule=0 3 * * *")  # the fake runs no schedule
    first = run_cli(*launch)
    assert first.returncode == 0, first.stdout + first.stderr
    before = cluster.get("cronjobs", "default", "isvcperf-weekly")
    second = run_cli(*launch)
    assert second.returncode == 0, second.stdout + second.stderr
    after = cluster.get("cronjobs", "default", "isvcperf-weekly")
    assert before is not None and after is not None and after["metadata"]["uid"] != before["metadata"]["uid"]
    assert [e.name for e in cluster.audit if e.kind == "CronJob" and e.verb == "delete"] == ["isvcperf-weekly"]
    check = run_cli("k", "assert", "-g", "weekly", "-c", "completed", "--timeout", "1s")
    assert check.returncode == 3 and check.stdout == ""
    assert check.stderr.strip().endswith("no result stored for launch 'weekly' in namespace default yet; "
                                         "the runner is scheduled; see isvcperf k log"), check.stderr
    run_cli("k", "delete", "-g", "weekly")


def test_in_cluster_runner_job_stores_a_result_k_report_reads(cluster: FakeCluster, iris_server: Any,
                                                               tmp_path: Path, run_cli: RunCli) -> None:
    cluster.create_isvc("default", ISVC, ready=True, address_url=iris_server.base_url)
    launch = run_cli("k", "launch", "-g", "nightly", "--set", f"ready.isvc={ISVC}", "--set", "ready.timeout=30s",
                     "--set", f"http.payloadFile={PAYLOAD}", "--set", "http.numRequests=60",
                     "--set", "assess.SLOs.upper.http/error-count=0", "--set", "load.workers=1",
                     "--set", "runner=job")
    assert launch.returncode == 0, launch.stdout + launch.stderr
    assert "Job/isvcperf-nightly" in launch.stdout
    check = run_cli("k", "assert", "-g", "nightly", "-c", "completed", "-c", "nofailure", "-c", "slos",
                    "--timeout", "150s")
    log = run_cli("k", "log", "-g", "nightly")
    assert check.returncode == 0, check.stdout + check.stderr + log.stdout
    assert "result stored in ConfigMap isvcperf-nightly-result" in log.stdout
    report = run_cli("k", "report", "-g", "nightly")
    assert report.returncode == 0, report.stderr
    assert "passed" in report.stdout and "http/error-count" in report.stdout
    stored = cluster.get("configmaps", "default", "isvcperf-nightly-result")
    assert stored is not None and len(stored["binaryData"]) == 1  # gzip, base64 in binaryData
    listed = run_cli("list")
    assert "isvcperf-nightly" in listed.stdout and "launch" in listed.stdout
    deleted = run_cli("k", "delete", "-g", "nightly")
    assert deleted.returncode == 0 and "ConfigMap/isvcperf-nightly-result" in deleted.stdout
    cluster.wait_for(lambda: not isvcperf_objects(cluster) and not cluster.processes(), timeout=30,
                     what="the launch to be gone")


def test_until_stable_ends_the_pods_measurement_early(cluster: FakeCluster, iris_server: Any, tmp_path: Path,
                                                      run_cli: RunCli, edit_kubeconfig: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # as a namespace `edit` user: the stop goes through `create services/proxy`, which that role holds
    monkeypatch.setenv("KUBECONFIG", str(edit_kubeconfig))
    path = write_spec(tmp_path, load={"users": 8, "requests": None, "duration": "60s", "rate": 20, "workers": 2,
                                      "until": "stable"},
                      validity={"stabilityWindow": "1s", "stabilityWindows": 3})
    data = yaml.safe_load(path.read_text())
    data["target"] = {"url": iris_server.infer_url}
    path.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    # --allow-invalid: what is judged here is how the run ended; on a busy machine the pods' MLServer may
    # answer slowly enough for a drop or two, which the validity tests cover
    proc = run_cli("run", str(path), "--out", str(out), "--allow-invalid")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads((out / "result.json").read_text())
    assert result["status"] == "completed" and result["until"].startswith("stable after "), result["until"]
    assert result["stableAt"] <= result["measuredSeconds"] < 30  # the maximum is 60 s
    assert sum(w["requests"] for w in result["workers"]) == result["metrics"]["http/request-count"]
    assert not any("could not end the measurement" in w for w in result["warnings"])
    assert isvcperf_objects(cluster) == [] and cluster.processes() == []
