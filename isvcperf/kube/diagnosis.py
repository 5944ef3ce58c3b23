"""Why a run's pods are not running, in the words Kubernetes used.

A pod that cannot start shows it in different places: its container's waiting reason
(an image that cannot be pulled, a missing Secret), its phase, or — when admission
refused the pod so it never existed — only the Job controller's `FailedCreate` events
(ResourceQuota, LimitRange, Pod Security, an OpenShift SCC). Waiting fixes none of
these, so the runner fails fast and quotes the reason instead of waiting out
`kubernetes.startTimeout` and guessing.
"""

from __future__ import annotations

from typing import Any

FATAL_WAITING = ("InvalidImageName", "CreateContainerConfigError", "ErrImagePull", "ImagePullBackOff",
                 "ErrImageNeverPull")
"""Container waiting reasons no wait fixes: a bad or unpullable image, a missing Secret or key."""
PULL_REASONS = ("ErrImagePull", "ImagePullBackOff")
SIDECAR = "istio-proxy"


def pod_state(pod: dict[str, Any]) -> str:
    """`Pending (Unschedulable: 0/3 nodes ...)`, `Pending, waiting: ImagePullBackOff (...)`, `Failed, terminated: ...`."""
    status = pod.get("status", {})
    phase = status.get("phase", "Pending")
    for container in status.get("containerStatuses", []) or []:
        state = container.get("state", {})
        if "waiting" in state:
            waiting = state["waiting"] or {}
            return f"{phase}, waiting: {waiting.get('reason', '')}" + (
                f" ({waiting['message']})" if waiting.get("message") else "")
        if "terminated" in state:
            term = state["terminated"] or {}
            return f"{phase}, terminated: {term.get('reason', '')} exit {term.get('exitCode')}"
    for cond in status.get("conditions", []) or []:
        if cond.get("status") == "False" and cond.get("reason"):
            return f"{phase} ({cond['reason']}: {cond.get('message', '')})"
    return phase + (f" ({status['reason']})" if status.get("reason") else "")


def fatal_waiting(pod: dict[str, Any]) -> str | None:
    """The waiting reason of a container that will not start by itself, or None."""
    for container in pod.get("status", {}).get("containerStatuses", []) or []:
        reason = ((container.get("state") or {}).get("waiting") or {}).get("reason")
        if reason in FATAL_WAITING:
            return str(reason)
    return None


def pull_failure(events: list[dict[str, Any]]) -> str | None:
    """The kubelet's own words for a failed pull (`pull access denied`, `not found`), from a pod's events."""
    failed = [e for e in events if e.get("reason") == "Failed" and "pull" in (e.get("message") or "").lower()]
    return failed[-1]["message"] if failed else None


def failed_create(events: list[dict[str, Any]]) -> str | None:
    """The newest `FailedCreate` message of a Job: its pods were refused by admission or a quota."""
    refused = [e for e in events if e.get("reason") == "FailedCreate"]
    return refused[-1].get("message") if refused else None


def has_sidecar(pod: dict[str, Any]) -> bool:
    return any(c.get("name") == SIDECAR for c in pod.get("spec", {}).get("containers", []) or [])
