"""The fake API server as strict as a real cluster, checked through the official client.

Each test switches on one condition real clusters impose (see ``FakeCluster``'s hooks and the
fixtures in ``conftest.py``) and pins what a real API server, kubelet or controller answers:
RBAC for ordinary users and a service account, Istio sidecar injection, Pod Security and
quota admission, image pulls that fail, throttled list calls and a pod proxy that cannot
reach pods (with port-forward still working).
"""

from __future__ import annotations

import json
import textwrap
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from fake_api import FakeCluster
from kubernetes import client, config
from kubernetes.stream import portforward

NS = "default"
PY = ["python", "-c"]
ROOT = Path(__file__).resolve().parents[2]
Connect = Callable[[Path], client.ApiClient]


def status_of(err: client.ApiException) -> dict[str, Any]:
    return json.loads(err.body)


def refused(call: Callable[[], object]) -> dict[str, Any]:
    """The Status body of a call that must fail."""
    with pytest.raises(client.ApiException) as failure:
        call()
    return {"code": failure.value.status, **status_of(failure.value)}


def python_job(name: str, script: str, **spec: Any) -> dict[str, Any]:
    pod_spec = spec.pop("pod_spec", {})
    container = {"name": "main", "image": "isvcperf:test", "command": [*PY, textwrap.dedent(script)], **spec.pop("container", {})}
    return {"metadata": {"name": name}, "spec": {"backoffLimit": 0, **spec, "template": {"spec": {"restartPolicy": "Never", "containers": [container], **pod_spec}}}}


def events_for(core: client.CoreV1Api, name: str, reason: str) -> list[client.CoreV1Event]:
    return core.list_namespaced_event(NS, field_selector=f"involvedObject.name={name},reason={reason}").items


RESTRICTED_CONTEXT = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": True,
    "runAsUser": 10001,
    "seccompProfile": {"type": "RuntimeDefault"},
}

HTTP_SERVER = """
    import http.server, json, sys
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"path": self.path}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
    print("serving", flush=True)
    http.server.HTTPServer(("0.0.0.0", 8080), H).serve_forever()
"""


# ------------------------------------------------------------------------------------- RBAC

def exchange(forward: Any, request: bytes) -> bytes:
    """One HTTP/1.0 exchange through a port-forward's port 8080: the whole answer, read until the server closes."""
    sock = forward.socket(8080)
    sock.settimeout(10)
    sock.sendall(request)
    reply = b""
    while chunk := sock.recv(65536):
        reply += chunk
    return reply

