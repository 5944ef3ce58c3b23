"""Defaulting and admission on create, the part of the real API server that fills in fields.

The order is the real one: defaulting and the mutating plugins (ServiceAccount, then the Istio
sidecar webhook when installed) run before validation; the validating plugins (Pod Security,
then ResourceQuota, always last) after it, so a refusal names the object as it would be stored.

Namespaces get phase Active and the ``kubernetes.io/metadata.name`` label; Secrets have
``stringData`` folded into base64 ``data``; Services get a ClusterIP, type, protocol and
``targetPort`` defaults; Pods get restartPolicy, grace period, service account defaults and
are refused (403) when their service account does not exist (the ServiceAccount admission
plugin); Jobs get their selector, pod-template labels, parallelism, completions, backoffLimit
and completionMode defaults; CronJobs their policy and history-limit defaults.
"""

from __future__ import annotations

import base64
from typing import Any

from . import errors
from .network import AddressPool
from .pod_security import PodSecurity
from .quota import QuotaAdmission
from .resources import SERVICEACCOUNTS, ResourceType
from .sidecars import SidecarInjector
from .store import Obj, Store


class Admission:
    """Callable the store runs inside ``create`` (under its lock) before validation;
    ``validate`` is the validating phase it runs after validation."""

    def __init__(self, addresses: AddressPool) -> None:
        self.addresses = addresses
        self.sidecars: SidecarInjector | None = None
        self._validating = (PodSecurity(), QuotaAdmission())

    def __call__(self, store: Store, rt: ResourceType, obj: Obj) -> None:
        handler = getattr(self, f"_{rt.plural}", None)
        if handler is not None and not rt.custom:
            handler(store, rt, obj)

    def validate(self, store: Store, rt: ResourceType, obj: Obj) -> None:
        for plugin in self._validating:
            plugin(store, rt, obj)

    def _namespaces(self, store: Store, rt: ResourceType, obj: Obj) -> None:
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
        obj["spec"] = {"finalizers": ["kubernetes"]}
        obj["status"] = {"phase": "Active"}

    def _secrets(self, store: Store, rt: ResourceType, obj: Obj) -> None:
        string_data = obj.pop("stringData", None) or {}
        if string_data:
            data = obj["data"] = obj.get("data") or {}
            data.update({k: base64.b64encode(v.encode()).decode() for k, v in string_data.items()})
        obj.setdefault("type", "Opaque")

    def _services(self, store: Store, rt: ResourceType, obj: Obj) -> None:
        spec = obj.setdefault("spec", {})
        spec.setdefault("type", "ClusterIP")
        if spec.get("clusterIP") != "None":
            spec["clusterIP"] = self.addresses.service_ip()
        spec["clusterIPs"] = [spec["clusterIP"]]
        spec.setdefault("sessionAffinity", "None")
        for port in spec.get("ports") or []:
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))
        obj["status"] = {"loadBalancer": {}}

    def _pods(self, store: Store, rt: ResourceType, obj: Obj) -> None:
        spec = obj.setdefault("spec", {})
        spec.setdefault("restartPolicy", "Always")
        spec.setdefault("terminationGracePeriodSeconds", 30)
        spec.setdefault("dnsPolicy", "ClusterFirst")
        spec.setdefault("schedulerName", "default-scheduler")
        spec.setdefault("serviceAccountName", spec.get("serviceAccount") or "default")
        spec["serviceAccount"] = spec["serviceAccountName"]
        spec.setdefault("enableServiceLinks", True)
        namespace, account = obj["metadata"]["namespace"], spec["serviceAccountName"]
        if store.find(SERVICEACCOUNTS, namespace, account) is None:
            why = f'error looking up service account {namespace}/{account}: serviceaccount "{account}" not found'
            raise errors.forbidden(rt.qualified, obj["metadata"]["name"], rt.group, why)
        if self.sidecars is not None:
            self.sidecars(store, obj)
        for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
            container.setdefault("terminationMessagePath", "/dev/termination-log")
            container.setdefault("imagePullPolicy", "Always" if container.get("image", "").endswith(":latest") else "IfNotPresent")
        obj["status"] = {"phase": "Pending", "qosClass": _qos_class(spec)}

    def _jobs(self, store: Store, rt: ResourceType, obj: Obj) -> None:
        spec = obj.setdefault("spec", {})
        uid, name = obj["metadata"]["uid"], obj["metadata"]["name"]
        if not spec.get("manualSelector"):
            spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
            labels = spec.setdefault("template", {}).setdefault("metadata", {}).setdefault("labels", {})
            labels.update(
                {
                    "batch.kubernetes.io/controller-uid": uid,
                    "batch.kubernetes.io/job-name": name,
                    "controller-uid": uid,
                    "job-name": name,
                }
            )
        if spec.get("completions") is None and spec.get("parallelism") is None:
            spec["completions"] = 1  # neither given: one pod; parallelism alone means a work queue
        if spec.get("parallelism") is None:
            spec["parallelism"] = 1
        spec.setdefault("backoffLimit", 6)
        spec.setdefault("completionMode", "NonIndexed")
        spec.setdefault("suspend", False)
        obj["status"] = {}

    def _cronjobs(self, store: Store, rt: ResourceType, obj: Obj) -> None:
        spec = obj.setdefault("spec", {})
        spec.setdefault("concurrencyPolicy", "Allow")
        spec.setdefault("suspend", False)
        spec.setdefault("successfulJobsHistoryLimit", 3)
        spec.setdefault("failedJobsHistoryLimit", 1)
        obj["status"] = {}


def _qos_class(spec: dict[str, Any]) -> str:
    resources = [c.get("resources") or {} for c in spec.get("containers") or []]
    if not any(r.get("requests") or r.get("limits") for r in resources):
        return "BestEffort"
    guaranteed = all(
        r.get("limits") and all((r.get("requests") or r["limits"]).get(k) == r["limits"].get(k) for k in ("cpu", "memory")) and {"cpu", "memory"} <= set(r["limits"])
        for r in resources
    )
    return "Guaranteed" if guaranteed else "Burstable"
