"""A mutating admission webhook that injects Istio's sidecar, as ``istio-sidecar-injector`` does.

When it is installed (``FakeCluster.install_istio``), a pod is injected when its namespace is
labelled ``istio-injection=enabled`` and the pod does not opt out with the label or the
annotation ``sidecar.istio.io/inject: "false"``, or when its namespace has no
``istio-injection`` label and the pod has the label ``sidecar.istio.io/inject: "true"``
(Istio ≥ 1.10 webhooks). Namespaces labelled ``istio-injection=disabled``, ``kube-system``,
``kube-public`` and hostNetwork pods are never injected.

Injected, as a classic sidecar (Istio 1.20–1.23 defaults, not a native ``initContainers``
sidecar): the ``istio-proxy`` container, with the securityContext Istio sets (non-root 1337,
no privilege escalation, ALL capabilities dropped), the ``istio-init`` init container unless
the CNI plugin is used (it needs NET_ADMIN/NET_RAW and root, which Pod Security ``restricted``
refuses, as on a real cluster), the ``sidecar.istio.io/status`` annotation and the
``security.istio.io/tlsMode: istio`` label. The proxy is a real process that never exits by
itself (see ``images/istio_proxy.py``), so a Job whose pod has it never completes.
"""

from __future__ import annotations

import json
from pathlib import Path

from .resources import NAMESPACES
from .store import Obj, Store

INJECT = "sidecar.istio.io/inject"
NAMESPACE_LABEL = "istio-injection"
IMAGE = "docker.io/istio/proxyv2:1.22.3"
PROXY_SCRIPT = Path(__file__).parent / "images" / "istio_proxy.py"  # outside the package: a script's directory goes first on sys.path
NEVER = ("kube-system", "kube-public")


def _field(name: str, path: str) -> Obj:
    return {"name": name, "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": path}}}


class SidecarInjector:
    """Called by ``Admission`` for every pod create while installed."""

    def __init__(self, cni: bool) -> None:
        self.cni = cni

    def wants(self, store: Store, pod: Obj) -> bool:
        meta = pod["metadata"]
        namespace = store.find(NAMESPACES, None, meta["namespace"]) or {}
        ns_label = (namespace.get("metadata", {}).get("labels") or {}).get(NAMESPACE_LABEL)
        pod_label = (meta.get("labels") or {}).get(INJECT)
        if meta["namespace"] in NEVER or pod.get("spec", {}).get("hostNetwork") or (meta.get("annotations") or {}).get(INJECT) == "false":
            return False
        if ns_label == "enabled":
            return pod_label != "false"
        return ns_label is None and pod_label == "true"

    def __call__(self, store: Store, pod: Obj) -> None:
        if not self.wants(store, pod):
            return
        meta, spec = pod["metadata"], pod["spec"]
        spec["containers"] = [*spec["containers"], self._proxy(meta["namespace"])]
        init = [] if self.cni else [self._init()]
        spec["initContainers"] = [*init, *(spec.get("initContainers") or [])]
        meta.setdefault("labels", {})["security.istio.io/tlsMode"] = "istio"
        status = {"initContainers": [c["name"] for c in init] or None, "containers": ["istio-proxy"], "volumes": [], "imagePullSecrets": None, "revision": "default"}
        meta.setdefault("annotations", {})["sidecar.istio.io/status"] = json.dumps(status, separators=(",", ":"))

    def _proxy(self, namespace: str) -> Obj:
        return {
            "name": "istio-proxy",
            "image": IMAGE,
            "args": ["proxy", "sidecar", "--domain", f"{namespace}.svc.cluster.local", "--proxyLogLevel=warning", "--log_output_level=default:info"],
            "env": [
                {"name": "PILOT_CERT_PROVIDER", "value": "istiod"},
                {"name": "CA_ADDR", "value": "istiod.istio-system.svc:15012"},
                _field("POD_NAME", "metadata.name"),
                _field("POD_NAMESPACE", "metadata.namespace"),
                _field("INSTANCE_IP", "status.podIP"),
                _field("SERVICE_ACCOUNT", "spec.serviceAccountName"),
                _field("HOST_IP", "status.hostIP"),
            ],
            "ports": [{"containerPort": 15090, "name": "http-envoy-prom", "protocol": "TCP"}],
            "readinessProbe": {"httpGet": {"path": "/healthz/ready", "port": 15021}, "periodSeconds": 15, "failureThreshold": 4},
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "2", "memory": "1Gi"}},
            "securityContext": {
                "allowPrivilegeEscalation": False,
                "capabilities": {"drop": ["ALL"]},
                "privileged": False,
                "readOnlyRootFilesystem": True,
                "runAsGroup": 1337,
                "runAsNonRoot": True,
                "runAsUser": 1337,
            },
        }

    @staticmethod
    def _init() -> Obj:
        return {
            "name": "istio-init",
            "image": IMAGE,
            "args": ["istio-iptables", "-p", "15001", "-z", "15006", "-u", "1337", "-m", "REDIRECT", "-i", "*", "-x", "", "-b", "*", "-d", "15090,15021,15020"],
            "securityContext": {
                "allowPrivilegeEscalation": False,
                "capabilities": {"add": ["NET_ADMIN", "NET_RAW"], "drop": ["ALL"]},
                "privileged": False,
                "readOnlyRootFilesystem": False,
                "runAsGroup": 0,
                "runAsNonRoot": False,
                "runAsUser": 0,
            },
        }
