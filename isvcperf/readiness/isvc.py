"""InferenceService readiness through the Kubernetes API, and the infer URL from its status.

KServe says when an InferenceService can serve: its `Ready` condition. Waiting on that
(instead of probing a URL the CLI may not even be able to reach from outside the
cluster) is what Iter8's `ready` task did; when it does not turn True in time the error
shows the conditions last seen, reason and message, because "not ready" alone sends
people to kubectl. When the spec gives no URL, the status gives the host: the
cluster-local `status.address.url` for load sent from inside the cluster, `status.url`
for load sent from outside.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from isvcperf.kserve import openai, urls
from isvcperf.kube.cluster import Cluster
from isvcperf.spec.budget import budget
from isvcperf.spec.model import RunSpec, Target
from isvcperf.util.durations import format_duration
from isvcperf.util.errors import CouldNotRun
from isvcperf.util.polling import deadline_after, poll_until


def conditions_text(isvc: dict[str, Any]) -> str:
    """`Ready=False (Reason: message); PredictorReady=...` — what a user would read in kubectl describe."""
    parts = []
    for cond in isvc.get("status", {}).get("conditions", []) or []:
        detail = ": ".join(x for x in (cond.get("reason"), cond.get("message")) if x)
        parts.append(f"{cond.get('type')}={cond.get('status')}" + (f" ({detail})" if detail else ""))
    return "; ".join(parts) or "no conditions reported yet"


def is_ready(isvc: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in isvc.get("status", {}).get("conditions", []) or [])


def infer_url(isvc: dict[str, Any], protocol: str, model: str, in_cluster: bool) -> str:
    """The inference URL from the InferenceService's status for `protocol` and `model`."""
    status = isvc.get("status", {})
    address = (status.get("address") or {}).get("url")
    external = status.get("url")
    base = (address or external) if in_cluster else (external or address)
    name = isvc.get("metadata", {}).get("name", "?")
    if not base:
        raise CouldNotRun(f"InferenceService {name!r} is Ready but its status has no url or address.url; "
                          "give target.url")
    return urls.infer_url(base, protocol, model)


def wait_isvc(spec: RunSpec, cluster: Cluster, in_cluster: bool,
              progress: Callable[[str], None] | None = None) -> RunSpec:
    """Wait for target.isvc to be Ready (unless ready.enabled is false); return the spec with its URL
    (the spec's own, or the one the InferenceService's status gives)."""
    name = spec.target.isvc
    assert name is not None, "wait_isvc needs target.isvc"  # run.py calls it only then
    namespace = spec.target.namespace or cluster.namespace
    limits = budget(spec)
    timeout = limits.ready
    seen = [""]

    def step() -> dict[str, Any] | None:
        isvc = cluster.get_isvc(name, namespace)
        if is_ready(isvc) or not spec.ready.enabled:
            return isvc
        now = conditions_text(isvc)
        if now != seen[0] and progress:
            progress(f"waiting for InferenceService {namespace}/{name}: {now}")
        seen[0] = now
        return None

    def expired() -> dict[str, Any]:
        raise CouldNotRun(f"InferenceService {namespace}/{name} not Ready within {format_duration(timeout)}; "
                          f"last seen: {seen[0]}")

    isvc = poll_until(step, deadline_after(timeout), limits.ready_interval, expired)
    if spec.target.url is None:
        return spec.with_target_url(target_url(isvc, spec.target, in_cluster))
    return spec


def target_url(isvc: dict[str, Any], target: Target, in_cluster: bool) -> str:
    """The request URL of `target` (a resolved target without a URL) from its InferenceService's status:
    the protocol's inference URL, or for protocol openai the status's base + the OpenAI route."""
    model = target.model or target.isvc or ""
    if target.protocol == "openai":
        base = infer_url(isvc, "raw", model, in_cluster)
        return openai.api_url(base, target.openai_prefix or "", target.api or "chat")
    return infer_url(isvc, target.protocol, model, in_cluster)