def test_edit_and_view_users_have_exactly_the_builtin_roles(fake_cluster: FakeCluster, kube_as: Connect, edit_kubeconfig: Path, view_kubeconfig: Path) -> None:
    edit, view = kube_as(edit_kubeconfig), kube_as(view_kubeconfig)
    assert yaml.safe_load(edit_kubeconfig.read_text())["users"] == [{"name": "alice", "user": {"token": fake_cluster.authorizer.token_for_user("alice")}}]

    # edit: the workload kinds, not RBAC, and only in its namespace.
    client.CoreV1Api(edit).create_namespaced_config_map(NS, {"metadata": {"name": "cm"}})
    client.BatchV1Api(edit).create_namespaced_job(NS, python_job("suspended", "pass", suspend=True))
    assert client.CoreV1Api(edit).list_namespaced_pod(NS).items == []
    assert client.CoreV1Api(edit).list_namespaced_event(NS).items is not None
    role = {"metadata": {"name": "r"}, "rules": []}
    assert refused(lambda: client.RbacAuthorizationV1Api(edit).create_namespaced_role(NS, role)) == {
        "code": 403, "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'roles.rbac.authorization.k8s.io is forbidden: User "alice" cannot create resource "roles" in API group "rbac.authorization.k8s.io" in the namespace "default"',
        "reason": "Forbidden", "details": {"group": "rbac.authorization.k8s.io", "kind": "roles"},
    }  # fmt: skip
    fake_cluster.label_namespace("other", {})
    assert refused(lambda: client.CoreV1Api(edit).list_namespaced_pod("other"))["message"] == 'pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "other"'
    assert refused(lambda: client.CoreV1Api(edit).list_namespace())["message"] == 'namespaces is forbidden: User "alice" cannot list resource "namespaces" in API group "" at the cluster scope'
    assert refused(lambda: client.BatchV1Api(edit).patch_namespaced_job_status("suspended", NS, {"status": {}}))["code"] == 403  # no */status in edit

    # view: reads everything but secrets, writes nothing.
    assert [cm.metadata.name for cm in client.CoreV1Api(view).list_namespaced_config_map(NS).items] == ["cm"]
    assert client.BatchV1Api(view).read_namespaced_job("suspended", NS).spec.suspend is True
    assert refused(lambda: client.CoreV1Api(view).create_namespaced_config_map(NS, {"metadata": {"name": "x"}}))["message"] == 'configmaps is forbidden: User "victor" cannot create resource "configmaps" in API group "" in the namespace "default"'
    assert refused(lambda: client.CoreV1Api(view).read_namespaced_secret("s", NS))["message"] == 'secrets "s" is forbidden: User "victor" cannot get resource "secrets" in API group "" in the namespace "default"'
    assert refused(lambda: client.BatchV1Api(view).delete_namespaced_job("suspended", NS))["code"] == 403

    # The roles are aggregated as upstream: edit holds view's rules (pods/log), admin holds edit's.
    roles = {r.metadata.name: r for r in client.RbacAuthorizationV1Api(kube_as(fake_cluster.kubeconfig)).list_cluster_role().items}
    assert any("pods/log" in rule.resources for rule in roles["edit"].rules)
    assert all(rule in roles["admin"].rules for rule in roles["edit"].rules)
    assert fake_cluster.objects(None) == [("ConfigMap", NS, "cm"), ("Job", NS, "suspended"), ("RoleBinding", NS, "alice-edit"), ("RoleBinding", NS, "victor-view")]

    nobody = fake_cluster.user_kubeconfig("nobody", None)
    assert refused(lambda: client.CoreV1Api(kube_as(nobody)).list_namespaced_pod(NS))["code"] == 403
    nobody.write_text(nobody.read_text().replace(fake_cluster.authorizer.token_for_user("nobody"), "not-a-token"))
    assert refused(lambda: client.CoreV1Api(kube_as(nobody)).list_namespaced_pod(NS))["code"] == 401


def test_service_account_with_only_the_rendered_runner_role(fake_cluster: FakeCluster, kube: client.ApiClient, kube_as: Connect, run_cli: Callable[..., Any]) -> None:
    payload = ROOT / "examples" / "payloads" / "sklearn-irisv2-input.json"
    rendered = run_cli("k", "launch", "-g", "g1", "--dry", "--set", "runner=job", "--set", "tasks={ready,http}", "--set", "ready.isvc=iris", "--set", f"http.payloadFile={payload}")
    assert rendered.returncode == 0, rendered.stderr
    documents = {d["kind"]: d for d in yaml.safe_load_all(rendered.stdout)}
    core, rbac = client.CoreV1Api(kube), client.RbacAuthorizationV1Api(kube)
    core.create_namespaced_service_account(NS, documents["ServiceAccount"])
    rbac.create_namespaced_role(NS, documents["Role"])
    rbac.create_namespaced_role_binding(NS, documents["RoleBinding"])
    account = documents["ServiceAccount"]["metadata"]["name"]
    fake_cluster.create_isvc(NS, "iris", ready=True)

    runner = kube_as(fake_cluster.service_account_kubeconfig(NS, account))
    user = f"system:serviceaccount:{NS}:{account}"
    assert client.CustomObjectsApi(runner).get_namespaced_custom_object("serving.kserve.io", "v1beta1", NS, "inferenceservices", "iris")["metadata"]["name"] == "iris"
    result = client.CoreV1Api(runner).create_namespaced_config_map(NS, {"metadata": {"name": "isvcperf-g1-result"}, "data": {"a": "1"}})
    result.data = {"a": "2"}
    assert client.CoreV1Api(runner).replace_namespaced_config_map("isvcperf-g1-result", NS, result).data == {"a": "2"}
    assert refused(lambda: client.CoreV1Api(runner).read_namespaced_config_map("isvcperf-g1-spec", NS))["message"] == f'configmaps "isvcperf-g1-spec" is forbidden: User "{user}" cannot get resource "configmaps" in API group "" in the namespace "default"'
    assert refused(lambda: client.CoreV1Api(runner).list_namespaced_pod(NS))["message"] == f'pods is forbidden: User "{user}" cannot list resource "pods" in API group "" in the namespace "default"'
    assert refused(lambda: client.CustomObjectsApi(runner).list_namespaced_custom_object("serving.kserve.io", "v1beta1", NS, "inferenceservices"))["code"] == 403


