"""Cluster: every Kubernetes API call isvcperf makes, through the official `kubernetes` client.

One place loads the configuration (a kubeconfig and its context, or the pod's own
service account), picks the namespace, and turns the API's failures into CouldNotRun
errors a user can act on: a missing InferenceService, KServe not installed (no CRD), a
verb the credentials may not use (403, naming verb, resource and namespace), an API
server that cannot be reached. Objects travel as plain dicts (what the templates render
and what the API returns as JSON), so no other module depends on the client's models.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import client, config
from kubernetes.client.rest import ApiException
from kubernetes.config.config_exception import ConfigException

from isvcperf.kube import portforward
from isvcperf.kube.portforward import ProxyUnavailable
from isvcperf.util.errors import CouldNotRun
from isvcperf.util.polling import deadline_after, poll_until

KSERVE_GROUP = "serving.kserve.io"
KSERVE_VERSION = "v1beta1"
ISVC_PLURAL = "inferenceservices"
NAME_LABEL = "app.kubernetes.io/name"
INSTANCE_LABEL = "app.kubernetes.io/instance"
COMPONENT_LABEL = "app.kubernetes.io/component"
APP = "isvcperf"
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
REQUEST_TIMEOUT = 30.0
TRANSIENT = (429, 500, 502, 503, 504)
RETRY_FOR = 60.0
RETRY_FIRST = 0.5
RETRY_MAX = 8.0


@dataclass(frozen=True)
class Kind:
    """How to reach one kind of object: the client API class, its method suffix, its resource name."""

    api: str
    method: str
    resource: str


KINDS: dict[str, Kind] = {
    "ConfigMap": Kind("CoreV1Api", "config_map", "configmaps"),
    "Service": Kind("CoreV1Api", "service", "services"),
    "ServiceAccount": Kind("CoreV1Api", "service_account", "serviceaccounts"),
    "Pod": Kind("CoreV1Api", "pod", "pods"),
    "Job": Kind("BatchV1Api", "job", "jobs"),
    "CronJob": Kind("BatchV1Api", "cron_job", "cronjobs"),
    "Role": Kind("RbacAuthorizationV1Api", "role", "roles"),
    "RoleBinding": Kind("RbacAuthorizationV1Api", "role_binding", "rolebindings"),
    "NetworkPolicy": Kind("NetworkingV1Api", "network_policy", "networkpolicies"),
}
"""The kinds isvcperf creates or reads."""
LISTED_KINDS = ("CronJob", "Job", "Service", "ConfigMap")
"""Where `list` and `delete` look for runs, owners first: what a run or launch creates that the built-in
`edit` role may read. A launch's ServiceAccount, Role and RoleBinding are owned by its runner and go with it."""


def instance_selector(instance: str | None = None) -> str:
    """The label selector of every isvcperf object, or of one run's."""
    selector = f"{NAME_LABEL}={APP}"
    return f"{selector},{INSTANCE_LABEL}={instance}" if instance else selector


