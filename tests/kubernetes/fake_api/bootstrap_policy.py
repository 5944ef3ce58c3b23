"""The ClusterRoles every real cluster starts with, and the controller that aggregates them.

Users of a real cluster are rarely cluster-admin: a namespace contributor (Kubeflow profiles,
most managed platforms) is bound to the built-in ``edit`` or ``view`` ClusterRole. Their rules
are not written out: ``admin``, ``edit`` and ``view`` carry an ``aggregationRule`` and the
clusterrole-aggregation controller fills in the rules of every ClusterRole the rule's label
selectors pick (``view`` is labelled ``aggregate-to-edit``, so ``edit`` holds ``view``'s rules).
The roles come verbatim from Kubernetes' bootstrap policy (``bootstrap_policy.yaml`` names
the source); the aggregation runs here too, so a ClusterRole a test labels
``rbac.authorization.k8s.io/aggregate-to-edit: "true"`` extends ``edit`` as it would upstream.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from .resources import CLUSTERROLES
from .selectors import selector_object_matches
from .store import Obj, Store

BOOTSTRAP_LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}
"""What upstream puts on its bootstrap roles; ``FakeCluster.objects`` leaves them out."""


def install(store: Store) -> None:
    """Create the bootstrap ClusterRoles (as the API server does when it starts)."""
    for role in yaml.safe_load((Path(__file__).with_name("bootstrap_policy.yaml")).read_text()):
        meta = role["metadata"]
        meta["labels"] = {**BOOTSTRAP_LABELS, **(meta.get("labels") or {})}
        meta["annotations"] = {"rbac.authorization.kubernetes.io/autoupdate": "true"}
        role.setdefault("rules", [])
        store.create(CLUSTERROLES, None, {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", **role})
    aggregate(store)


def aggregate(store: Store) -> None:
    """The clusterrole-aggregation controller: an aggregated role's rules are the union of the
    rules of the ClusterRoles its selectors match, in name order, without duplicates. Repeated
    until nothing changes, because aggregated roles feed each other (view → edit → admin)."""
    for _ in range(5):  # the bootstrap chain is three deep; a bound, not a fixed point search
        changed = False
        roles = store.list(CLUSTERROLES)["items"]
        for role in roles:
            selectors = (role.get("aggregationRule") or {}).get("clusterRoleSelectors")
            if not selectors:
                continue
            rules: list[Obj] = []
            for other in roles:
                labels = other["metadata"].get("labels") or {}
                if other["metadata"]["name"] != role["metadata"]["name"] and any(selector_object_matches(s, labels) for s in selectors):
                    rules.extend(r for r in other.get("rules") or [] if r not in rules)
            if rules != (role.get("rules") or []):
                store.mutate(CLUSTERROLES, None, role["metadata"]["name"], lambda obj, rules=rules: obj.__setitem__("rules", rules))
                changed = True
        if not changed:
            return
