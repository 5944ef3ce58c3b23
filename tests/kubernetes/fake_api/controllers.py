"""The controllers of kube-controller-manager that the runner's objects depend on.

* Events: ``record`` creates core/v1 Events (count bumped for repeats), as components do.
* Job controller: pods from ``spec.template`` per ``parallelism``/``completions`` (work queue
  when only parallelism is given), ``completionMode: Indexed`` (index annotation and label,
  ``JOB_COMPLETION_INDEX`` env, hostname), pods labelled and owned by the Job; status
  ``active``/``ready``/``succeeded``/``failed`` (cumulative; a pod deleted before it finished
  counts as failed, as with job-tracking finalizers), ``startTime``/``completionTime``,
  ``completedIndexes``, conditions ``Complete`` or ``Failed`` (``BackoffLimitExceeded``,
  ``DeadlineExceeded`` from ``activeDeadlineSeconds``), after which active pods are deleted;
  failed pods are replaced (no back-off delay) until ``backoffLimit``; ``suspend`` stops pods.
  A pod the API refuses (quota, Pod Security, a missing service account) is a ``FailedCreate``
  Warning event on the Job quoting the refusal ("Error creating: pods "x" is forbidden: ..."),
  retried with a doubling back-off (0.5 s up to 5 s), as the real controller records it.
  Not done: podFailurePolicy, backoffLimitPerIndex, successPolicy, the job-tracking finalizer.
* TTL-after-finished: a finished Job is deleted (foreground) ``ttlSecondsAfterFinished``
  after it finished.
* CronJob: no clock-driven schedule. ``run_now`` creates the Job the controller would create
  for a scheduled time (name ``<cronjob>-<minutes since epoch>``, jobTemplate labels and
  annotations, owner reference, ``concurrencyPolicy``); ``sync`` keeps ``status.active``,
  ``lastScheduleTime``/``lastSuccessfulTime`` and the success/failure history limits.
* Garbage collector: dependents whose owners are all gone are deleted (background);
  references to owners that are gone are dropped; an owner in foreground deletion deletes its
  dependents and goes away once they are gone.
* Namespace controller: a terminating namespace is emptied, then removed.
"""

from __future__ import annotations

import calendar
import copy
import time
from typing import Any

from . import errors
from .resources import CRONJOBS, EVENTS, JOBS, NAMESPACES, PODS
from .store import FOREGROUND, Obj, Store, now, owner_reference, random_suffix

INDEX_KEY = "batch.kubernetes.io/job-completion-index"


def parse_time(stamp: str) -> float:
    return calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))


def condition(obj: Obj, kind: str) -> Obj | None:
    return next((c for c in obj.get("status", {}).get("conditions") or [] if c["type"] == kind and c["status"] == "True"), None)


def finished(job: Obj) -> Obj | None:
    """The Complete or Failed condition of a finished Job, else None."""
    return condition(job, "Complete") or condition(job, "Failed")