class Cluster:
    """A connection to one cluster and namespace."""

    def __init__(self, context: str | None = None, namespace: str | None = None) -> None:
        self.context = context
        self.api_client, default_namespace, self.where = _load_config(context)
        self.namespace = namespace or default_namespace
        self._apis: dict[str, Any] = {}
        self.on_retry: Callable[[str], None] | None = None
        """Told once per stretch of transient API failures (the runner echoes and records it)."""

    # -- generic objects --------------------------------------------------------------------

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create one object (a rendered manifest) in its namespace; returns the stored object."""
        kind = _kind(obj["kind"])
        namespace = obj["metadata"].get("namespace", self.namespace)
        method = getattr(self._api(kind.api), f"create_namespaced_{kind.method}")
        return self._call("create", kind.resource, namespace, lambda: method(namespace, obj, _preload_content=False))

    def get(self, kind_name: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        """One object, or None when it does not exist."""
        kind = _kind(kind_name)
        namespace = namespace or self.namespace
        method = getattr(self._api(kind.api), f"read_namespaced_{kind.method}")
        try:
            return self._call("get", kind.resource, namespace, lambda: method(name, namespace, _preload_content=False),
                              missing_ok=True)
        except _NotFound:
            return None

    def replace(self, obj: dict[str, Any]) -> dict[str, Any]:
        kind = _kind(obj["kind"])
        namespace = obj["metadata"].get("namespace", self.namespace)
        name = obj["metadata"]["name"]
        method = getattr(self._api(kind.api), f"replace_namespaced_{kind.method}")
        return self._call("update", kind.resource, namespace,
                          lambda: method(name, namespace, obj, _preload_content=False))

    def patch(self, kind_name: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """A strategic-merge patch (e.g. resume a suspended Job)."""
        kind = _kind(kind_name)
        method = getattr(self._api(kind.api), f"patch_namespaced_{kind.method}")
        return self._call("patch", kind.resource, self.namespace,
                          lambda: method(name, self.namespace, body, _preload_content=False))

    def list(self, kind_name: str, selector: str) -> list[dict[str, Any]]:
        kind = _kind(kind_name)
        method = getattr(self._api(kind.api), f"list_namespaced_{kind.method}")
        data = self._call("list", kind.resource, self.namespace,
                          lambda: method(self.namespace, label_selector=selector, _preload_content=False))
        return list(data.get("items", []))

    def delete(self, kind_name: str, name: str) -> bool:
        """Delete one object and, in the background, everything it owns; False when it was already gone."""
        kind = _kind(kind_name)
        method = getattr(self._api(kind.api), f"delete_namespaced_{kind.method}")
        body = client.V1DeleteOptions(propagation_policy="Background")
        try:
            self._call("delete", kind.resource, self.namespace,
                       lambda: method(name, self.namespace, body=body, _preload_content=False), missing_ok=True)
        except _NotFound:
            return False
        return True

    def instance_objects(self, instance: str | None = None) -> Iterator[dict[str, Any]]:
        """Every isvcperf object of one run (or of all runs) in the namespace, owners first."""
        for kind_name in LISTED_KINDS:
            for item in self.list(kind_name, instance_selector(instance)):
                item.setdefault("kind", kind_name)
                yield item

    def delete_instance(self, instance: str, keep: Callable[[dict[str, Any]], bool] | None = None) -> list[str]:
        """Delete every object labelled with `instance` (except those `keep` spares); returns `Kind/name`s."""
        deleted = []
        for item in list(self.instance_objects(instance)):
            if keep is not None and keep(item):
                continue
            name = item["metadata"]["name"]
            if self.delete(item["kind"], name):
                deleted.append(f"{item['kind']}/{name}")
        return deleted

    # -- pods -------------------------------------------------------------------------------

    def pod_log(self, name: str, container: str, tail_lines: int | None = None) -> str:
        """A container's log. Always by container name: an injected sidecar makes a pod multi-container,
        and then the API refuses a log read without one."""
        core = self._api("CoreV1Api")
        kwargs: dict[str, Any] = {"_preload_content": False, "container": container}
        if tail_lines is not None:
            kwargs["tail_lines"] = tail_lines
        return self._call("get", "pods/log", self.namespace,
                          lambda: core.read_namespaced_pod_log(name, self.namespace, **kwargs), raw=True).decode(
            "utf-8", "replace")

    def warnings_about(self, name: str) -> list[dict[str, Any]]:
        """The Warning events about one object (a Job's FailedCreate, a pod's Failed pull), oldest first."""
        core = self._api("CoreV1Api")
        data = self._call("list", "events", self.namespace, lambda: core.list_namespaced_event(
            self.namespace, field_selector=f"involvedObject.name={name},type=Warning", _preload_content=False))
        return sorted(data.get("items", []), key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")

    def port_forward_get(self, pod: str, port: int, path: str, timeout: float = 5.0, method: str = "GET") -> bytes:
        """GET (or `method`) `path` on a pod's port through a port-forward (what `kubectl port-forward` does).

        Needs no traffic from the API server to the pod network: the kubelet connects inside
        the pod, so it works on private control planes and behind mesh mTLS where the proxy
        does not. Raises ProxyUnavailable when nothing answers or the call is refused.
        """
        return portforward.http_get(self._api("CoreV1Api"), self.namespace, pod, port, path, timeout, self.where,
                                    method)

    def service_proxy_get(self, service: str, port: str, path: str, timeout: float = 5.0) -> bytes:
        """GET `path` on a Service's port through the API server's proxy (no route from here to the pod needed).

        Raises CouldNotRun for permission problems and `ProxyUnavailable` while nothing answers yet.
        """
        return self._service_proxy("get", service, port, path, timeout)

    def service_proxy_post(self, service: str, port: str, path: str, timeout: float = 5.0) -> bytes:
        """POST (no body) to `path` on a Service's port through the API server's proxy: `create services/proxy`."""
        return self._service_proxy("post", service, port, path, timeout)

    def _service_proxy(self, method: str, service: str, port: str, path: str, timeout: float) -> bytes:
        core = self._api("CoreV1Api")
        connect = getattr(core, f"connect_{method}_namespaced_service_proxy_with_path")
        try:
            return self._call(
                "get" if method == "get" else "create", "services/proxy", self.namespace,
                lambda: connect(f"{service}:{port}", self.namespace, path, _preload_content=False,
                                _request_timeout=timeout),
                raw=True, proxy=True)
        except _NotFound as exc:
            raise ProxyUnavailable(str(exc)) from None

    # -- InferenceServices ------------------------------------------------------------------

    def get_isvc(self, name: str, namespace: str) -> dict[str, Any]:
        """The InferenceService, or CouldNotRun saying whether it or KServe itself is missing."""
        custom = self._api("CustomObjectsApi")
        try:
            return self._call(
                "get", f"{ISVC_PLURAL}.{KSERVE_GROUP}", namespace,
                lambda: custom.get_namespaced_custom_object(KSERVE_GROUP, KSERVE_VERSION, namespace, ISVC_PLURAL, name,
                                                            _preload_content=False),
                missing_ok=True)
        except _NotFound:
            if not self._kserve_installed():
                raise CouldNotRun(
                    f"KServe is not installed on {self.where}: the API has no {ISVC_PLURAL}.{KSERVE_GROUP}/"
                    f"{KSERVE_VERSION} (install KServe, or check the kubeconfig context)") from None
            raise CouldNotRun(
                f"InferenceService {name!r} not found in namespace {namespace!r} on {self.where} "
                f"(check target.isvc and target.namespace; `kubectl get isvc -n {namespace}` lists them)") from None

    def _kserve_installed(self) -> bool:
        custom = self._api("CustomObjectsApi")
        try:
            resources = self._call("get", "API discovery", "",
                                   lambda: custom.get_api_resources(KSERVE_GROUP, KSERVE_VERSION,
                                                                    _preload_content=False), missing_ok=True)
        except _NotFound:
            return False
        return any(r.get("name") == ISVC_PLURAL for r in resources.get("resources", []))

    # -- internals --------------------------------------------------------------------------

    def _api(self, name: str) -> Any:
        if name not in self._apis:
            self._apis[name] = getattr(client, name)(self.api_client)
        return self._apis[name]

    def _call(self, verb: str, resource: str, namespace: str, fn: Callable[[], Any], missing_ok: bool = False,
              raw: bool = False, proxy: bool = False) -> Any:
        """Run one API call; JSON (or raw bytes) back, or an error that says what was refused and why.

        Reads (get, list) that meet a transient failure — 429 throttling, a 5xx, a dropped
        connection: a control-plane upgrade or API priority and fairness — are retried with
        backoff for RETRY_FOR seconds and reported through `on_retry`, so one bad second
        never ends a healthy run. Writes are not retried (a create may have happened).
        """
        retry = verb in ("get", "list") and not proxy
        failures: list[str] = []

        def attempt() -> tuple[Any] | None:
            try:
                return (self._call_once(verb, resource, namespace, fn, missing_ok, raw, proxy),)
            except _Transient as exc:
                if not retry:
                    raise CouldNotRun(exc.message) from None
                if not failures and self.on_retry is not None:
                    self.on_retry(f"{exc.message}; retrying for up to {RETRY_FOR:.0f}s")
                failures.append(exc.message)
                return None

        def expired() -> tuple[Any]:
            raise CouldNotRun(f"{failures[-1]} (still failing after {len(failures)} tries in {RETRY_FOR:.0f}s)")

        (answer,) = poll_until(attempt, deadline_after(RETRY_FOR), RETRY_FIRST, expired, backoff=2.0,
                               max_interval=RETRY_MAX)
        return answer

    def _call_once(self, verb: str, resource: str, namespace: str, fn: Callable[[], Any], missing_ok: bool,
                   raw: bool, proxy: bool) -> Any:
        try:
            response = fn()
            data = response.data
        except ApiException as exc:
            status = _status_message(exc)
            if exc.status == 404 and (missing_ok or proxy):
                raise _NotFound(status) from None
            if proxy and exc.status in (502, 503):
                raise ProxyUnavailable(status) from None
            message = _api_error(exc.status, verb, resource, namespace, status, self.where)
            if exc.status in TRANSIENT:
                raise _Transient(message) from None
            raise CouldNotRun(message) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            if proxy:
                raise ProxyUnavailable(str(exc)) from None
            raise _Transient(f"cannot reach the Kubernetes API server of {self.where}: {_short(exc)}") from None
        if raw:
            return data
        return json.loads(data) if data else {}


class _NotFound(Exception):
    """A 404 the caller asked to handle itself."""


class _Transient(Exception):
    """A failure that may pass: throttling, a 5xx, a dropped connection."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _kind(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"isvcperf does not manage {name} objects") from None  # a bug in a template, not input


