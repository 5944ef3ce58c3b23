"""ResourceQuota: the admission plugin that refuses what would exceed a quota, and its controller.

Only object counts of pods are enforced (``pods`` and ``count/pods`` in ``spec.hard``), which
is what refuses a run's worker pods when a namespace is full; compute quotas (``requests.cpu``
…) are accepted and not enforced. A pod counts until it reaches a terminal phase, as upstream.
A refusal is the real 403::

    pods "w-x2b7f" is forbidden: exceeded quota: pods-1, requested: pods=1, used: pods=1, limited: pods=1

Pods a Job controller cannot create this way show up only as ``FailedCreate`` events on the Job.
"""

from __future__ import annotations

from . import errors
from .resources import PODS, RESOURCEQUOTAS, ResourceType
from .store import Obj, Store

COUNTED = ("pods", "count/pods")


def _pods_in_use(store: Store, namespace: str) -> int:
    return sum(1 for p in store.list(PODS, namespace)["items"] if p.get("status", {}).get("phase") not in ("Succeeded", "Failed"))


class QuotaAdmission:
    """The validating plugin: runs last, after every other check has passed (as upstream)."""

    def __call__(self, store: Store, rt: ResourceType, obj: Obj) -> None:
        if rt != PODS:
            return
        namespace = obj["metadata"]["namespace"]
        quotas = store.list(RESOURCEQUOTAS, namespace)["items"]
        if not quotas:
            return
        used = _pods_in_use(store, namespace)
        for quota in quotas:
            hard = quota.get("spec", {}).get("hard") or {}
            for key in COUNTED:
                if key in hard and used + 1 > int(hard[key]):
                    why = f"exceeded quota: {quota['metadata']['name']}, requested: {key}=1, used: {key}={used}, limited: {key}={hard[key]}"
                    raise errors.forbidden(PODS.qualified, obj["metadata"]["name"], PODS.group, why)


class QuotaController:
    """Keeps ``status.hard``/``status.used`` current, as the resourcequota controller does."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def sync(self) -> None:
        for quota in self.store.list(RESOURCEQUOTAS)["items"]:
            meta = quota["metadata"]
            hard = dict(quota.get("spec", {}).get("hard") or {})
            in_use = str(_pods_in_use(self.store, meta["namespace"]))
            status = {"hard": hard, "used": {k: in_use for k in hard if k in COUNTED}}
            self.store.mutate(RESOURCEQUOTAS, meta["namespace"], meta["name"], lambda obj, status=status: obj.__setitem__("status", status))
