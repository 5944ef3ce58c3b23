"""The Kubernetes runner: the Plan's Locust master and workers as pods next to the InferenceService.

It applies the run's objects (isvcperf.kube.manifests), waits — bounded by
`kubernetes.startTimeout` — for the master and every worker, naming the pods that are
Pending, cannot pull their image or crash, and follows the run by pulling the master's
`/isvcperf/stats` through the API server's service proxy, so the CLI needs no route to
the pods. The final figures come from that route while the master lingers, or from the
result line the master prints in its log. Worker pods that fail or vanish mid-run are
recorded (which, when, why) as warnings of the run. Whatever happens, `close()` deletes
the run's objects unless `kubernetes.keep`, and the Jobs' TTL and deadline clean up
after a CLI that died.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from isvcperf.kube import manifests
from isvcperf.kube.cluster import COMPONENT_LABEL, Cluster, ProxyUnavailable, instance_selector
from isvcperf.loadgen.log_result import parse_log
from isvcperf.loadgen.protocol import STATS_ROUTE, StatsDocument, parse_document
from isvcperf.payload.bodies import Bodies
from isvcperf.plan.topology import Plan
from isvcperf.runners.outcome import Outcome
from isvcperf.spec.budget import budget
from isvcperf.spec.model import RunSpec
from isvcperf.util.errors import CouldNotRun

POLL_INTERVAL = 1.0
DELETE_WAIT = 30.0
FATAL_WAITING = ("InvalidImageName", "CreateContainerConfigError")
"""Container waiting reasons no retry fixes (a bad image name, a missing Secret or key): fail at once."""


class KubernetesRunner:
    """Runs one test as pods and returns what the master measured (the same Outcome as LocalRunner)."""

    def __init__(self, spec: RunSpec, payload: Bodies, cluster: Cluster, echo: Callable[[str], None] = print) -> None:
        self.spec = spec
        self.cluster = cluster
        self.echo = echo
        self.instance = manifests.run_name(spec)
        self.manifests = manifests.for_run(spec, payload, self.instance, cluster.namespace)
        assert self.manifests.plan is not None
        self.plan: Plan = self.manifests.plan
        self.last_stats: StatsDocument | None = None
        self.created: list[str] = []
        self.deleted: list[str] = []
        self._lost: dict[str, str] = {}
        self._seen_running: set[str] = set()

    # -- the run ----------------------------------------------------------------------------

    def run(self, progress: Callable[[StatsDocument], None], deadline: float | None) -> Outcome:
        """Apply, wait for every pod to connect, follow the run, return the final stats.

        KeyboardInterrupt propagates after the latest figures were fetched into
        `last_stats`; `close()` must always follow.
        """
        start_timeout = budget(self.spec).start
        self._apply()
        self.echo(f"isvcperf: run {self.instance} in namespace {self.cluster.namespace}: "
                  f"1 master + {len(self.plan.workers)} worker pod(s)")
        connect_by = time.monotonic() + start_timeout
        if deadline is not None:
            deadline += start_timeout
        try:
            while True:
                pods = self._pods()
                stats = self._fetch()
                if stats is not None:
                    self.last_stats = stats
                    progress(stats)
                    if stats["phase"] == "finished":
                        return self._outcome(stats)
                self._watch_workers(pods, stats)
                master = pods.get("master", [])
                ended = [p for p in master if p.get("status", {}).get("phase") in ("Succeeded", "Failed")]
                if ended:
                    return self._from_master_log(ended[0])
                waiting = stats is None or stats["phase"] == "waiting"
                if waiting:
                    self._fail_fast(pods)
                    if time.monotonic() > connect_by:
                        raise CouldNotRun(self._not_started_message(pods, stats, start_timeout))
                if deadline is not None and time.monotonic() > deadline:
                    return Outcome(stats=self.last_stats, finished=False, reason="the run did not finish in time")
                time.sleep(POLL_INTERVAL)
        except KeyboardInterrupt:
            self._refresh_quietly()
            raise

    def close(self) -> None:
        """Delete the run's objects (unless kept) and wait, bounded, until its pods are gone."""
        if self.spec.kubernetes.keep:
            if self.created:
                self.echo(f"isvcperf: kept {', '.join(self.created)} in namespace {self.cluster.namespace} "
                          f"(deleted by Kubernetes {self.spec.kubernetes.ttl_seconds_after_finished}s after the "
                          f"run ends, or now with: isvcperf delete {self.instance})")
            return
        self.deleted = self.cluster.delete_instance(self.instance)
        gone_by = time.monotonic() + DELETE_WAIT
        while self.cluster.list("Pod", instance_selector(self.instance)):
            if time.monotonic() > gone_by:
                self.echo(f"isvcperf: pods of {self.instance} are still terminating; Kubernetes removes them")
                break
            time.sleep(0.5)
        if self.deleted:
            self.echo(f"isvcperf: deleted {', '.join(self.deleted)}")

    # -- internals --------------------------------------------------------------------------

    def _apply(self) -> None:
        """Root suspended first, the rest owned by it, then resume: one delete removes it all."""
        root = self.cluster.create(self.manifests.root(suspend=True))
        self.created.append(f"Job/{root['metadata']['name']}")
        owner = manifests.owner_reference({**root, "apiVersion": "batch/v1", "kind": "Job"})
        for obj in self.manifests.children(owner):
            self.cluster.create(obj)
            self.created.append(f"{obj['kind']}/{obj['metadata']['name']}")
        self.cluster.patch("Job", root["metadata"]["name"], {"spec": {"suspend": False}})

    def _pods(self) -> dict[str, list[dict[str, Any]]]:
        """The run's pods by component (master, worker)."""
        by_component: dict[str, list[dict[str, Any]]] = {}
        for pod in self.cluster.list("Pod", instance_selector(self.instance)):
            component = pod["metadata"].get("labels", {}).get(COMPONENT_LABEL, "")
            by_component.setdefault(component, []).append(pod)
        return by_component

    def _fetch(self) -> StatsDocument | None:
        try:
            body = self.cluster.service_proxy_get(self.manifests.names["master"], "web", STATS_ROUTE.lstrip("/"))
            return parse_document(body)
        except (ProxyUnavailable, ValueError):
            return None

    def _refresh_quietly(self) -> None:
        try:
            stats = self._fetch()
        except (KeyboardInterrupt, CouldNotRun):
            return
        if stats is not None:
            self.last_stats = stats

    def _outcome(self, stats: StatsDocument) -> Outcome:
        return Outcome(stats=stats, finished=True, reason=stats["finishReason"] or "completed")

    def _from_master_log(self, pod: dict[str, Any]) -> Outcome:
        """The master ended before its final stats were pulled: read them from its log, else say why."""
        name = pod["metadata"]["name"]
        log = self.cluster.pod_log(name)
        stats = parse_log(log)
        if stats is not None and stats["phase"] == "finished":
            self.echo(f"isvcperf: final stats read from the log of pod {name}")
            self.last_stats = stats
            return self._outcome(stats)
        tail = "\n".join(log.strip().splitlines()[-5:])
        raise CouldNotRun(f"the Locust master pod {name} ended ({_pod_state(pod)}) without a result; "
                          f"its log ends:\n{tail}")

    def _watch_workers(self, pods: dict[str, list[dict[str, Any]]], stats: StatsDocument | None) -> None:
        """Record worker pods that failed or vanished after they had been running."""
        now = time.time()
        present = {p["metadata"]["name"]: p for p in pods.get("worker", [])}
        for name, pod in present.items():
            phase = pod.get("status", {}).get("phase")
            if phase == "Running":
                self._seen_running.add(name)
            elif phase == "Failed" and name in self._seen_running and name not in self._lost:
                self._lose(name, f"failed ({_pod_state(pod)})", now)
        finished = stats is not None and stats["phase"] == "finished"
        for name in self._seen_running - set(present) - set(self._lost):
            if not finished:
                self._lose(name, "disappeared", now)

    def _lose(self, name: str, why: str, when: float) -> None:
        stamp = dt.datetime.fromtimestamp(when, dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
        self._lost[name] = why
        message = f"worker pod {name} {why} at {stamp}"
        self.plan.warnings.append(message)
        self.echo(f"isvcperf: {message}")

    def _fail_fast(self, pods: dict[str, list[dict[str, Any]]]) -> None:
        """Problems waiting will not fix: a pod that failed before the run, an unpullable image."""
        for pod in (p for group in pods.values() for p in group):
            state = _pod_state(pod)
            phase = pod.get("status", {}).get("phase")
            if phase == "Failed" or any(f"waiting: {reason}" in state for reason in FATAL_WAITING):
                log = ""
                if phase == "Failed":
                    log = "; log ends: " + " | ".join(self.cluster.pod_log(pod["metadata"]["name"]).strip()
                                                        .splitlines()[-3:])
                raise CouldNotRun(f"pod {pod['metadata']['name']} cannot start: {state}{log}")

    def _not_started_message(self, pods: dict[str, list[dict[str, Any]]], stats: StatsDocument | None,
                             timeout: float) -> str:
        problems = [f"{p['metadata']['name']} {_pod_state(p)}" for group in pods.values() for p in group
                    if p.get("status", {}).get("phase") != "Running"]
        expected = len(self.plan.workers)
        connected = stats["connectedWorkers"] if stats else 0
        detail = "; ".join(problems) if problems else (
            "all pods running but the master's stats route never answered through the service proxy"
            if stats is None else "all pods running; check the worker logs (isvcperf k log is for launches; "
            f"kubectl logs -l app.kubernetes.io/instance={self.instance})")
        return (f"the run did not start within {timeout:.0f}s (kubernetes.startTimeout): "
                f"{connected} of {expected} workers connected; {detail}")


def _pod_state(pod: dict[str, Any]) -> str:
    """`Pending (Unschedulable: 0/3 nodes ...)`, `Waiting (ImagePullBackOff: ...)`, `Failed (Error, exit 1)`."""
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