class Events:
    """Records Events the way components do, folding repeats into ``count``."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._names: dict[tuple[str, str, str, str], str] = {}

    def __call__(self, obj: Obj, reason: str, message: str, kind: str = "Normal", component: str = "kubelet") -> None:
        meta = obj["metadata"]
        namespace = meta.get("namespace") or "default"
        key = (meta["uid"], reason, message, kind)
        if key in self._names:
            def bump(event: Obj) -> None:
                event["count"] = event.get("count", 1) + 1
                event["lastTimestamp"] = now()

            if self.store.mutate(EVENTS, namespace, self._names[key], bump) is not None:
                return
        stamp = now()
        event = {
            "metadata": {"name": f"{meta['name']}.{random_suffix(10)}", "namespace": namespace},
            "involvedObject": {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "name": meta["name"], "namespace": meta.get("namespace"), "uid": meta["uid"], "resourceVersion": meta.get("resourceVersion")},
            "reason": reason,
            "message": message,
            "type": kind,
            "count": 1,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "source": {"component": component},
            "reportingComponent": component,
        }
        try:
            created = self.store.create(EVENTS, namespace, event)
        except errors.ApiError:
            return  # the namespace is going away: real components drop such events too
        self._names[key] = created["metadata"]["name"]


def _ranges(indexes: set[int]) -> str:
    """``completedIndexes`` notation: ``0-2,5``."""
    out: list[str] = []
    for i in sorted(indexes):
        if out and out[-1].split("-")[-1] == str(i - 1):
            out[-1] = f"{out[-1].split('-')[0]}-{i}"
        else:
            out.append(str(i))
    return ",".join(out)


class JobController:
    def __init__(self, store: Store, events: Events) -> None:
        self.store = store
        self.events = events
        self._counted: dict[str, dict[str, str]] = {}  # job uid -> pod uid -> "succeeded"/"failed"
        self._seen: dict[str, dict[str, Obj]] = {}  # job uid -> pod uid -> last seen pod
        self._refused: dict[str, tuple[int, float]] = {}  # job uid -> (refusals in a row, retry time)

    def sync(self) -> None:
        jobs = self.store.list(JOBS)["items"]
        pods = self.store.list(PODS)["items"]
        for job in jobs:
            if "deletionTimestamp" not in job["metadata"]:
                uid = job["metadata"]["uid"]
                owned = [p for p in pods if any(r.get("uid") == uid and r.get("controller") for r in p["metadata"].get("ownerReferences") or [])]
                self._sync_job(job, owned)
        live = {j["metadata"]["uid"] for j in jobs}
        for uid in set(self._counted) - live:
            self._counted.pop(uid, None)
            self._seen.pop(uid, None)
            self._refused.pop(uid, None)

    def _sync_job(self, job: Obj, pods: list[Obj]) -> None:
        uid, spec = job["metadata"]["uid"], job["spec"]
        counted = self._counted.setdefault(uid, {})
        seen = self._seen.setdefault(uid, {})
        current = {p["metadata"]["uid"]: p for p in pods}
        for pod_uid in list(seen):
            if pod_uid not in current and pod_uid not in counted:
                counted[pod_uid] = "failed"  # deleted before it finished
                seen.pop(pod_uid)
        for pod in pods:
            seen[pod["metadata"]["uid"]] = pod
            phase = pod.get("status", {}).get("phase")
            if phase in ("Succeeded", "Failed") and pod["metadata"]["uid"] not in counted:
                counted[pod["metadata"]["uid"]] = phase.lower()
        if finished(job):
            return
        active = [p for p in pods if p.get("status", {}).get("phase") not in ("Succeeded", "Failed") and "deletionTimestamp" not in p["metadata"]]
        succeeded = sum(1 for v in counted.values() if v == "succeeded")
        failed = sum(1 for v in counted.values() if v == "failed")
        indexed = spec.get("completionMode") == "Indexed"
        completions = spec.get("completions")
        index_of = lambda p: int(p["metadata"].get("annotations", {}).get(INDEX_KEY, -1))  # noqa: E731
        done_indexes = {index_of(p) for p in pods if p.get("status", {}).get("phase") == "Succeeded"} if indexed else set()
        done_indexes |= set(self._done_indexes(job))
        start = job.get("status", {}).get("startTime") or now()

        outcome: tuple[str, str | None, str | None] | None = None
        if failed > spec.get("backoffLimit", 6):
            outcome = ("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit")
        elif spec.get("activeDeadlineSeconds") is not None and time.time() - parse_time(start) >= spec["activeDeadlineSeconds"]:
            outcome = ("Failed", "DeadlineExceeded", "Job was active longer than specified deadline")
        elif (indexed and completions is not None and len(done_indexes) >= completions) or (not indexed and completions is not None and succeeded >= completions) or (completions is None and succeeded > 0 and not active):
            outcome = ("Complete", None, None)

        if outcome is not None:
            for pod in active:
                self._delete_pod(job, pod)
            active = []
        elif not spec.get("suspend"):
            active = self._scale(job, active, succeeded, done_indexes)
        else:
            for pod in active:
                self._delete_pod(job, pod)
            active = []

        ready = sum(1 for p in active if any(c["type"] == "Ready" and c["status"] == "True" for c in p.get("status", {}).get("conditions") or []))

        def update(obj: Obj) -> None:
            status: dict[str, Any] = {k: v for k, v in obj.get("status", {}).items() if k in ("conditions", "completionTime")}
            status.update(startTime=start, ready=ready, terminating=sum(1 for p in pods if "deletionTimestamp" in p["metadata"]), uncountedTerminatedPods={})
            for key, value in (("active", len(active)), ("succeeded", succeeded), ("failed", failed)):
                if value:
                    status[key] = value
            if indexed and done_indexes:
                status["completedIndexes"] = _ranges(done_indexes)
            if outcome is not None:
                kind, reason, message = outcome
                cond: Obj = {"type": kind, "status": "True", "lastProbeTime": now(), "lastTransitionTime": now()}
                if reason:
                    cond.update(reason=reason, message=message)
                status["conditions"] = [*status.get("conditions", []), cond]
                if kind == "Complete":
                    status["completionTime"] = now()
            obj["status"] = status

        self.store.mutate(JOBS, job["metadata"]["namespace"], job["metadata"]["name"], update)
        if outcome is not None:
            kind, reason, message = outcome
            if kind == "Complete":
                self.events(job, "Completed", "Job completed", component="job-controller")
            else:
                self.events(job, reason or kind, message or kind, "Warning", component="job-controller")

    def _done_indexes(self, job: Obj) -> list[int]:
        text = job.get("status", {}).get("completedIndexes") or ""
        out: list[int] = []
        for part in filter(None, text.split(",")):
            low, _, high = part.partition("-")
            out.extend(range(int(low), int(high or low) + 1))
        return out

    def _scale(self, job: Obj, active: list[Obj], succeeded: int, done_indexes: set[int]) -> list[Obj]:
        spec = job["spec"]
        parallelism, completions = spec.get("parallelism", 1), spec.get("completions")
        if spec.get("completionMode") == "Indexed":
            running = {int(p["metadata"].get("annotations", {}).get(INDEX_KEY, -1)) for p in active}
            todo = [i for i in range(completions or 0) if i not in done_indexes and i not in running]
            for index in todo[: max(0, parallelism - len(active))]:
                if pod := self._create_pod(job, index):
                    active.append(pod)
            return active
        wanted = (0 if succeeded else parallelism) if completions is None else min(parallelism, completions - succeeded)
        for pod in active[wanted:]:
            self._delete_pod(job, pod)
        active = active[:wanted]
        while len(active) < wanted:
            pod = self._create_pod(job, None)
            if pod is None:
                break
            active.append(pod)
        return active

    def _create_pod(self, job: Obj, index: int | None) -> Obj | None:
        uid, name = job["metadata"]["uid"], job["metadata"]["name"]
        refusals, retry_at = self._refused.get(uid, (0, 0.0))
        if time.monotonic() < retry_at:
            return None
        template = copy.deepcopy(job["spec"]["template"])
        meta = template.get("metadata") or {}
        pod_meta: Obj = {
            "generateName": f"{name}-{index}-" if index is not None else f"{name}-",
            "labels": dict(meta.get("labels") or {}),
            "annotations": dict(meta.get("annotations") or {}),
            "ownerReferences": [owner_reference(job)],
        }
        spec = template["spec"]
        if index is not None:
            pod_meta["annotations"][INDEX_KEY] = str(index)
            pod_meta["labels"][INDEX_KEY] = str(index)
            spec.setdefault("hostname", f"{name}-{index}")
            for container in [*spec.get("initContainers", []), *spec["containers"]]:
                env = container.setdefault("env", [])
                env.insert(0, {"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {"fieldPath": f"metadata.annotations['{INDEX_KEY}']"}}})
        try:
            pod = self.store.create(PODS, job["metadata"]["namespace"], {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": spec})
        except errors.ApiError as err:
            self._refused[uid] = (refusals + 1, time.monotonic() + min(0.5 * 2**refusals, 5.0))
            self.events(job, "FailedCreate", f"Error creating: {err.message}", "Warning", component="job-controller")
            return None
        self._refused.pop(uid, None)
        self.events(job, "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}", component="job-controller")
        return pod

    def _delete_pod(self, job: Obj, pod: Obj) -> None:
        try:
            self.store.delete(PODS, pod["metadata"]["namespace"], pod["metadata"]["name"], "Background")
        except errors.ApiError:
            return
        self.events(job, "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}", component="job-controller")


class TTLController:
    """Deletes finished Jobs ``ttlSecondsAfterFinished`` after they finished, in the foreground."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def sync(self) -> None:
        for job in self.store.list(JOBS)["items"]:
            ttl = job["spec"].get("ttlSecondsAfterFinished")
            done = finished(job)
            if ttl is None or done is None or "deletionTimestamp" in job["metadata"]:
                continue
            if time.time() >= parse_time(job["status"].get("completionTime") or done["lastTransitionTime"]) + ttl:
                try:
                    self.store.delete(JOBS, job["metadata"]["namespace"], job["metadata"]["name"], "Foreground")
                except errors.ApiError:
                    continue


