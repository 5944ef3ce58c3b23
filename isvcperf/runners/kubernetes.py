"""The Kubernetes runner: the Plan's Locust master and workers as pods next to the InferenceService.

It applies the run's objects (isvcperf.kube.apply), follows the run with the loop every
runner shares (isvcperf.runners.base.follow) and reaches the master's `/isvcperf/stats`
without any route from here to the pods: through the API server's service proxy, else a
port-forward (private control planes and mesh mTLS refuse the proxy), else the result
line the master prints in its log. Pods that cannot start fail the run at once with
Kubernetes' own reason (isvcperf.kube.diagnosis); worker pods lost mid-run are recorded
as warnings. `close()` deletes exactly what the run created, and a refusal there is a
warning naming what is left, never a lost result.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from isvcperf.kube import diagnosis, manifests
from isvcperf.kube.apply import apply_suspended
from isvcperf.kube.cluster import COMPONENT_LABEL, Cluster, instance_selector
from isvcperf.kube.portforward import ProxyUnavailable
from isvcperf.loadgen import increment
from isvcperf.loadgen.log_result import parse_log
from isvcperf.loadgen.protocol import STATS_ROUTE, STOP_ROUTE, WEB_PORT, StatsDocument, parse_document
from isvcperf.payload.bodies import Bodies
from isvcperf.plan.topology import Plan
from isvcperf.runners.base import Progress, follow, unfinished
from isvcperf.runners.outcome import Outcome
from isvcperf.spec.budget import budget
from isvcperf.spec.model import RunSpec
from isvcperf.util.errors import CouldNotRun
from isvcperf.util.polling import deadline_after, poll_until

STATS_PATH = STATS_ROUTE.lstrip("/")
STOP_PATH = STOP_ROUTE.lstrip("/")
"""The stats route as a path under the API server's service proxy and a port-forward."""
DELETE_WAIT = 30.0
LOG_TAIL = 3
"""Lines of the master's log read for its result line while the stats route cannot be reached."""