def _api_error(code: int | None, verb: str, resource: str, namespace: str, status: str, where: str) -> str:
    scope = f" in namespace {namespace!r}" if namespace else ""
    if code == 403:
        return (f"permission denied on {where}: cannot {verb} {resource}{scope} ({status}); "
                f"ask for a Role that grants {verb!r} on {resource} (README: Kubernetes permissions)")
    if code == 401:
        return f"{where} rejected the credentials (401 Unauthorized): log in again or check the kubeconfig"
    if code == 409:
        return f"{resource}{scope} already exists ({status}); delete it (isvcperf delete RUN) or use another name"
    if code == 422:
        return f"{where} refused the {resource} object as invalid: {status}"
    return f"{verb} {resource}{scope} failed on {where}: HTTP {code} {status}"


def _status_message(exc: ApiException) -> str:
    """The API's Status message (or the start of the body) from a failed call."""
    try:
        body = json.loads(exc.body or "")
    except (TypeError, ValueError):
        return (str(exc.body or exc.reason or "")).strip()[:200]
    return str(body.get("message") or body.get("reason") or exc.reason) if isinstance(body, dict) else str(body)[:200]


def _short(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason or exc).splitlines()[0][:200]


def _load_config(context: str | None) -> tuple[client.ApiClient, str, str]:
    """(client, default namespace, a description for messages) from the kubeconfig, else in-cluster config."""
    configuration = client.Configuration()
    # KUBECONFIG may list several files (like kubectl, the client merges them in order).
    kubeconfig = os.environ.get("KUBECONFIG", "") or str(Path.home() / ".kube" / "config")
    in_cluster = "KUBERNETES_SERVICE_HOST" in os.environ
    present = any(Path(p).is_file() for p in kubeconfig.split(os.pathsep) if p)
    if present or not in_cluster or context:
        try:
            config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=configuration)
            _, active = config.list_kube_config_contexts(config_file=kubeconfig)
        except (ConfigException, OSError, TypeError, ValueError) as exc:
            where = f"context {context!r} in " if context else ""
            raise CouldNotRun(
                f"cannot load the Kubernetes configuration ({where}{kubeconfig}): {_short(exc)}; "
                "set KUBECONFIG or --context, or run inside a pod") from None
        if context:
            active = next((c for c in config.list_kube_config_contexts(config_file=kubeconfig)[0]
                           if c["name"] == context), active)
        namespace = active.get("context", {}).get("namespace") or "default"
        where = f"cluster {active.get('context', {}).get('cluster', configuration.host)!r} ({configuration.host})"
    else:
        try:
            config.load_incluster_config(client_configuration=configuration)
        except ConfigException as exc:
            raise CouldNotRun(f"cannot load the in-cluster Kubernetes configuration: {_short(exc)}") from None
        namespace = SERVICE_ACCOUNT_NAMESPACE.read_text().strip() if SERVICE_ACCOUNT_NAMESPACE.is_file() else "default"
        where = f"this cluster ({configuration.host})"
    configuration.retries = 2
    # A proxied path (`isvcperf/stats?since=N`) goes out as written, its query included: the API server
    # forwards a proxy request's query, and Kubernetes names never hold these characters.
    configuration.safe_chars_for_path_param = "/?=&"
    return client.ApiClient(configuration), namespace, where
