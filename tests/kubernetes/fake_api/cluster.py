"""``FakeCluster``: the API server, its controllers and the kubelet, started and stopped as one.

Tests use it through the ``fake_cluster`` fixture; the public methods are the test hooks
(KServe status, pod failure, permission denials, images) and direct reads for assertions.

By default the cluster is as permissive as a developer's own kind cluster: the kubeconfig is
cluster-admin and nothing is injected or enforced. The conditions real clusters impose are
switched on per test (see ``tests/kubernetes/conftest.py`` for fixtures):

* identities: ``user_kubeconfig`` (a user bound to ``edit``/``view``/``admin``, or nothing),
  ``service_account_kubeconfig`` (a service account, with whatever Role the test bound);
* ``install_istio``: the sidecar injector, for namespaces labelled ``istio-injection=enabled``;
* ``enforce_pod_security``, ``limit_pods``: Pod Security admission and a pod-count quota;
* ``unpullable``: images that fail to pull (ErrImagePull → ImagePullBackOff);
* ``fail_lists``: 429/500/503 answers to list calls for a stretch of seconds;
* ``block_pod_proxy``: the API server cannot reach pods (private control plane, mesh mTLS).
"""

from __future__ import annotations

import json
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from . import bootstrap_policy
from .admission import Admission
from .auth import Authorizer, Denial
from .controllers import CronJobController, Events, GarbageCollector, JobController, NamespaceController, TTLController
from .faults import ListFaults, ProxyBlock
from .kubelet import Image, Kubelet
from .network import AddressPool, KubeProxy
from .pod_security import ENFORCE
from .quota import QuotaController
from .resources import CRD, NAMESPACES, RESOURCEQUOTAS, ROLEBINDINGS, SERVICEACCOUNTS, ResourceType, kserve_crd
from .server import RequestRecord, serve
from .sidecars import IMAGE as ISTIO_PROXY_IMAGE
from .sidecars import NAMESPACE_LABEL as ISTIO_INJECTION
from .sidecars import PROXY_SCRIPT, SidecarInjector
from .store import AuditEntry, Obj, Store, now

ISVC_GROUP, ISVC_VERSION, ISVC_PLURAL = "serving.kserve.io", "v1beta1", "inferenceservices"