# ------------------------------------------------------------------------------------ Istio
def test_injected_sidecar_keeps_the_job_running_and_logs_need_a_container(istio: FakeCluster, kube: client.ApiClient) -> None:
    core, batch = client.CoreV1Api(kube), client.BatchV1Api(kube)
    batch.create_namespaced_job(NS, python_job("meshed", "print('load done', flush=True)"))
    (pod,) = istio.wait_for(lambda: core.list_namespaced_pod(NS, label_selector="job-name=meshed").items, 10, "the job's pod")
    name = pod.metadata.name
    assert [c.name for c in pod.spec.containers] == ["main", "istio-proxy"] and [c.name for c in pod.spec.init_containers] == ["istio-init"]
    assert pod.metadata.labels["security.istio.io/tlsMode"] == "istio" and "sidecar.istio.io/status" in pod.metadata.annotations

    def main_done() -> client.V1Pod | None:
        current = core.read_namespaced_pod(name, NS)
        states = {s.name: s.state for s in current.status.container_statuses or []}
        return current if states.get("main") and states["main"].terminated and states["istio-proxy"].running else None

    done = istio.wait_for(main_done, 20, "main finished, sidecar still running")
    time.sleep(1.0)  # the controller has had several passes: the Job must still be active
    job = batch.read_namespaced_job("meshed", NS)
    assert done.status.phase == "Running" and job.status.active == 1 and not job.status.conditions
    assert refused(lambda: core.read_namespaced_pod_log(name, NS))["message"] == f"a container name must be specified for pod {name}, choose one of: [main istio-proxy] or one of the init containers: [istio-init]"
    assert core.read_namespaced_pod_log(name, NS, container="main") == "load done\n"
    assert "Envoy proxy is ready" in core.read_namespaced_pod_log(name, NS, container="istio-proxy")

    # The documented way out for Jobs: ask pilot-agent to quit; then the pod and the Job finish.
    quit_call = urllib.request.Request(f"http://{done.status.pod_ip}:15020/quitquitquit", method="POST")
    assert urllib.request.urlopen(quit_call, timeout=5).status == 200
    istio.wait_for(lambda: any(c.type == "Complete" for c in batch.read_namespaced_job("meshed", NS).status.conditions or []), 20, "job complete")