class CronJobController:
    def __init__(self, store: Store, events: Events) -> None:
        self.store = store
        self.events = events
        self._last_minute: dict[str, int] = {}

    def run_now(self, namespace: str, name: str) -> str | None:
        """Create the Job for a scheduled run now; None when ``concurrencyPolicy: Forbid`` skips it."""
        cronjob = self.store.get(CRONJOBS, namespace, name)
        uid = cronjob["metadata"]["uid"]
        active = self._owned_jobs(cronjob, only_active=True)
        policy = cronjob["spec"].get("concurrencyPolicy", "Allow")
        if active and policy == "Forbid":
            self.events(cronjob, "JobAlreadyActive", "Not starting job because prior execution is running and concurrency policy is Forbid", component="cronjob-controller")
            return None
        if policy == "Replace":
            for job in active:
                self.store.delete(JOBS, namespace, job["metadata"]["name"], "Background")
        minute = max(int(time.time() // 60), self._last_minute.get(uid, 0) + 1)
        self._last_minute[uid] = minute
        template = copy.deepcopy(cronjob["spec"]["jobTemplate"])
        meta = template.get("metadata") or {}
        scheduled = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(minute * 60))
        job = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": f"{name}-{minute}",
                "labels": dict(meta.get("labels") or {}),
                "annotations": {**(meta.get("annotations") or {}), "batch.kubernetes.io/cronjob-scheduled-timestamp": scheduled},
                "ownerReferences": [owner_reference(cronjob)],
            },
            "spec": template.get("spec") or {},
        }
        created = self.store.create(JOBS, namespace, job)
        self.events(cronjob, "SuccessfulCreate", f"Created job {created['metadata']['name']}", component="cronjob-controller")

        def update(obj: Obj) -> None:
            obj.setdefault("status", {})["lastScheduleTime"] = scheduled

        self.store.mutate(CRONJOBS, namespace, name, update)
        return created["metadata"]["name"]

    def _owned_jobs(self, cronjob: Obj, only_active: bool = False) -> list[Obj]:
        uid = cronjob["metadata"]["uid"]
        jobs = [
            j
            for j in self.store.list(JOBS, cronjob["metadata"]["namespace"])["items"]
            if any(r.get("uid") == uid for r in j["metadata"].get("ownerReferences") or [])
        ]
        return [j for j in jobs if not finished(j)] if only_active else jobs

    def sync(self) -> None:
        for cronjob in self.store.list(CRONJOBS)["items"]:
            jobs = sorted(self._owned_jobs(cronjob), key=lambda j: j["metadata"]["name"])
            active = [j for j in jobs if not finished(j) and "deletionTimestamp" not in j["metadata"]]
            succeeded = [j for j in jobs if condition(j, "Complete")]
            failed = [j for j in jobs if condition(j, "Failed")]
            limits = (("successfulJobsHistoryLimit", succeeded, 3), ("failedJobsHistoryLimit", failed, 1))
            for field, done, default in limits:
                limit = cronjob["spec"].get(field, default)
                for job in done[: max(0, len(done) - limit)]:
                    if "deletionTimestamp" not in job["metadata"]:
                        self.store.delete(JOBS, job["metadata"]["namespace"], job["metadata"]["name"], "Background")

            def update(obj: Obj, active: list[Obj] = active, succeeded: list[Obj] = succeeded) -> None:
                status = obj.setdefault("status", {})
                refs = [{"apiVersion": "batch/v1", "kind": "Job", "name": j["metadata"]["name"], "namespace": j["metadata"]["namespace"], "uid": j["metadata"]["uid"], "resourceVersion": j["metadata"]["resourceVersion"]} for j in active]
                if refs:
                    status["active"] = refs
                else:
                    status.pop("active", None)
                if succeeded:
                    status["lastSuccessfulTime"] = max(j["status"]["completionTime"] for j in succeeded)

            self.store.mutate(CRONJOBS, cronjob["metadata"]["namespace"], cronjob["metadata"]["name"], update)


