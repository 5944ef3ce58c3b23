"""The resource types the fake serves: built-in ones, and custom ones defined by stored CRDs.

A custom resource is served only while its CustomResourceDefinition exists, as on a real
cluster: delete ``inferenceservices.serving.kserve.io`` and the ``serving.kserve.io`` group
answers ``404 page not found``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ResourceType:
    """One REST resource: where it lives in the URL space and how its objects are named."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str
    has_status: bool = False
    custom: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """How error messages name the resource: ``pods``, ``jobs.batch``."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def key(self) -> tuple[str, str]:
        """Store key part: objects are stored once per group+resource, whatever the version."""
        return (self.group, self.plural)


def _t(group: str, version: str, plural: str, kind: str, namespaced: bool = True, status: bool = False) -> ResourceType:
    return ResourceType(group, version, plural, kind, namespaced, kind.lower(), has_status=status)


BUILTIN: tuple[ResourceType, ...] = (
    _t("", "v1", "namespaces", "Namespace", namespaced=False, status=True),
    _t("", "v1", "pods", "Pod", status=True),
    _t("", "v1", "services", "Service", status=True),
    _t("", "v1", "configmaps", "ConfigMap"),
    _t("", "v1", "secrets", "Secret"),
    _t("", "v1", "serviceaccounts", "ServiceAccount"),
    _t("", "v1", "events", "Event"),
    _t("", "v1", "resourcequotas", "ResourceQuota", status=True),
    _t("batch", "v1", "jobs", "Job", status=True),
    _t("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy"),
    _t("batch", "v1", "cronjobs", "CronJob", status=True),
    _t("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    _t("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    _t("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", namespaced=False),
    _t("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", namespaced=False),
    _t("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", namespaced=False, status=True),
)

CRD = next(t for t in BUILTIN if t.plural == "customresourcedefinitions")
NAMESPACES = next(t for t in BUILTIN if t.plural == "namespaces")
PODS = next(t for t in BUILTIN if t.plural == "pods")
SERVICES = next(t for t in BUILTIN if t.plural == "services")
CONFIGMAPS = next(t for t in BUILTIN if t.plural == "configmaps")
SECRETS = next(t for t in BUILTIN if t.plural == "secrets")
SERVICEACCOUNTS = next(t for t in BUILTIN if t.plural == "serviceaccounts")
EVENTS = next(t for t in BUILTIN if t.plural == "events")
RESOURCEQUOTAS = next(t for t in BUILTIN if t.plural == "resourcequotas")
JOBS = next(t for t in BUILTIN if t.plural == "jobs")
CRONJOBS = next(t for t in BUILTIN if t.plural == "cronjobs")
ROLES = next(t for t in BUILTIN if t.plural == "roles")
ROLEBINDINGS = next(t for t in BUILTIN if t.plural == "rolebindings")
CLUSTERROLES = next(t for t in BUILTIN if t.plural == "clusterroles")
CLUSTERROLEBINDINGS = next(t for t in BUILTIN if t.plural == "clusterrolebindings")


def from_crd(crd: dict[str, Any]) -> list[ResourceType]:
    """The served versions of a CRD as resource types (one per served version)."""
    spec = crd.get("spec", {})
    names = spec.get("names", {})
    types = []
    for version in spec.get("versions", []):
        if not version.get("served", True):
            continue
        types.append(
            ResourceType(
                group=spec["group"],
                version=version["name"],
                plural=names["plural"],
                kind=names["kind"],
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                singular=names.get("singular", names["kind"].lower()),
                has_status="status" in (version.get("subresources") or {}),
                custom=True,
            )
        )
    return types


def kserve_crd() -> dict[str, Any]:
    """The InferenceService CRD as KServe installs it (names, scope, versions, status subresource)."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "inferenceservices.serving.kserve.io"},
        "spec": {
            "group": "serving.kserve.io",
            "names": {
                "kind": "InferenceService",
                "listKind": "InferenceServiceList",
                "plural": "inferenceservices",
                "singular": "inferenceservice",
                "shortNames": ["isvc"],
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1beta1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                    "subresources": {"status": {}},
                }
            ],
        },
    }