def test_sidecar_injection_honours_opt_outs(istio: FakeCluster, kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    istio.label_namespace("plain", {})
    istio.wait_for(lambda: istio.get("serviceaccounts", "plain", "default"), 5, "the new namespace's default service account")

    def containers(namespace: str, name: str, labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None) -> list[str]:
        body = {"metadata": {"name": name, "labels": labels or {}, "annotations": annotations or {}}, "spec": {"containers": [{"name": "c", "image": "py", "command": [*PY, "pass"]}], "restartPolicy": "Never"}}
        return [c.name for c in core.create_namespaced_pod(namespace, body).spec.containers]

    opt_out = {"sidecar.istio.io/inject": "false"}
    assert containers(NS, "by-label", labels=opt_out) == ["c"]
    assert containers(NS, "by-annotation", annotations=opt_out) == ["c"]
    assert containers(NS, "injected") == ["c", "istio-proxy"]
    assert containers("plain", "unlabelled-namespace") == ["c"]
    assert containers("plain", "opt-in", labels={"sidecar.istio.io/inject": "true"}) == ["c", "istio-proxy"]


# -------------------------------------------------------------------------------- admission
def test_pod_security_restricted_refuses_with_the_real_message(fake_cluster: FakeCluster, kube: client.ApiClient, restricted_namespace: str) -> None:
    core, batch = client.CoreV1Api(kube), client.BatchV1Api(kube)
    bare = {"metadata": {"name": "bare"}, "spec": {"containers": [{"name": "c", "image": "py", "command": [*PY, "pass"]}]}}
    assert refused(lambda: core.create_namespaced_pod(restricted_namespace, bare)) == {
        "code": 403, "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'pods "bare" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false '
                   '(container "c" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities '
                   '(container "c" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container '
                   '"c" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "c" must set '
                   'securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")',
        "reason": "Forbidden", "details": {"name": "bare", "kind": "pods"},
    }  # fmt: skip
    host = {"metadata": {"name": "host"}, "spec": {"volumes": [{"name": "h", "hostPath": {"path": "/"}}], "containers": [{"name": "c", "image": "py", "command": [*PY, "pass"], "securityContext": {**RESTRICTED_CONTEXT, "runAsUser": 0}}]}}
    assert refused(lambda: core.create_namespaced_pod(restricted_namespace, host))["message"] == (
        'pods "host" is forbidden: violates PodSecurity "restricted:latest": restricted volume types (volume "h" uses restricted volume type "hostPath"), runAsUser=0 (container "c" must not set runAsUser=0)'
    )
    compliant = {"metadata": {"name": "ok"}, "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "py", "command": [*PY, "pass"], "securityContext": RESTRICTED_CONTEXT}]}}
    assert core.create_namespaced_pod(restricted_namespace, compliant).metadata.name == "ok"

    # A Job is admitted (upstream only warns on workloads); its pods are refused, and only the
    # Job controller's FailedCreate events say so.
    batch.create_namespaced_job(restricted_namespace, python_job("rootish", "pass"))
    event = fake_cluster.wait_for(lambda: events_for(core, "rootish", "FailedCreate"), 10, "FailedCreate")[0]
    assert (event.type, event.involved_object.kind, event.involved_object.name, event.source.component) == ("Warning", "Job", "rootish", "job-controller")
    assert event.message.startswith('Error creating: pods "rootish-') and 'is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false' in event.message
    assert core.list_namespaced_pod(restricted_namespace, label_selector="job-name=rootish").items == []


def test_resource_quota_refuses_a_second_pod_and_the_job_records_failed_create(one_pod_quota: FakeCluster, kube: client.ApiClient) -> None:
    core, batch = client.CoreV1Api(kube), client.BatchV1Api(kube)
    batch.create_namespaced_job(NS, python_job("workers", "import time; time.sleep(30)", parallelism=2, completions=2))
    event = one_pod_quota.wait_for(lambda: events_for(core, "workers", "FailedCreate"), 10, "FailedCreate")[0]
    assert event.involved_object.kind == "Job" and event.type == "Warning"
    assert event.message.startswith('Error creating: pods "workers-')
    assert event.message.endswith('is forbidden: exceeded quota: pods, requested: pods=1, used: pods=1, limited: pods=1')
    assert len(core.list_namespaced_pod(NS, label_selector="job-name=workers").items) == 1
    quota = one_pod_quota.wait_for(lambda: (q := core.read_namespaced_resource_quota("pods", NS)).status and q.status.used and q, 5, "quota status")
    assert quota.status.hard == {"pods": "1"} and quota.status.used == {"pods": "1"}
    direct = {"metadata": {"name": "extra"}, "spec": {"containers": [{"name": "c", "image": "py", "command": [*PY, "pass"]}]}}
    assert refused(lambda: core.create_namespaced_pod(NS, direct))["message"] == 'pods "extra" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=1, limited: pods=1'


def test_unpullable_image_goes_err_image_pull_then_image_pull_back_off(fake_cluster: FakeCluster, kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    fake_cluster.unpullable("docker.io/library/isvcperf:*", "denied")
    fake_cluster.unpullable("ghcr.io/acme/isvcperf:9.9", "not found")
    for name, image in (("denied", "isvcperf:0.1.0"), ("missing", "ghcr.io/acme/isvcperf:9.9")):
        core.create_namespaced_pod(NS, {"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": image, "command": ["true"]}]}})

    def waiting(name: str, reason: str) -> client.V1ContainerStateWaiting | None:
        statuses = core.read_namespaced_pod(name, NS).status.container_statuses or []
        state = statuses[0].state.waiting if statuses else None
        return state if state and state.reason == reason else None

    pulling = fake_cluster.wait_for(lambda: waiting("denied", "ErrImagePull"), 10, "ErrImagePull")
    ref = "docker.io/library/isvcperf:0.1.0"
    assert pulling.message == (
        f'rpc error: code = Unknown desc = failed to pull and unpack image "{ref}": failed to resolve reference "{ref}": pull access denied, '
        "repository does not exist or may require authorization: server message: insufficient_scope: authorization failed"
    )
    backing_off = fake_cluster.wait_for(lambda: waiting("denied", "ImagePullBackOff"), 10, "ImagePullBackOff")
    assert backing_off.message == 'Back-off pulling image "isvcperf:0.1.0"'
    missing = fake_cluster.wait_for(lambda: waiting("missing", "ErrImagePull") or waiting("missing", "ImagePullBackOff"), 10, "missing image")
    assert missing.reason == "ImagePullBackOff" or missing.message.endswith('"ghcr.io/acme/isvcperf:9.9": ghcr.io/acme/isvcperf:9.9: not found')
    assert core.read_namespaced_pod("denied", NS).status.phase == "Pending"
    messages = {e.message for e in core.list_namespaced_event(NS, field_selector="involvedObject.name=denied").items}
    assert {'Pulling image "isvcperf:0.1.0"', f'Failed to pull image "isvcperf:0.1.0": {pulling.message}', "Error: ErrImagePull", 'Back-off pulling image "isvcperf:0.1.0"', "Error: ImagePullBackOff"} <= messages