class PodUnreachable(CouldNotRun):
    """Neither the API server's proxy nor a port-forward reaches the master, and its log holds no result."""


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
        self.start_timeout = budget(spec).start
        self.last_stats: StatsDocument | None = None
        self.created: list[str] = []
        self.deleted: list[str] = []
        self._pods: dict[str, list[dict[str, Any]]] = {}
        self._lost: dict[str, str] = {}
        self._seen_running: set[str] = set()
        self._sidecars: set[str] = set()
        self._via_forward = False
        self._unreachable = ""
        """Why the stats route could not be reached on the last poll ("" when it was)."""
        self._blind = False
        self._stats = increment.Assembly()
        cluster.on_retry = self._api_trouble

    # -- the run ----------------------------------------------------------------------------

    def run(self, progress: Progress, deadline: float | None) -> Outcome:
        """Apply, wait for every pod to connect, follow the run, return the final stats.

        The deadline is extended by kubernetes.startTimeout (scheduling and pulls are not load).
        KeyboardInterrupt propagates after the latest figures were fetched; `close()` must follow.
        """
        return follow(self, progress, None if deadline is None else deadline + self.start_timeout)

    def start(self) -> None:
        apply_suspended(self.cluster, self.manifests, self.created)
        self.echo(f"isvcperf: run {self.instance} in namespace {self.cluster.namespace}: "
                  f"1 master + {len(self.plan.workers)} worker pod(s)")

    def fetch(self) -> StatsDocument | None:
        """The master's stats, assembled from what changed since the last fetch (isvcperf.loadgen.increment)."""
        stats = self._fetch(increment.path(STATS_PATH, self._stats.since))
        return None if stats is None else self._stats.add(stats)

    def _fetch(self, path: str) -> StatsDocument | None:
        """The stats at `path`: service proxy, else port-forward, else the whole document from the master's log."""
        self._pods = self._list_pods()
        master = next((p for p in self._pods.get("master", []) if _phase(p) == "Running"), None)
        problems = []
        if not self._via_forward:
            try:
                return _json(self.cluster.service_proxy_get(self.manifests.names["master"], "web", path))
            except ProxyUnavailable as exc:
                problems.append(f"service proxy: {exc}")
        if master is not None:
            try:
                stats = _json(self.cluster.port_forward_get(master["metadata"]["name"], WEB_PORT, path))
            except ProxyUnavailable as exc:
                problems.append(str(exc))
            else:
                if not self._via_forward and stats is not None:
                    self._via_forward = True
                    self.echo(f"isvcperf: the API server's service proxy cannot reach the master ({problems[0]}); "
                              "following the run through a port-forward")
                return stats
            stats = parse_log(self.cluster.pod_log(master["metadata"]["name"], "master", tail_lines=LOG_TAIL))
            if stats is not None and stats["phase"] == "finished":
                self.echo(f"isvcperf: final stats read from the log of pod {master['metadata']['name']}")
                return stats
        self._unreachable = "; ".join(problems)
        return None

    def check(self, stats: StatsDocument | None) -> Outcome | None:
        self._warn_sidecars()
        self._watch_workers(stats)
        ended = [p for p in self._pods.get("master", []) if _phase(p) in ("Succeeded", "Failed")]
        if ended:
            return self._from_master_log(ended[0])
        if stats is None or stats["phase"] == "waiting":
            self._fail_fast()
        return None

    def not_started(self, stats: StatsDocument | None) -> str | None:
        pods = [p for group in self._pods.values() for p in group]
        running = len(pods) == 1 + len(self.plan.workers) and all(_phase(p) == "Running" for p in pods)
        if stats is None and running:
            if not self._blind:  # the load may well be running: go on, and take the result from the log
                self._blind = True
                self.echo(f"isvcperf: every pod is running but the master cannot be reached ({self._unreachable}); "
                          "following the run through the master's log until it ends")
            return None
        problems = [f"{p['metadata']['name']} {diagnosis.pod_state(p)}" for p in pods if _phase(p) != "Running"]
        connected = stats["connectedWorkers"] if stats else 0
        detail = "; ".join(problems) or ("pods missing: " + ", ".join(self._job_refusals() or ["none created yet"])
                                         if not running else "all pods running; check the worker logs "
                                         f"(kubectl logs -l app.kubernetes.io/instance={self.instance} -c worker)")
        return (f"the run did not start within {self.start_timeout:.0f}s (kubernetes.startTimeout): "
                f"{connected} of {len(self.plan.workers)} workers connected; {detail}")

    def timed_out(self) -> Outcome:
        if self.last_stats is None and self._blind:
            raise PodUnreachable(self._unreachable_message())
        return unfinished(self.last_stats)

    def end(self) -> None:
        """POST the master's stop route the way its stats are reached (service proxy, else port-forward);
        when neither can, say so: the measurement then runs to its maximum (load.duration)."""
        master = next((p for p in self._pods.get("master", []) if _phase(p) == "Running"), None)
        try:
            if not self._via_forward:
                self.cluster.service_proxy_post(self.manifests.names["master"], "web", STOP_PATH)
            elif master is not None:
                self.cluster.port_forward_get(master["metadata"]["name"], WEB_PORT, STOP_PATH, method="POST")
            else:
                raise ProxyUnavailable("the master pod is not running")
        except (ProxyUnavailable, CouldNotRun) as exc:
            note = f"could not end the measurement early ({exc}); it runs to load.duration, its maximum"
            self.plan.warnings.append(note)
            self.echo(f"isvcperf: warning: {note}")

    def refresh_quietly(self) -> None:
        try:
            stats = self.fetch()
        except (KeyboardInterrupt, CouldNotRun):
            return
        if stats is not None:
            self.last_stats = stats

    def close(self) -> None:
        """Delete what the run created (unless kept), wait (bounded) for its pods to go; never raises for it.

        The result is already decided; a refused delete (a namespace `edit` user, an expired
        token) is a warning that names what is left and the command that removes it.
        """
        if self.spec.kubernetes.keep:
            if self.created:
                self.echo(f"isvcperf: kept {', '.join(self.created)} in namespace {self.cluster.namespace} "
                          f"(deleted by Kubernetes {self.spec.kubernetes.ttl_seconds_after_finished}s after the "
                          f"run ends, or now with: isvcperf delete {self.instance})")
            return
        left = []
        for entry in list(self.created):
            kind, name = entry.split("/", 1)
            try:
                if self.cluster.delete(kind, name):
                    self.deleted.append(entry)
            except CouldNotRun as exc:
                left.append((entry, str(exc)))
        try:
            poll_until(lambda: None if self.cluster.list("Pod", instance_selector(self.instance)) else True,
                       deadline_after(DELETE_WAIT), 0.5, lambda: self.echo(
                           f"isvcperf: pods of {self.instance} are still terminating; Kubernetes removes them"))
        except CouldNotRun as exc:
            left.append(("pods", str(exc)))
        if self.deleted:
            self.echo(f"isvcperf: deleted {', '.join(self.deleted)}")
        if left:
            self.echo(f"isvcperf: warning: could not delete {', '.join(e for e, _ in left)} ({left[0][1]}); "
                      f"remove them with: kubectl delete jobs,services,configmaps -n {self.cluster.namespace} "
                      f"-l app.kubernetes.io/instance={self.instance}")

    # -- internals --------------------------------------------------------------------------

    def _list_pods(self) -> dict[str, list[dict[str, Any]]]:
        """The run's pods by component (master, worker)."""
        by_component: dict[str, list[dict[str, Any]]] = {}
        for pod in self.cluster.list("Pod", instance_selector(self.instance)):
            component = pod["metadata"].get("labels", {}).get(COMPONENT_LABEL, "")
            by_component.setdefault(component, []).append(pod)
        return by_component

    def _api_trouble(self, message: str) -> None:
        note = f"Kubernetes API trouble while following the run: {message}"
        self.plan.warnings.append(note)
        self.echo(f"isvcperf: {note}")

    def _from_master_log(self, pod: dict[str, Any]) -> Outcome:
        """The master ended before its final stats were pulled: read them from its log, else say why."""
        name = pod["metadata"]["name"]
        log = self.cluster.pod_log(name, "master")
        stats = parse_log(log)
        if stats is not None and stats["phase"] == "finished":
            self.echo(f"isvcperf: final stats read from the log of pod {name}")
            self.last_stats = stats
            return Outcome(stats=stats, finished=True, reason=stats["finishReason"] or "completed")
        if self._blind:
            raise PodUnreachable(self._unreachable_message())
        tail = "\n".join(log.strip().splitlines()[-5:])
        raise CouldNotRun(f"the Locust master pod {name} ended ({diagnosis.pod_state(pod)}) without a result; "
                          f"its log ends:\n{tail}")

    def _unreachable_message(self) -> str:
        master = self.manifests.names["master"]
        return (f"the API server cannot reach pod {master}: private control plane or mesh mTLS? "
                f"({self._unreachable}); neither the service proxy nor a port-forward answered and the master's "
                "log holds no result (README: Kubernetes troubleshooting)")

    def _warn_sidecars(self) -> None:
        for pod in (p for group in self._pods.values() for p in group):
            name = pod["metadata"]["name"]
            if name not in self._sidecars and diagnosis.has_sidecar(pod):
                self._sidecars.add(name)
                note = (f"pod {name} got an {diagnosis.SIDECAR} sidecar although isvcperf asks for none "
                        "(sidecar.istio.io/inject: \"false\"); a mesh policy may be forcing injection")
                self.plan.warnings.append(note)
                self.echo(f"isvcperf: warning: {note}")

    def _watch_workers(self, stats: StatsDocument | None) -> None:
        """Record worker pods that failed or vanished after they had been running."""
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
        present = {p["metadata"]["name"]: p for p in self._pods.get("worker", [])}
        for name, pod in present.items():
            if _phase(pod) == "Running":
                self._seen_running.add(name)
            elif _phase(pod) == "Failed" and name in self._seen_running and name not in self._lost:
                self._lose(name, f"failed ({diagnosis.pod_state(pod)})", now)
        finished = stats is not None and stats["phase"] == "finished"
        for name in self._seen_running - set(present) - set(self._lost):
            if not finished:
                self._lose(name, "disappeared", now)

    def _lose(self, name: str, why: str, stamp: str) -> None:
        self._lost[name] = why
        message = f"worker pod {name} {why} at {stamp}"
        self.plan.warnings.append(message)
        self.echo(f"isvcperf: {message}")

    def _fail_fast(self) -> None:
        """What waiting will not fix: a pod that failed before the run, an unpullable image, refused pods."""
        for pod in (p for group in self._pods.values() for p in group):
            name = pod["metadata"]["name"]
            reason = diagnosis.fatal_waiting(pod)
            if _phase(pod) == "Failed":
                log = self.cluster.pod_log(name, pod["metadata"]["labels"][COMPONENT_LABEL], tail_lines=3)
                raise CouldNotRun(f"pod {name} cannot start: {diagnosis.pod_state(pod)}; log ends: "
                                  + " | ".join(log.strip().splitlines()))
            if reason is not None:
                why = (diagnosis.pull_failure(self.cluster.warnings_about(name))
                       if reason in diagnosis.PULL_REASONS else None)
                raise CouldNotRun(f"pod {name} cannot start: {diagnosis.pod_state(pod)}"
                                  + (f": {why}" if why else "") + _image_hint(reason, self.spec))
        if sum(len(group) for group in self._pods.values()) < 1 + len(self.plan.workers):
            refusals = self._job_refusals()
            if refusals:
                raise CouldNotRun("Kubernetes refused the run's pods: " + "; ".join(refusals))

    def _job_refusals(self) -> list[str]:
        """`Job NAME: <FailedCreate message>` for each of the run's Jobs whose pods were refused."""
        out = []
        for job in (self.manifests.names["master"], self.manifests.names["workers"]):
            message = diagnosis.failed_create(self.cluster.warnings_about(job))
            if message:
                out.append(f"Job {job}: {message}")
        return out


def _image_hint(reason: str, spec: RunSpec) -> str:
    if reason not in diagnosis.PULL_REASONS:
        return ""
    image = spec.kubernetes.image
    return (f" (kubernetes.image is {image}: push it to a registry the cluster can pull from, or set "
            "kubernetes.image and kubernetes.imagePullSecrets; README: the image)")


def _phase(pod: dict[str, Any]) -> str:
    return str(pod.get("status", {}).get("phase", "Pending"))


def _json(body: bytes) -> StatsDocument | None:
    """The stats document in `body`, or None when it is not one (a proxy's error page, a cut answer)."""
    try:
        return parse_document(body)
    except ValueError:
        return None