class GarbageCollector:
    def __init__(self, store: Store) -> None:
        self.store = store

    def sync(self) -> None:
        objects = self.store.all_objects()
        by_uid = {obj["metadata"]["uid"]: (rt, obj) for rt, obj in objects}
        has_dependents: set[str] = set()
        for rt, obj in objects:
            refs = obj["metadata"].get("ownerReferences") or []
            if not refs:
                continue
            meta = obj["metadata"]
            owners = [by_uid[r["uid"]] for r in refs if r.get("uid") in by_uid]
            has_dependents.update(o["metadata"]["uid"] for _, o in owners)
            if "deletionTimestamp" in meta:
                continue
            if not owners:
                self._delete(rt, obj, "Background")
            elif any(FOREGROUND in (o["metadata"].get("finalizers") or []) and "deletionTimestamp" in o["metadata"] for _, o in owners):
                self._delete(rt, obj, "Foreground")
            elif len(owners) < len(refs):
                alive = {o["metadata"]["uid"] for _, o in owners}
                self.store.mutate(rt, meta.get("namespace"), meta["name"], lambda o, alive=alive: o["metadata"].__setitem__("ownerReferences", [r for r in o["metadata"]["ownerReferences"] if r["uid"] in alive]))
        for rt, obj in objects:
            meta = obj["metadata"]
            if "deletionTimestamp" in meta and FOREGROUND in (meta.get("finalizers") or []) and meta["uid"] not in has_dependents:
                self.store.mutate(rt, meta.get("namespace"), meta["name"], lambda o: o["metadata"].__setitem__("finalizers", [f for f in o["metadata"]["finalizers"] if f != FOREGROUND]))

    def _delete(self, rt: Any, obj: Obj, policy: str) -> None:
        try:
            self.store.delete(rt, obj["metadata"].get("namespace"), obj["metadata"]["name"], policy)
        except errors.ApiError as err:
            if err.code != 404:
                raise


class NamespaceController:
    def __init__(self, store: Store) -> None:
        self.store = store

    def sync(self) -> None:
        for namespace in self.store.list(NAMESPACES)["items"]:
            if "deletionTimestamp" not in namespace["metadata"]:
                continue
            name = namespace["metadata"]["name"]
            contents = [(rt, obj) for rt, obj in self.store.all_objects() if rt.namespaced and obj["metadata"].get("namespace") == name]
            for rt, obj in contents:
                if "deletionTimestamp" not in obj["metadata"]:
                    try:
                        self.store.delete(rt, name, obj["metadata"]["name"], "Background")
                    except errors.ApiError:
                        continue
            if not contents:
                self.store.remove(NAMESPACES, None, name)