# --------------------------------------------------------------------- throttling and errors
def test_list_calls_answer_429_and_500_for_a_stretch(fake_cluster: FakeCluster, kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    no_retries = client.Configuration()
    config.load_kube_config(config_file=str(fake_cluster.kubeconfig), client_configuration=no_retries)
    no_retries.retries = False
    raw = client.CoreV1Api(client.ApiClient(no_retries))

    fake_cluster.fail_lists("pods", 429, seconds=1.0, retry_after=1)
    with pytest.raises(client.ApiException) as throttled:
        raw.list_namespaced_pod(NS)
    assert throttled.value.status == 429 and throttled.value.headers["Retry-After"] == "1"
    assert status_of(throttled.value) == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": "Too many requests, please try again later.",
        "reason": "TooManyRequests", "details": {"retryAfterSeconds": 1}, "code": 429,
    }  # fmt: skip
    assert raw.list_namespaced_config_map(NS).items == []  # other resources are served
    # The official client's urllib3 pool (Retry(total=3)) honours Retry-After on 429 for GETs:
    # a short throttling stretch costs a wait, not an exception.
    started = time.monotonic()
    assert core.list_namespaced_pod(NS).items == []
    assert time.monotonic() - started >= 0.5

    fake_cluster.fail_lists("*", 500, seconds=1.0)
    stretch_end = time.monotonic() + 1.0
    failure = refused(lambda: core.list_namespaced_event(NS))  # no Retry-After: not retried
    assert (failure["code"], failure["reason"], failure["message"]) == (500, "InternalError", "Internal error occurred: etcdserver: request timed out")
    assert failure["details"] == {"causes": [{"message": "etcdserver: request timed out"}]}
    assert core.read_namespace(NS).metadata.name == NS  # only list calls fail
    time.sleep(max(0.0, stretch_end - time.monotonic()))
    assert core.list_namespaced_event(NS).items is not None  # the stretch is over