class FakeCluster:
    """A one-node cluster on loopback. Use as a context manager, or call ``start``/``stop``."""

    def __init__(self, root: Path, namespace: str = "default", grace_cap: float = 2.0, rbac: bool = True, kserve: bool = True) -> None:
        self.root = root
        self.namespace = namespace
        self.addresses = AddressPool()
        self.admission = Admission(self.addresses)
        self.store = Store(admit=self.admission, verify=self.admission.validate)
        self.authorizer = Authorizer(self.store, rbac)
        self.events = Events(self.store)
        self.jobs = JobController(self.store, self.events)
        self.cronjobs = CronJobController(self.store, self.events)
        self.requests: list[RequestRecord] = []
        self.list_faults = ListFaults()
        self.proxy_block: ProxyBlock | None = None
        self.controller_errors: list[str] = []
        self.stopping = threading.Event()
        self._server = serve(self)
        self.address = f"127.0.0.1:{self._server.server_port}"
        self.url = f"http://{self.address}"
        self.kubelet = Kubelet(self.store, self.addresses, root / "node", self.events, self._pod_kubeconfig, "127.0.0.1", self._server.server_port, grace_cap)
        self.proxy = KubeProxy(self.store)
        self._loops: list[Callable[[], None]] = [
            self._service_accounts,
            self.kubelet.sync,
            self.jobs.sync,
            TTLController(self.store).sync,
            self.cronjobs.sync,
            GarbageCollector(self.store).sync,
            NamespaceController(self.store).sync,
            QuotaController(self.store).sync,
            lambda: bootstrap_policy.aggregate(self.store),
            self.proxy.sync,
        ]
        bootstrap_policy.install(self.store)
        for name in ("default", "kube-system", "kube-public", namespace):
            if self.store.find(NAMESPACES, None, name) is None:
                self.store.create(NAMESPACES, None, {"metadata": {"name": name}})
        self._service_accounts()
        if kserve:
            self.install_kserve_crd()
        self.kubeconfig = self.kubeconfig_for(namespace, self.authorizer.admin_token, root / "kubeconfig")
        self._thread = threading.Thread(target=self._run, name="fake-controllers", daemon=True)
        self._thread.start()

    # ---------------------------------------------------------------- running
    def _run(self) -> None:
        while not self.stopping.is_set():
            for loop in self._loops:
                try:
                    loop()
                except Exception:
                    self.controller_errors.append(traceback.format_exc())
            with self.store.changed:
                self.store.changed.wait(0.1)
            time.sleep(0.02)  # bounded CPU even when every pass writes something

    def _service_accounts(self) -> None:
        """The service-account controller: every active namespace has a ``default`` account."""
        for namespace in self.store.list(NAMESPACES)["items"]:
            name = namespace["metadata"]["name"]
            if "deletionTimestamp" not in namespace["metadata"] and self.store.find(SERVICEACCOUNTS, name, "default") is None:
                self.store.create(SERVICEACCOUNTS, name, {"metadata": {"name": "default"}})

    def stop(self) -> None:
        """Stop the controllers, every process the kubelet started, kube-proxy and the server."""
        self.stopping.set()
        self._thread.join(timeout=10)
        self.kubelet.stop()
        self.proxy.stop()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -------------------------------------------------------------- kubeconfig
    def kubeconfig_for(self, namespace: str, token: str, path: Path, user: str = "fake-user") -> Path:
        """A kubeconfig with one context (this server, ``token``, default ``namespace``)."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": user, "user": {"token": token}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": user, "namespace": namespace}}],
            "current-context": "fake",
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(config))
        return path

    def _pod_kubeconfig(self, pod: Obj, pod_root: Path) -> tuple[Path, str]:
        namespace = pod["metadata"]["namespace"]
        token = self.authorizer.token_for(namespace, pod["spec"].get("serviceAccountName", "default"))
        return self.kubeconfig_for(namespace, token, pod_root / "kubeconfig"), token

    # ------------------------------------------------------------ assertions
    def resource(self, plural: str) -> ResourceType:
        """A served type by ``plural`` or ``plural.group`` (``jobs``, ``inferenceservices.serving.kserve.io``)."""
        name, _, group = plural.partition(".")
        matches = [t for t in self.store.served_types() if t.plural == name and (not group or t.group == group)]
        if not matches:
            raise KeyError(f"no served resource {plural!r}")
        return matches[0]

    def get(self, plural: str, namespace: str | None, name: str) -> Obj | None:
        return self.store.find(self.resource(plural), namespace, name)

    def list(self, plural: str, namespace: str | None = None, label_selector: str | None = None) -> list[Obj]:
        return self.store.list(self.resource(plural), namespace, label_selector)["items"]

    def objects(self, namespace: str | None = None) -> list[tuple[str, str, str]]:
        """(kind, namespace, name) of every object, without Events and the cluster's own defaults."""
        out = []
        for rt, obj in self.store.all_objects():
            meta = obj["metadata"]
            if rt.kind in ("Event", "Namespace", "CustomResourceDefinition") or (rt.kind == "ServiceAccount" and meta["name"] == "default"):
                continue
            if (meta.get("labels") or {}).items() >= bootstrap_policy.BOOTSTRAP_LABELS.items():
                continue
            if namespace is None or meta.get("namespace") == namespace:
                out.append((rt.kind, meta.get("namespace", ""), meta["name"]))
        return sorted(out)

    @property
    def audit(self) -> list[AuditEntry]:
        """Every create and delete so far, in order (Events included)."""
        return list(self.store.audit)

    def wait_for(self, condition: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
        """Poll ``condition`` until it returns something truthy; AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if value := condition():
                return value
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout:g}s waiting for {what}\n{self.describe()}")

    def describe(self, log_lines: int = 5) -> str:
        """Pods (phase, container states, last log lines) and warning Events, for failure messages."""
        lines = []
        for pod in self.list("pods"):
            meta, status = pod["metadata"], pod.get("status", {})
            lines.append(f"pod {meta['namespace']}/{meta['name']} {status.get('phase')} ip={status.get('podIP')}{' deleting' if 'deletionTimestamp' in meta else ''}")
            for container in status.get("containerStatuses") or []:
                lines.append(f"  {container['name']}: {json.dumps(container['state'])} restarts={container['restartCount']}")
                runtime = self.kubelet.pods.get(meta["uid"])
                found = next((c for c in runtime.containers if c.name == container["name"]), None) if runtime else None
                if found and found.logs and found.logs[-1].exists():
                    lines.extend(f"    | {line}" for line in found.logs[-1].read_text(errors="replace").splitlines()[-log_lines:])
        for event in self.list("events"):
            if event["type"] == "Warning":
                lines.append(f"event {event['involvedObject']['name']}: {event['reason']}: {event['message']} (x{event['count']})")
        return "\n".join(lines)

    # ----------------------------------------------------------------- hooks
    def install_kserve_crd(self) -> None:
        self.store.create(CRD, None, kserve_crd())

    def remove_kserve_crd(self) -> None:
        """KServe "uninstalled": the CRD and every InferenceService go, the group answers 404."""
        self.store.delete(CRD, None, "inferenceservices.serving.kserve.io")

    def create_isvc(self, namespace: str, name: str, spec: Obj | None = None, ready: bool | None = None, **status: Any) -> Obj:
        """Create an InferenceService (default: an sklearn predictor); ``ready`` sets its status too."""
        body = {
            "apiVersion": f"{ISVC_GROUP}/{ISVC_VERSION}",
            "kind": "InferenceService",
            "metadata": {"name": name},
            "spec": spec or {"predictor": {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": "gs://kfserving-examples/models/sklearn/1.0/model"}}},
        }
        created = self.store.create(self.resource(f"{ISVC_PLURAL}.{ISVC_GROUP}"), namespace, body)
        if ready is not None:
            return self.set_isvc_ready(namespace, name, ready, **status)
        return created

    def set_isvc_ready(
        self,
        namespace: str,
        name: str,
        ready: bool,
        reason: str | None = None,
        message: str | None = None,
        url: str | None = None,
        address_url: str | None = None,
    ) -> Obj:
        """Set the status KServe's controller would: Ready/PredictorReady/IngressReady, url, address.url.

        ``url`` defaults to ``http://{name}-{namespace}.example.com`` and ``address_url`` to ``url``
        when given, else to the cluster-local ``http://{name}.{namespace}.svc.cluster.local``.
        """
        rt = self.resource(f"{ISVC_PLURAL}.{ISVC_GROUP}")
        state = "True" if ready else "False"
        stamp = now()

        def cond(kind: str, status: str) -> Obj:
            c: Obj = {"type": kind, "status": status, "lastTransitionTime": stamp}
            if status != "True" and (reason or message):
                c.update({k: v for k, v in (("reason", reason), ("message", message)) if v})
            return c

        def update(obj: Obj) -> None:
            obj["status"] = {
                "observedGeneration": obj["metadata"]["generation"],
                "url": url or f"http://{name}-{namespace}.example.com",
                "address": {"url": address_url or url or f"http://{name}.{namespace}.svc.cluster.local"},
                "conditions": [cond("IngressReady", state), cond("PredictorReady", state), cond("Ready", state)],
                "modelStatus": {"states": {"activeModelState": "Loaded" if ready else "Pending", "targetModelState": "Loaded"}, "transitionStatus": "UpToDate" if ready else "InProgress"},
            }

        result = self.store.mutate(rt, namespace, name, update)
        if result is None:
            raise KeyError(f"no InferenceService {namespace}/{name}")
        return result

    def kill_pod(self, namespace: str, name: str) -> None:
        """SIGKILL the pod's processes (a crashed container or lost node): exit 137, pod Failed."""
        self.kubelet.kill(namespace, name)

    def processes(self) -> list[int]:
        """Live pids of every container process (and their children) this cluster started."""
        return self.kubelet.processes()

    def deny(self, verb: str, resource: str, namespace: str | None = None) -> None:
        """Answer 403 Forbidden for ``verb`` (``*`` = any) on ``resource`` (``pods``, ``pods/log``,
        ``jobs.batch``, ``inferenceservices``, ``*``), in ``namespace`` or everywhere."""
        self.authorizer.denials.append(Denial(verb, resource, namespace))

    def allow_all(self) -> None:
        self.authorizer.denials.clear()

    def fail_image(self, image: str, reason: str = "ImagePullBackOff", message: str | None = None) -> None:
        """Containers of ``image`` never start and wait with ``reason`` (e.g. ErrImagePull)."""
        self.kubelet.fail_image(image, reason, message)

    def register_image(self, image: str, entrypoint: list[str] | None = None, cmd: list[str] | None = None, env: dict[str, str] | None = None, workdir: str | None = None) -> None:
        """What the image's Dockerfile declares, for containers without ``command``;
        ``image`` matches with or without its tag."""
        self.kubelet.images[image] = Image(entrypoint or [], cmd or [], env or {}, workdir)

    def run_cronjob(self, namespace: str, name: str) -> str | None:
        """Run a CronJob now as its schedule would; returns the Job's name (None if Forbid skipped it)."""
        return self.cronjobs.run_now(namespace, name)

    def token_for(self, namespace: str, service_account: str) -> str:
        return self.authorizer.token_for(namespace, service_account)

    # ------------------------------------------------- real-cluster conditions
    def user_kubeconfig(self, name: str, cluster_role: str | None = "edit", namespace: str | None = None, groups: tuple[str, ...] = ()) -> Path:
        """A kubeconfig that authenticates as the ordinary user ``name`` (its own bearer token),
        bound to ``cluster_role`` (``edit``, ``view``, ``admin``) in ``namespace`` only, by a
        RoleBinding ``<name>-<role>``, as a namespace owner or a Kubeflow profile grants it.
        ``None``: no binding, the user can do nothing until the test binds something."""
        namespace = namespace or self.namespace
        if cluster_role is not None:
            self.store.create(ROLEBINDINGS, namespace, {
                "metadata": {"name": f"{name}-{cluster_role}"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_role},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": name}],
            })  # fmt: skip
        token = self.authorizer.token_for_user(name, groups)
        return self.kubeconfig_for(namespace, token, self.root / "users" / f"{name}.kubeconfig", user=name)

    def service_account_kubeconfig(self, namespace: str, account: str) -> Path:
        """A kubeconfig with the token of service account ``namespace/account``: it can do what
        the Roles the test bound to the account allow, nothing more."""
        token = self.authorizer.token_for(namespace, account)
        return self.kubeconfig_for(namespace, token, self.root / "users" / f"{namespace}.{account}.kubeconfig", user=account)

    def label_namespace(self, namespace: str, labels: dict[str, str]) -> None:
        """Add labels to a namespace (created if missing), as its administrator would."""
        if self.store.find(NAMESPACES, None, namespace) is None:
            self.store.create(NAMESPACES, None, {"metadata": {"name": namespace}})
        self.store.mutate(NAMESPACES, None, namespace, lambda obj: obj["metadata"].setdefault("labels", {}).update(labels))

    def install_istio(self, namespace: str | None = None, cni: bool = False) -> None:
        """Install Istio's sidecar injector (classic sidecars; with ``cni`` no ``istio-init``)
        and label ``namespace`` (default: the kubeconfig's) ``istio-injection=enabled``."""
        self.admission.sidecars = SidecarInjector(cni)
        self.register_image(ISTIO_PROXY_IMAGE, entrypoint=["python", str(PROXY_SCRIPT)])
        self.label_namespace(namespace or self.namespace, {ISTIO_INJECTION: "enabled"})

    def enforce_pod_security(self, level: str = "restricted", namespace: str | None = None) -> None:
        """Label the namespace ``pod-security.kubernetes.io/enforce=<level>``: pods breaking the
        level are refused (403, "violates PodSecurity ...") from now on."""
        self.label_namespace(namespace or self.namespace, {ENFORCE: level})

    def limit_pods(self, pods: int, namespace: str | None = None, name: str = "pods") -> None:
        """A ResourceQuota ``hard: {pods: <pods>}``: pods beyond it are refused ("exceeded quota")."""
        self.store.create(RESOURCEQUOTAS, namespace or self.namespace, {"metadata": {"name": name}, "spec": {"hard": {"pods": str(pods)}}})

    def unpullable(self, pattern: str, why: str = "not found") -> None:
        """Images matching the glob ``pattern`` (as written or fully qualified,
        ``docker.io/library/isvcperf:*``) cannot be pulled: ``why`` is ``"not found"`` (no such
        tag) or ``"denied"`` (private or missing repository)."""
        self.kubelet.unpullable(pattern, why)

    def fail_lists(self, resource: str = "pods", code: int = 429, seconds: float = 3.0, retry_after: int = 1) -> None:
        """For the next ``seconds``, list calls on ``resource`` (plural, or ``*``) answer ``code``:
        429 (with ``Retry-After: retry_after``), 500 or 503, with the real Status bodies."""
        self.list_faults.add(resource, code, seconds, retry_after)

    def block_pod_proxy(self, mode: str = "timeout", delay: float = 1.0) -> None:
        """The API server can no longer reach pods through ``pods/proxy``/``services/proxy``:
        503 "error trying to reach service: dial tcp IP:PORT: i/o timeout" (after ``delay``
        seconds), ``connect: connection refused`` or ``connection reset by peer``."""
        self.proxy_block = ProxyBlock(mode, delay)

    def unblock_pod_proxy(self) -> None:
        self.proxy_block = None
