"""The fake API server, checked through the official client the runner uses.

These tests pin the real-API behaviour the runner depends on (status bodies, selectors,
cascading deletes, Job and kubelet semantics, the service proxy), so a runner test that passes
against the fake fails for runner reasons, not fake ones.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
import urllib.request
from pathlib import Path

import pytest
from fake_api import FakeCluster
from kubernetes import client

NS = "default"
PY = ["python", "-c"]


def job_body(name: str, script: str, **spec: object) -> dict:
    """A Job running ``script`` with Python, no retries unless ``spec`` says otherwise."""
    pod_spec = spec.pop("pod_spec", {})
    return {
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": 0,
            **spec,
            "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "isvcperf:test", "command": [*PY, textwrap.dedent(script)]}], **pod_spec}},
        },
    }


def status_of(err: client.ApiException) -> dict:
    return json.loads(err.body)


def wait_job(cluster: FakeCluster, batch: client.BatchV1Api, name: str, condition: str = "Complete") -> client.V1Job:
    def done() -> client.V1Job | None:
        job = batch.read_namespaced_job(name, NS)
        conditions = {c.type for c in job.status.conditions or [] if c.status == "True"}
        return job if condition in conditions else None

    return cluster.wait_for(done, 30, f"job {name} {condition}")


def test_crud_status_objects_and_optimistic_concurrency(kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    created = core.create_namespaced_config_map(NS, {"metadata": {"generateName": "cfg-", "labels": {"a": "1"}}, "data": {"k": "v"}})
    name = created.metadata.name
    assert name.startswith("cfg-") and len(name) == len("cfg-") + 5
    assert created.metadata.uid and created.metadata.resource_version and created.metadata.creation_timestamp

    with pytest.raises(client.ApiException) as conflict:
        core.create_namespaced_config_map(NS, {"metadata": {"name": name}})
    assert conflict.value.status == 409
    assert status_of(conflict.value) == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": f'configmaps "{name}" already exists', "reason": "AlreadyExists",
        "details": {"name": name, "kind": "configmaps"}, "code": 409,
    }  # fmt: skip
    with pytest.raises(client.ApiException) as missing:
        client.BatchV1Api(kube).read_namespaced_job("nope", NS)
    assert missing.value.status == 404
    assert status_of(missing.value)["reason"] == "NotFound"
    assert status_of(missing.value)["message"] == 'jobs.batch "nope" not found'
    assert status_of(missing.value)["details"] == {"name": "nope", "group": "batch", "kind": "jobs"}

    patched = core.patch_namespaced_config_map(name, NS, {"metadata": {"labels": {"b": "2"}}, "data": {"k": None, "n": "1"}})
    assert patched.metadata.labels == {"a": "1", "b": "2"} and patched.data == {"n": "1"}
    assert int(patched.metadata.resource_version) > int(created.metadata.resource_version)
    json_patched = core.patch_namespaced_config_map(name, NS, [{"op": "replace", "path": "/data/n", "value": "2"}])
    assert json_patched.data == {"n": "2"}

    stale = created.to_dict()
    stale["data"] = {"x": "y"}
    with pytest.raises(client.ApiException) as stale_err:
        core.replace_namespaced_config_map(name, NS, client.ApiClient().sanitize_for_serialization(client.V1ConfigMap(metadata=created.metadata, data={"x": "y"})))
    assert stale_err.value.status == 409 and status_of(stale_err.value)["reason"] == "Conflict"
    replaced = core.replace_namespaced_config_map(name, NS, {"metadata": {"name": name, "resourceVersion": json_patched.metadata.resource_version}, "data": {"x": "y"}})
    assert replaced.data == {"x": "y"} and replaced.metadata.uid == created.metadata.uid

    with pytest.raises(client.ApiException) as too_long:
        core.create_namespaced_config_map(NS, {"metadata": {"name": "bad", "labels": {"run": "x" * 64}}})
    assert too_long.value.status == 422 and status_of(too_long.value)["reason"] == "Invalid"
    assert "must be no more than 63 characters" in status_of(too_long.value)["message"]
    with pytest.raises(client.ApiException) as huge:
        core.create_namespaced_config_map(NS, {"metadata": {"name": "huge"}, "data": {"r": "x" * (1024 * 1024)}})
    assert huge.value.status == 422 and "must have at most 1048576 bytes" in status_of(huge.value)["message"]
    with pytest.raises(client.ApiException) as no_ns:
        core.create_namespaced_config_map("absent", {"metadata": {"name": "x"}})
    assert no_ns.value.status == 404 and status_of(no_ns.value)["message"] == 'namespaces "absent" not found'

    core.delete_namespaced_config_map(name, NS)
    with pytest.raises(client.ApiException) as gone:
        core.read_namespaced_config_map(name, NS)
    assert gone.value.status == 404


def test_label_and_field_selectors(kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    for name, labels in [("a", {"app": "x", "tier": "web"}), ("b", {"app": "x", "tier": "db"}), ("c", {"app": "y"})]:
        core.create_namespaced_config_map(NS, {"metadata": {"name": name, "labels": labels}})

    def names(**selectors: str) -> list[str]:
        return [cm.metadata.name for cm in core.list_namespaced_config_map(NS, **selectors).items]

    assert names(label_selector="app=x") == ["a", "b"]
    assert names(label_selector="app==x,tier!=web") == ["b"]
    assert names(label_selector="tier!=web") == ["b", "c"]  # != matches objects without the label
    assert names(label_selector="tier in (web, db)") == ["a", "b"]
    assert names(label_selector="tier notin (web)") == ["b", "c"]
    assert names(label_selector="tier") == ["a", "b"]
    assert names(label_selector="!tier") == ["c"]
    assert names(field_selector="metadata.name=c") == ["c"]
    assert names(field_selector="metadata.name!=c", label_selector="app=x") == ["a", "b"]
    with pytest.raises(client.ApiException) as bad:
        core.list_namespaced_config_map(NS, field_selector="data.k=v")
    assert bad.value.status == 400 and "field label not supported" in status_of(bad.value)["message"]
    page = core.list_namespaced_config_map(NS, limit=2)
    assert len(page.items) == 2 and page.metadata._continue
    rest = core.list_namespaced_config_map(NS, limit=2, _continue=page.metadata._continue)
    assert [cm.metadata.name for cm in page.items + rest.items][:3] == ["a", "b", "c"]
    core.delete_collection_namespaced_config_map(NS, label_selector="app=x")
    assert names() == ["c"]


def test_cascading_delete_background_foreground_and_orphan(fake_cluster: FakeCluster, kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)

    def family(root_name: str) -> None:
        root = core.create_namespaced_config_map(NS, {"metadata": {"name": root_name}})
        ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": root_name, "uid": root.metadata.uid, "blockOwnerDeletion": True}
        child = core.create_namespaced_config_map(NS, {"metadata": {"name": f"{root_name}-child", "ownerReferences": [ref]}})
        child_ref = {**ref, "name": child.metadata.name, "uid": child.metadata.uid}
        core.create_namespaced_secret(NS, {"metadata": {"name": f"{root_name}-grandchild", "ownerReferences": [child_ref]}})

    def present(prefix: str) -> list[str]:
        return [f"{kind}/{name}" for kind, _, name in fake_cluster.objects(NS) if name.startswith(prefix)]

    family("bg")
    core.delete_namespaced_config_map("bg", NS, propagation_policy="Background")
    fake_cluster.wait_for(lambda: present("bg") == [], 10, "background cascade")

    family("fg")
    _, code, _ = core.delete_namespaced_config_map_with_http_info("fg", NS, propagation_policy="Foreground")
    assert code == 202  # accepted, not done: the owner waits (finalizer foregroundDeletion) for its dependents
    fake_cluster.wait_for(lambda: present("fg") == [], 10, "foreground cascade")

    family("or")
    core.delete_namespaced_config_map("or", NS, propagation_policy="Orphan")
    assert present("or") == ["ConfigMap/or-child", "Secret/or-grandchild"]
    assert core.read_namespaced_config_map("or-child", NS).metadata.owner_references is None


def test_job_runs_a_real_process_with_logs_and_default_orphaning(fake_cluster: FakeCluster, kube: client.ApiClient) -> None:
    core, batch = client.CoreV1Api(kube), client.BatchV1Api(kube)
    script = """
        import os, sys
        for i in range(5):
            print(f"line {i}", flush=True)  # stdout is a file, not a terminal: buffered, as in a container
        print("to stderr", os.environ["MY_POD"], os.environ["MY_IP"], file=sys.stderr)
    """
    env = [{"name": "MY_POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}, {"name": "MY_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}]
    body = job_body("hello", script)
    body["spec"]["template"]["spec"]["containers"][0]["env"] = env
    job = batch.create_namespaced_job(NS, body)
    assert job.spec.selector.match_labels == {"batch.kubernetes.io/controller-uid": job.metadata.uid}
    wait_job(fake_cluster, batch, "hello")

    (pod,) = core.list_namespaced_pod(NS, label_selector="job-name=hello").items
    assert pod.metadata.owner_references[0].uid == job.metadata.uid and pod.metadata.owner_references[0].controller
    assert pod.metadata.labels["batch.kubernetes.io/controller-uid"] == job.metadata.uid
    assert pod.status.phase == "Succeeded"
    terminated = pod.status.container_statuses[0].state.terminated
    assert (terminated.exit_code, terminated.reason) == (0, "Completed")
    assert pod.status.pod_ip.startswith("127.") and pod.status.pod_ip != "127.0.0.1"
    log = core.read_namespaced_pod_log(pod.metadata.name, NS)
    assert log.splitlines() == [*(f"line {i}" for i in range(5)), f"to stderr {pod.metadata.name} {pod.status.pod_ip}"]
    assert core.read_namespaced_pod_log(pod.metadata.name, NS, container="main", tail_lines=2).splitlines() == ["line 4", f"to stderr {pod.metadata.name} {pod.status.pod_ip}"]
    status = batch.read_namespaced_job("hello", NS).status
    assert (status.succeeded, status.active, status.failed) == (1, None, None) and status.completion_time

    # batch/v1 Jobs orphan their pods unless told otherwise, and the server says so.
    _, code, headers = batch.delete_namespaced_job_with_http_info("hello", NS)
    assert code == 200 and "child pods are preserved by default" in headers["Warning"]
    assert [p.metadata.name for p in core.list_namespaced_pod(NS).items] == [pod.metadata.name]


def test_indexed_job_and_parallelism(fake_cluster: FakeCluster, kube: client.ApiClient) -> None:
    core, batch = client.CoreV1Api(kube), client.BatchV1Api(kube)
    batch.create_namespaced_job(NS, job_body("idx", "import os; print('index', os.environ['JOB_COMPLETION_INDEX'])", completions=3, parallelism=3, completionMode="Indexed"))
    job = wait_job(fake_cluster, batch, "idx")
    assert job.status.succeeded == 3 and job.status.completed_indexes == "0-2"
    pods = core.list_namespaced_pod(NS, label_selector="job-name=idx").items
    by_index = {p.metadata.annotations["batch.kubernetes.io/job-completion-index"]: p for p in pods}
    assert sorted(by_index) == ["0", "1", "2"]
    for index, pod in by_index.items():
        assert pod.metadata.name.startswith(f"idx-{index}-")
        assert core.read_namespaced_pod_log(pod.metadata.name, NS) == f"index {index}\n"
    assert len({p.status.pod_ip for p in pods}) == 3  # every pod has its own address

    batch.create_namespaced_job(NS, job_body("queue", "print('worker')", parallelism=2))
    job = wait_job(fake_cluster, batch, "queue")
    assert job.spec.completions is None and job.status.succeeded == 2


def test_killed_pod_fails_a_job_without_retries(fake_cluster: FakeCluster, kube: client.ApiClient) -> None:
    core, batch = client.CoreV1Api(kube), client.BatchV1Api(kube)
    batch.create_namespaced_job(NS, job_body("workers", "import time; print('up', flush=True); time.sleep(60)", parallelism=2))
    def running() -> list[client.V1Pod] | None:
        pods = [p for p in core.list_namespaced_pod(NS, label_selector="job-name=workers").items if p.status.phase == "Running"]
        return pods if len(pods) == 2 and all(core.read_namespaced_pod_log(p.metadata.name, NS) == "up\n" for p in pods) else None

    pods = fake_cluster.wait_for(running, 20, "both processes up")
    victim = pods[0].metadata.name
    fake_cluster.kill_pod(NS, victim)
    job = wait_job(fake_cluster, batch, "workers", "Failed")
    failed = next(c for c in job.status.conditions if c.type == "Failed")
    assert failed.reason == "BackoffLimitExceeded" and job.status.failed == 1
    state = core.read_namespaced_pod(victim, NS).status.container_statuses[0].state.terminated
    assert (state.exit_code, state.reason) == (137, "Error")
    # The Job controller deletes the other, still active pod when the Job fails, and makes no new ones.
    fake_cluster.wait_for(lambda: [p.metadata.name for p in core.list_namespaced_pod(NS).items] == [victim], 20, "the other pod deleted")
    assert fake_cluster.processes() == []


def test_service_proxy_and_cluster_dns_reach_a_pod(fake_cluster: FakeCluster, kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    server = """
        import http.server, json, sys
        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = json.dumps({"path": self.path}).encode()
                self.send_response(200); self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(201); self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
        http.server.HTTPServer((sys.argv[1], 8080), H).serve_forever()
    """
    labels = {"app": "web"}
    core.create_namespaced_pod(NS, {"metadata": {"name": "web", "labels": labels}, "spec": {"containers": [{"name": "web", "image": "py", "command": [*PY, textwrap.dedent(server), "0.0.0.0"], "ports": [{"name": "http", "containerPort": 8080}]}]}})
    service = core.create_namespaced_service(NS, {"metadata": {"name": "web"}, "spec": {"selector": labels, "ports": [{"name": "api", "port": 80, "targetPort": "http"}]}})
    assert service.spec.cluster_ip.startswith("127.") and service.spec.ports[0].protocol == "TCP"

    with pytest.raises(client.ApiException) as early:
        core.connect_get_namespaced_service_proxy_with_path("web:api", NS, "x")
    assert early.value.status == 503 and status_of(early.value)["reason"] == "ServiceUnavailable"
    fake_cluster.wait_for(lambda: core.read_namespaced_pod("web", NS).status.phase == "Running", 20, "web running")

    def proxied() -> str | None:
        try:
            return core.connect_get_namespaced_service_proxy_with_path("web:api", NS, "isvcperf/stats")
        except client.ApiException:
            return None  # the server process is still binding its port

    assert json.loads(fake_cluster.wait_for(proxied, 20, "proxied GET").replace("'", '"')) == {"path": "/isvcperf/stats"}
    request = urllib.request.Request(f"{fake_cluster.url}/api/v1/namespaces/default/services/web:80/proxy/echo", data=b'{"n": 1}', headers={"Authorization": f"Bearer {fake_cluster.authorizer.admin_token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201 and json.loads(response.read()) == {"n": 1}

    # Inside the cluster, the Service's DNS names reach the pod through its ClusterIP.
    client_script = """
        import os, sys, urllib.request
        for url in sys.argv[1:] + [os.environ["TARGET"]]:
            print(urllib.request.urlopen(url, timeout=10).read().decode())
    """
    container = {"name": "c", "image": "py", "command": [*PY, textwrap.dedent(client_script), "http://web/a", "http://web.default.svc.cluster.local:80/b"], "env": [{"name": "TARGET", "value": "http://web.default:80/c"}]}
    core.create_namespaced_pod(NS, {"metadata": {"name": "curl"}, "spec": {"restartPolicy": "Never", "containers": [container]}})
    fake_cluster.wait_for(lambda: core.read_namespaced_pod("curl", NS).status.phase in ("Succeeded", "Failed"), 20, "curl pod done")
    assert core.read_namespaced_pod_log("curl", NS).splitlines() == [json.dumps({"path": p}) for p in ("/a", "/b", "/c")]


def test_volumes_env_sources_and_path_rewriting(fake_cluster: FakeCluster, kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    core.create_namespaced_config_map(NS, {"metadata": {"name": "spec"}, "data": {"spec.yaml": "users: 3\n", "mode": "fast"}})
    core.create_namespaced_secret(NS, {"metadata": {"name": "token"}, "stringData": {"token": "s3cret"}})
    script = """
        import os, sys
        print(open(sys.argv[1]).read().strip(), os.environ["MODE"], os.environ["TOKEN"], os.environ["CFG_mode"])
        print(open(os.environ["SCRATCH"] + "/x", "w").write("ok"), os.path.exists("/scratch/x"))  # this literal is rewritten too
        print(open(os.path.join(os.environ["SA_DIR"], "namespace")).read(), "KUBECONFIG" in os.environ)
    """
    container = {
        "name": "c",
        "image": "py",
        "command": [*PY, textwrap.dedent(script), "/etc/isvcperf/spec.yaml"],
        "env": [
            {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "spec", "key": "mode"}}},
            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "token", "key": "token"}}},
            {"name": "SCRATCH", "value": "/scratch"},
            {"name": "SA_DIR", "value": "/var/run/secrets/kubernetes.io/serviceaccount"},
        ],
        "envFrom": [{"prefix": "CFG_", "configMapRef": {"name": "spec"}}],
        "volumeMounts": [{"name": "spec", "mountPath": "/etc/isvcperf"}, {"name": "scratch", "mountPath": "/scratch"}],
        "securityContext": {"runAsNonRoot": True, "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
    }
    pod_spec = {"restartPolicy": "Never", "containers": [container], "volumes": [{"name": "spec", "configMap": {"name": "spec"}}, {"name": "scratch", "emptyDir": {}}], "nodeSelector": {"pool": "load"}, "tolerations": [{"key": "k", "operator": "Exists"}]}
    core.create_namespaced_pod(NS, {"metadata": {"name": "reader"}, "spec": pod_spec})
    pod = fake_cluster.wait_for(lambda: (p := core.read_namespaced_pod("reader", NS)).status.phase in ("Succeeded", "Failed") and p, 20, "reader done")
    assert core.read_namespaced_pod_log("reader", NS).splitlines() == ["users: 3 fast s3cret fast", "2 True", "default True"]
    assert pod.spec.node_selector == {"pool": "load"} and pod.spec.containers[0].security_context.capabilities.drop == ["ALL"]

    patched = core.patch_namespaced_secret("token", NS, {"stringData": {"extra": "x"}})
    assert patched.string_data is None and set(patched.data) == {"token", "extra"}
    core.create_namespaced_pod(NS, {"metadata": {"name": "missing"}, "spec": {"containers": [{**container, "volumeMounts": [], "envFrom": []}]}})
    core.delete_namespaced_secret("token", NS)
    waiting = fake_cluster.wait_for(lambda: (s := core.read_namespaced_pod("missing", NS).status.container_statuses) and s[0].state.waiting and s[0].state.waiting.reason == "CreateContainerConfigError" and s[0].state.waiting, 20, "config error")
    assert waiting.message == 'secret "token" not found'


def test_waiting_reasons_for_error_paths(fake_cluster: FakeCluster, kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    fake_cluster.fail_image("registry.example/isvcperf:missing")
    core.create_namespaced_pod(NS, {"metadata": {"name": "pull"}, "spec": {"containers": [{"name": "c", "image": "registry.example/isvcperf:missing", "command": ["true"]}]}})
    core.create_namespaced_pod(NS, {"metadata": {"name": "crash"}, "spec": {"containers": [{"name": "c", "image": "py", "command": [*PY, "raise SystemExit(3)"]}]}})

    def waiting(name: str, reason: str) -> client.V1ContainerStatus | None:
        pod = core.read_namespaced_pod(name, NS)
        statuses = pod.status.container_statuses or []
        return statuses[0] if statuses and statuses[0].state.waiting and statuses[0].state.waiting.reason == reason else None

    pulled = fake_cluster.wait_for(lambda: waiting("pull", "ImagePullBackOff"), 10, "ImagePullBackOff")
    assert core.read_namespaced_pod("pull", NS).status.phase == "Pending" and "Back-off pulling image" in pulled.state.waiting.message
    crashed = fake_cluster.wait_for(lambda: (s := waiting("crash", "CrashLoopBackOff")) and s.restart_count >= 1 and s, 20, "CrashLoopBackOff")
    assert crashed.last_state.terminated.exit_code == 3
    with pytest.raises(client.ApiException) as not_started:
        core.read_namespaced_pod_log("pull", NS)
    assert not_started.value.status == 400 and "is waiting to start: ImagePullBackOff" in status_of(not_started.value)["message"]
    events = {(e.reason, e.involved_object.name) for e in core.list_namespaced_event(NS).items}
    assert {("Failed", "pull"), ("BackOff", "crash"), ("Scheduled", "crash")} <= events


def test_ttl_seconds_after_finished_deletes_job_and_pods(fake_cluster: FakeCluster, kube: client.ApiClient) -> None:
    batch = client.BatchV1Api(kube)
    batch.create_namespaced_job(NS, job_body("ttl", "print('done')", ttlSecondsAfterFinished=1))
    wait_job(fake_cluster, batch, "ttl")
    fake_cluster.wait_for(lambda: fake_cluster.objects(NS) == [], 15, "job and pod deleted after the TTL")
    deleted = {(e.kind, e.name.split("-")[0]) for e in fake_cluster.audit if e.verb == "delete"}
    assert {("Job", "ttl"), ("Pod", "ttl")} <= deleted


def test_graceful_pod_deletion_sends_sigterm(fake_cluster: FakeCluster, kube: client.ApiClient, tmp_path: Path) -> None:
    core = client.CoreV1Api(kube)
    marker = tmp_path / "terminated"  # outside the pod's directory, which goes with the pod
    script = """
        import pathlib, signal, sys, time
        signal.signal(signal.SIGTERM, lambda *_: (pathlib.Path(sys.argv[1]).write_text("got SIGTERM"), sys.exit(0)))
        print("ready", flush=True)
        time.sleep(60)
    """
    core.create_namespaced_pod(NS, {"metadata": {"name": "graceful"}, "spec": {"containers": [{"name": "c", "image": "py", "command": [*PY, textwrap.dedent(script), str(marker)]}]}})
    fake_cluster.wait_for(lambda: core.read_namespaced_pod("graceful", NS).status.phase == "Running" and "ready" in core.read_namespaced_pod_log("graceful", NS), 20, "pod ready")
    deleting = core.delete_namespaced_pod("graceful", NS)
    assert deleting.metadata.deletion_timestamp is not None  # graceful: the object lingers
    fake_cluster.wait_for(lambda: fake_cluster.get("pods", NS, "graceful") is None, 10, "pod removed")
    assert marker.read_text() == "got SIGTERM"
    assert fake_cluster.processes() == []


def test_deny_and_rbac_for_in_cluster_service_accounts(fake_cluster: FakeCluster, kube: client.ApiClient) -> None:
    core, rbac = client.CoreV1Api(kube), client.RbacAuthorizationV1Api(kube)
    fake_cluster.deny("create", "jobs")
    with pytest.raises(client.ApiException) as denied:
        client.BatchV1Api(kube).create_namespaced_job(NS, job_body("x", "pass"))
    body = status_of(denied.value)
    assert denied.value.status == 403 and body["reason"] == "Forbidden"
    assert body["message"] == 'jobs.batch is forbidden: User "kubernetes-admin" cannot create resource "jobs" in API group "batch" in the namespace "default"'
    fake_cluster.allow_all()

    # A pod calls the API with its service account, through KUBECONFIG, under RBAC.
    core.create_namespaced_service_account(NS, {"metadata": {"name": "runner"}})
    script = """
        from kubernetes import client, config
        config.load_kube_config()
        try:
            print(sorted(c.metadata.name for c in client.CoreV1Api().list_namespaced_config_map("default").items))
        except client.ApiException as err:
            print(err.status)
    """
    pod = {"restartPolicy": "Never", "serviceAccountName": "runner", "containers": [{"name": "c", "image": "py", "command": [*PY, textwrap.dedent(script)]}]}

    def run(name: str) -> str:
        core.create_namespaced_pod(NS, {"metadata": {"name": name}, "spec": pod})
        fake_cluster.wait_for(lambda: core.read_namespaced_pod(name, NS).status.phase in ("Succeeded", "Failed"), 30, name)
        return core.read_namespaced_pod_log(name, NS).strip()

    assert run("before") == "403"
    rbac.create_namespaced_role(NS, {"metadata": {"name": "read-cm"}, "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}]})
    rbac.create_namespaced_role_binding(NS, {"metadata": {"name": "read-cm"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "read-cm"}, "subjects": [{"kind": "ServiceAccount", "name": "runner", "namespace": NS}]})
    assert run("after") == "[]"

    with pytest.raises(client.ApiException) as no_sa:
        core.create_namespaced_pod(NS, {"metadata": {"name": "orphan"}, "spec": {**pod, "serviceAccountName": "ghost"}})
    assert no_sa.value.status == 403 and 'serviceaccount "ghost" not found' in status_of(no_sa.value)["message"]


def test_inferenceservice_status_and_missing_crd(fake_cluster: FakeCluster, kube: client.ApiClient) -> None:
    custom = client.CustomObjectsApi(kube)
    args = ("serving.kserve.io", "v1beta1", NS, "inferenceservices")
    fake_cluster.create_isvc(NS, "iris")
    isvc = custom.get_namespaced_custom_object(*args, "iris")
    assert isvc["kind"] == "InferenceService" and "status" not in isvc
    fake_cluster.set_isvc_ready(NS, "iris", False, reason="RevisionMissing", message="Revision iris-predictor-00001 failed")
    ready = next(c for c in custom.get_namespaced_custom_object(*args, "iris")["status"]["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == ("False", "RevisionMissing", "Revision iris-predictor-00001 failed")
    fake_cluster.set_isvc_ready(NS, "iris", True, url="http://127.0.0.1:9000")
    status = custom.get_namespaced_custom_object(*args, "iris")["status"]
    assert status["address"]["url"] == "http://127.0.0.1:9000" and all(c["status"] == "True" for c in status["conditions"])
    with pytest.raises(client.ApiException) as strategic:
        custom.patch_namespaced_custom_object(*args, "iris", {"metadata": {"labels": {"a": "b"}}}, _content_type="application/strategic-merge-patch+json")
    assert strategic.value.status == 415  # custom resources take no strategic merge patch
    assert custom.patch_namespaced_custom_object(*args, "iris", {"metadata": {"labels": {"a": "b"}}})["metadata"]["labels"] == {"a": "b"}

    assert client.ApiextensionsV1Api(kube).read_custom_resource_definition("inferenceservices.serving.kserve.io").spec.group == "serving.kserve.io"
    fake_cluster.remove_kserve_crd()
    with pytest.raises(client.ApiException) as missing:
        custom.get_namespaced_custom_object(*args, "iris")
    assert missing.value.status == 404 and missing.value.body.startswith("404 page not found")


def test_cronjob_run_now_and_namespace_deletion(fake_cluster: FakeCluster, kube: client.ApiClient) -> None:
    core, batch = client.CoreV1Api(kube), client.BatchV1Api(kube)
    core.create_namespace({"metadata": {"name": "perf"}})
    template = job_body("unused", "print('scheduled')")
    batch.create_namespaced_cron_job("perf", {"metadata": {"name": "nightly"}, "spec": {"schedule": "0 3 * * *", "successfulJobsHistoryLimit": 1, "jobTemplate": {"metadata": {"labels": {"run": "nightly"}}, "spec": template["spec"]}}})
    first = fake_cluster.run_cronjob("perf", "nightly")
    assert first and first.startswith("nightly-")
    job = fake_cluster.wait_for(lambda: (j := batch.read_namespaced_job(first, "perf")).status.succeeded and j, 20, "first run")
    assert job.metadata.labels == {"run": "nightly"} and job.metadata.owner_references[0].kind == "CronJob"
    second = fake_cluster.run_cronjob("perf", "nightly")
    fake_cluster.wait_for(lambda: [j.metadata.name for j in batch.list_namespaced_job("perf").items] == [second] and batch.read_namespaced_job(second, "perf").status.succeeded, 20, "history limit keeps only the last success")
    assert batch.read_namespaced_cron_job("nightly", "perf").status.last_successful_time is not None

    _, code, _ = core.delete_namespace_with_http_info("perf")
    assert code == 202
    with pytest.raises(client.ApiException) as closed:
        core.create_namespaced_config_map("perf", {"metadata": {"name": "late"}})
    assert closed.value.status == 403 and "being terminated" in status_of(closed.value)["message"]
    fake_cluster.wait_for(lambda: fake_cluster.get("namespaces", None, "perf") is None and fake_cluster.objects("perf") == [], 15, "namespace emptied and removed")


def test_stopping_the_cluster_ends_every_process(tmp_path: Path) -> None:
    from kubernetes import config

    cluster = FakeCluster(tmp_path / "cluster", grace_cap=1.0)
    try:
        configuration = client.Configuration()
        config.load_kube_config(config_file=str(cluster.kubeconfig), client_configuration=configuration)
        core = client.CoreV1Api(client.ApiClient(configuration))
        # A process that ignores SIGTERM and has a child of its own.
        script = "import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']); print('up', flush=True); time.sleep(120)"
        for name in ("stubborn-a", "stubborn-b"):
            core.create_namespaced_pod(NS, {"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "py", "command": [*PY, script]}]}})
        cluster.wait_for(lambda: len(cluster.processes()) == 4, 20, "two pods with two processes each")
        pids = cluster.processes()
    finally:
        cluster.stop()
    assert cluster.processes() == []
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert sys.executable  # the containers ran this interpreter