# ---------------------------------------------------------------- proxy and port-forward
def test_unreachable_pod_proxy_answers_503_while_port_forward_works(private_control_plane: FakeCluster, kube: client.ApiClient) -> None:
    cluster, core = private_control_plane, client.CoreV1Api(kube)
    core.create_namespaced_pod(NS, {"metadata": {"name": "web", "labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "py", "command": [*PY, textwrap.dedent(HTTP_SERVER)], "ports": [{"containerPort": 8080}]}]}})
    core.create_namespaced_service(NS, {"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}})
    pod = cluster.wait_for(lambda: (p := core.read_namespaced_pod("web", NS)).status.phase == "Running" and "serving" in core.read_namespaced_pod_log("web", NS) and p, 20, "server up")
    ip = pod.status.pod_ip

    started = time.monotonic()
    timeout = refused(lambda: core.connect_get_namespaced_pod_proxy_with_path("web:8080", NS, "stats"))
    assert time.monotonic() - started >= 0.5  # the dial waited for its timeout
    assert (timeout["code"], timeout["reason"], timeout["message"]) == (503, "ServiceUnavailable", f"error trying to reach service: dial tcp {ip}:8080: i/o timeout")
    assert refused(lambda: core.connect_get_namespaced_service_proxy_with_path("web:80", NS, "x"))["message"] == f"error trying to reach service: dial tcp {ip}:8080: i/o timeout"
    cluster.block_pod_proxy("refused")
    assert refused(lambda: core.connect_get_namespaced_pod_proxy_with_path("web:8080", NS, "stats"))["message"] == f"error trying to reach service: dial tcp {ip}:8080: connect: connection refused"

    forward = portforward(core.connect_get_namespaced_pod_portforward, "web", NS, ports="8080,9999")
    try:
        reply = exchange(forward, b"GET /via-forward HTTP/1.0\r\nHost: web\r\n\r\n")
        assert reply.startswith(b"HTTP/1.0 200") and reply.endswith(b'{"path": "/via-forward"}')
        cluster.wait_for(lambda: forward.error(9999), 5, "error channel of the closed port")
        assert "error forwarding port 9999 to pod" in forward.error(9999) and "connect: connection refused" in forward.error(9999)
    finally:
        forward.close()

    cluster.unblock_pod_proxy()
    assert json.loads(core.connect_get_namespaced_pod_proxy_with_path("web:8080", NS, "back")) == {"path": "/back"}


def test_strict_mtls_resets_the_proxy_and_view_users_cannot_port_forward(strict_mtls: FakeCluster, kube: client.ApiClient, kube_as: Connect, view_kubeconfig: Path, edit_kubeconfig: Path) -> None:
    core = client.CoreV1Api(kube)
    core.create_namespaced_pod(NS, {"metadata": {"name": "web"}, "spec": {"containers": [{"name": "c", "image": "py", "command": [*PY, textwrap.dedent(HTTP_SERVER)]}]}})
    pod = strict_mtls.wait_for(lambda: (p := core.read_namespaced_pod("web", NS)).status.phase == "Running" and "serving" in core.read_namespaced_pod_log("web", NS, container="c") and p, 20, "server up")
    assert refused(lambda: core.connect_get_namespaced_pod_proxy_with_path("web:8080", NS, "x"))["message"].endswith(f"->{pod.status.pod_ip}:8080: read: connection reset by peer")

    viewer = client.CoreV1Api(kube_as(view_kubeconfig))
    with pytest.raises(client.ApiException) as denied:
        portforward(viewer.connect_get_namespaced_pod_portforward, "web", NS, ports="8080").socket(8080).recv(1)
    assert "403" in str(denied.value)
    editor = client.CoreV1Api(kube_as(edit_kubeconfig))
    forward = portforward(editor.connect_get_namespaced_pod_portforward, "web", NS, ports="8080")
    try:
        assert exchange(forward, b"GET /edit HTTP/1.0\r\n\r\n").endswith(b'{"path": "/edit"}')
    finally:
        forward.close()
