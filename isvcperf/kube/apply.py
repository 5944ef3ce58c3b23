"""Creating a run's or a launch's objects so that one delete removes them all, and none is left suspended.

The root (the master Job, or the launch's runner Job/CronJob) is created suspended, the
rest owned by it, then the root is resumed. A suspended Job's activeDeadlineSeconds does
not run, so if anything fails in between — a refused Role, a quota, Ctrl-C — the root is
deleted before the error goes on: nothing waits forever in the user's namespace.
"""

from __future__ import annotations

import contextlib
from typing import Any

from isvcperf.kube.cluster import Cluster
from isvcperf.kube.manifests import Manifests, owner_reference
from isvcperf.util.errors import CouldNotRun


def apply_suspended(cluster: Cluster, manifests: Manifests, created: list[str]) -> dict[str, Any]:
    """Create `manifests` (root first, suspended), resume the root; `created` gets each `Kind/name`.

    Returns the stored root. On any failure the root (and with it what it owns) is deleted.
    """
    rendered = manifests.root(suspend=True)
    root = cluster.create(rendered)
    kind, name = rendered["kind"], root["metadata"]["name"]
    created.append(f"{kind}/{name}")
    try:
        owner = owner_reference({**root, "apiVersion": rendered["apiVersion"], "kind": kind})
        for obj in manifests.children(owner):
            cluster.create(obj)
            created.append(f"{obj['kind']}/{obj['metadata']['name']}")
        cluster.patch(kind, name, {"spec": {"suspend": False}})
    except BaseException:
        with contextlib.suppress(CouldNotRun, KeyboardInterrupt):
            cluster.delete(kind, name)
        created.remove(f"{kind}/{name}")
        raise
    return root
