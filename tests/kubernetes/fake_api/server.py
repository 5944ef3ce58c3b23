"""The HTTP face of the fake: URL routing, verbs, discovery, pod logs, the proxy subresources and
port-forward (WebSocket, ``v4.channel.k8s.io``; see ``portforward``).

Paths are the real ones (``/api/v1/namespaces/{ns}/pods/{name}/log``,
``/apis/batch/v1/namespaces/{ns}/jobs``, ``/api/v1/namespaces/{ns}/services/{name}:{port}/proxy/{path}``),
so the official client is used unchanged. Unknown groups, versions and resources answer
``404 page not found`` in plain text, as the real mux does (this is what a client sees for
``serving.kserve.io`` when KServe is not installed). ``watch=true`` is refused with 405: the fake
has no watch (clients are expected to poll). Server-side apply is refused with 415.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from . import errors, portforward
from .network import endpoints, find_service_port, pod_ready, target_port
from .resources import ResourceType
from .store import default_propagation

if TYPE_CHECKING:
    from .cluster import FakeCluster

JOB_ORPHAN_WARNING = (
    '299 - "child pods are preserved by default when jobs are deleted; set propagationPolicy=Background '
    'to remove them or set propagationPolicy=Orphan to suppress this warning"'
)
VERSION = {"major": "1", "minor": "30", "gitVersion": "v1.30.0-fake", "platform": "linux/amd64", "goVersion": "go1.22.0", "compiler": "gc"}


@dataclass
class Route:
    rt: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None
    tail: str  # the proxied path after .../proxy


@dataclass
class RequestRecord:
    """One request as the server saw it, for tests that assert how the API was used."""

    method: str
    path: str
    status: int


class NotFoundPage(Exception):
    """The mux's plain-text 404 for paths that name no served resource."""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    cluster: FakeCluster  # set on the subclass the server creates
    raw_body: bytes = b""

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the request log is ``FakeCluster.requests``."""

    # --------------------------------------------------------------- replies
    def _send(self, code: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)
        self.cluster.requests.append(RequestRecord(self.command, self.path, code))

    def _json(self, code: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self._send(code, json.dumps(obj).encode(), "application/json", headers)

    def _body(self) -> Any:
        raw = self.raw_body
        if not raw:
            return None
        try:
            return json.loads(raw)
        except json.JSONDecodeError as err:
            raise errors.bad_request(f"the body of the request could not be decoded: {err}") from err

    def _dispatch(self) -> None:
        # Read the whole body first: an error answered before reading it would leave its bytes
        # on the keep-alive connection, to be parsed as the next request.
        self.raw_body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            self._handle()
        except NotFoundPage:
            self._send(404, b"404 page not found\n", "text/plain; charset=utf-8")
        except errors.ApiError as err:
            self._json(err.code, err.status(), err.headers)
        except (BrokenPipeError, ConnectionResetError):
            return
        except Exception as err:
            self.cluster.controller_errors.append(f"{self.command} {self.path}: {err!r}")
            self._json(500, errors.ApiError(500, "InternalError", f"Internal error occurred: {err!r}").status())

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

    # --------------------------------------------------------------- routing
    def _route(self, parts: list[str]) -> Route:
        store = self.cluster.store
        if parts[0] == "api" and len(parts) >= 3:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[0] == "apis" and len(parts) >= 4:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise NotFoundPage
        namespace = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            inner = store.resolve(group, version, rest[2])
            if inner is not None and inner.namespaced:
                namespace, rest = unquote(rest[1]), rest[2:]
        rt = store.resolve(group, version, rest[0])
        if rt is None:
            raise NotFoundPage
        name = unquote(rest[1]) if len(rest) > 1 else None
        subresource = rest[2] if len(rest) > 2 else None
        if subresource not in (None, "status", "log", "proxy", "portforward") or (len(rest) > 3 and subresource != "proxy"):
            raise NotFoundPage
        return Route(rt, namespace, name, subresource, unquote("/".join(rest[3:])))

    def _discovery(self, parts: list[str]) -> bool:
        types = self.cluster.store.served_types()
        groups: dict[str, list[str]] = {}
        for rt in types:
            if rt.group and rt.version not in groups.setdefault(rt.group, []):
                groups[rt.group].append(rt.version)

        def resource_list(group: str, version: str) -> dict[str, Any]:
            resources = []
            for rt in types:
                if (rt.group, rt.version) == (group, version):
                    resources.append({"name": rt.plural, "singularName": rt.singular, "namespaced": rt.namespaced, "kind": rt.kind, "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update"]})
                    if rt.has_status:
                        resources.append({"name": f"{rt.plural}/status", "singularName": "", "namespaced": rt.namespaced, "kind": rt.kind, "verbs": ["get", "patch", "update"]})
            return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{group}/{version}" if group else version, "resources": resources}

        def group_obj(name: str) -> dict[str, Any]:
            versions = [{"groupVersion": f"{name}/{v}", "version": v} for v in groups[name]]
            return {"name": name, "versions": versions, "preferredVersion": versions[0]}

        if parts == ["version"]:
            self._json(200, VERSION)
        elif parts in (["healthz"], ["readyz"], ["livez"]):
            self._send(200, b"ok", "text/plain; charset=utf-8")
        elif parts == ["api"]:
            self._json(200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": self.cluster.address}]})
        elif parts == ["api", "v1"]:
            self._json(200, resource_list("", "v1"))
        elif parts == ["apis"]:
            self._json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [group_obj(g) for g in groups]})
        elif len(parts) == 2 and parts[0] == "apis" and parts[1] in groups:
            self._json(200, {"kind": "APIGroup", "apiVersion": "v1", **group_obj(parts[1])})
        elif len(parts) == 3 and parts[0] == "apis" and parts[2] in groups.get(parts[1], []):
            self._json(200, resource_list(parts[1], parts[2]))
        else:
            return False
        return True

    def _handle(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        parts = [p for p in url.path.split("/") if p]
        user = self.cluster.authorizer.authenticate(self.headers.get("Authorization"))
        if not parts:
            raise NotFoundPage
        if self.command == "GET" and self._discovery(parts):
            return
        route = self._route(parts)
        rt, ns, name, sub = route.rt, route.namespace, route.name, route.subresource
        if rt.namespaced and ns is None and not (self.command == "GET" and name is None):
            raise NotFoundPage  # only list/watch exist across all namespaces
        verb = self._verb(route, query)
        if verb == "list" and (fault := self.cluster.list_faults.check(rt.plural)) is not None:
            raise fault  # API Priority and Fairness and etcd come before authorization upstream
        self.cluster.authorizer.authorize(user, verb, rt, sub, ns, name)
        store = self.cluster.store
        if sub == "proxy":
            self._proxy(route, url.query)
        elif sub == "portforward":
            if rt.plural != "pods" or self.command != "GET":
                raise NotFoundPage
            self._portforward(ns or "", name or "", url.query)
        elif sub == "log":
            if rt.plural != "pods" or self.command != "GET":
                raise NotFoundPage
            self._log(ns or "", name or "", query)
        elif verb == "list":
            listing = store.list(rt, ns, query.get("labelSelector"), query.get("fieldSelector"), int(query["limit"]) if query.get("limit") else None, query.get("continue"))
            for item in listing["items"]:  # list items carry no apiVersion/kind on the wire
                item.pop("apiVersion", None)
                item.pop("kind", None)
            self._json(200, listing)
        elif verb == "watch":
            raise errors.method_not_allowed("the fake API server does not implement watch; poll with list instead")
        elif verb == "get":
            self._json(200, store.get(rt, ns, name or ""))
        elif verb == "create":
            body = self._body() or {}
            created = store.create(rt, ns, body, dry_run=query.get("dryRun") == "All")
            self._json(201, created)
        elif verb == "update":
            self._json(200, store.replace(rt, ns, name or "", self._body() or {}, sub))
        elif verb == "patch":
            content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            if content_type == "application/apply-patch+yaml":
                raise errors.unsupported_media_type(["application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json"])
            self._json(200, store.patch(rt, ns, name or "", self._body(), content_type, sub))
        elif verb in ("delete", "deletecollection"):
            self._delete(route, query, verb)

    def _verb(self, route: Route, query: dict[str, str]) -> str:
        method = self.command
        if route.subresource == "proxy":
            return {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}[method]
        if method == "GET":
            if route.name is None:
                return "watch" if query.get("watch") in ("true", "1") else "list"
            return "get"
        if method == "POST" and route.name is None:
            return "create"
        if method == "PUT" and route.name:
            return "update"
        if method == "PATCH" and route.name:
            return "patch"
        if method == "DELETE":
            return "delete" if route.name else "deletecollection"
        raise errors.method_not_allowed(f"{method} is not supported on this path")

    def _delete(self, route: Route, query: dict[str, str], verb: str) -> None:
        options = self._body() or {}
        policy = query.get("propagationPolicy") or options.get("propagationPolicy")
        if policy is None and options.get("orphanDependents") is not None:
            policy = "Orphan" if options["orphanDependents"] else "Background"
        grace_text = query.get("gracePeriodSeconds", options.get("gracePeriodSeconds"))
        grace = int(grace_text) if grace_text not in (None, "") else None
        headers = {"Warning": JOB_ORPHAN_WARNING} if policy is None and default_propagation(route.rt) == "Orphan" else None
        store = self.cluster.store
        if verb == "deletecollection":
            self._json(200, store.delete_collection(route.rt, route.namespace, query.get("labelSelector"), query.get("fieldSelector"), policy, grace), headers)
            return
        result = store.delete(route.rt, route.namespace, route.name or "", policy, grace, options.get("preconditions"))
        lingering = result.get("kind") != "Status" and store.find(route.rt, route.namespace, route.name or "") is not None
        self._json(202 if lingering else 200, result, headers)

    # -------------------------------------------------------------- log/proxy
    def _log(self, namespace: str, name: str, query: dict[str, str]) -> None:
        path, alive = self.cluster.kubelet.log_text(namespace, name, query.get("container"), query.get("previous") == "true")
        assert path is not None
        if query.get("follow") != "true":
            self._send(200, self._tail(path.read_bytes(), query), "text/plain")
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        self.cluster.requests.append(RequestRecord(self.command, self.path, 200))
        with path.open("rb") as log:
            self.wfile.write(self._tail(log.read(), query))
            while True:
                running = alive()
                chunk = log.read()
                if chunk:
                    self.wfile.write(chunk)
                    self.wfile.flush()
                elif not running or self.cluster.stopping.is_set():
                    return
                else:
                    time.sleep(0.1)

    @staticmethod
    def _tail(data: bytes, query: dict[str, str]) -> bytes:
        if query.get("tailLines"):
            lines = data.splitlines(keepends=True)
            data = b"".join(lines[-int(query["tailLines"]) :]) if int(query["tailLines"]) > 0 else b""
        if query.get("limitBytes"):
            data = data[: int(query["limitBytes"])]
        return data

    def _portforward(self, namespace: str, name: str, query: str) -> None:
        pod = self.cluster.store.get(self.cluster.resource("pods"), namespace, name)
        if self.headers.get("Upgrade", "").lower() != "websocket" or not self.headers.get("Sec-WebSocket-Key"):
            raise errors.bad_request("Upgrade request required")
        offered = [p.strip() for p in (self.headers.get("Sec-WebSocket-Protocol") or "").split(",")]
        if portforward.PROTOCOL not in offered:
            raise errors.bad_request(f"unable to upgrade: the client's protocols {offered} do not include {portforward.PROTOCOL}")
        ports = [int(p) for value in parse_qs(query).get("ports", []) for p in value.split(",") if p]
        if not ports:
            raise errors.bad_request("unable to upgrade connection: query parameter \"port\" is required")
        ip = pod.get("status", {}).get("podIP")
        if pod.get("status", {}).get("phase") != "Running" or not ip:
            raise errors.bad_request(f"unable to upgrade connection: pod {name} is not running")
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", portforward.accept_key(self.headers["Sec-WebSocket-Key"]))
        self.send_header("Sec-WebSocket-Protocol", portforward.PROTOCOL)
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        self.cluster.requests.append(RequestRecord(self.command, self.path, 101))
        portforward.forward(self.connection, ip, pod["metadata"]["uid"], name, ports, self.cluster.stopping)

    def _proxy(self, route: Route, query: str) -> None:
        store = self.cluster.store
        spec = (route.name or "").split(":")
        if len(spec) == 3:
            spec = spec[1:]  # scheme:name:port
        name, port = spec[0], (spec[1] if len(spec) > 1 else None)
        if route.rt.plural == "services":
            service = store.get(route.rt, route.namespace, name)
            service_port = find_service_port(service, port)
            if service_port is None:
                raise errors.service_unavailable(f'no endpoints available for service "{route.name}"')
            backends = [(p, target_port(service_port, p)) for p in endpoints(store, service)]
            backends = [(p, t) for p, t in backends if t is not None]
            if not backends:
                raise errors.service_unavailable(f'no endpoints available for service "{route.name}"')
            pod, target = backends[0]
        elif route.rt.plural == "pods":
            pod = store.get(route.rt, route.namespace, name)
            if not pod_ready(pod) and not pod.get("status", {}).get("podIP"):
                raise errors.bad_request(f'pod "{name}" does not have a host assigned')
            target = int(port) if port else 80
        else:
            raise NotFoundPage
        ip = pod["status"]["podIP"]
        if self.cluster.proxy_block is not None:
            raise self.cluster.proxy_block.error(ip, target)
        body = self.raw_body
        headers = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "accept", "accept-encoding", "user-agent")}
        connection = http.client.HTTPConnection(ip, target, timeout=60)
        try:
            connection.request(self.command, "/" + route.tail + (f"?{query}" if query else ""), body=body or None, headers=headers)
            response = connection.getresponse()
            payload = response.read()
        except OSError as err:
            reason = "connection refused" if isinstance(err, ConnectionRefusedError) else str(err)
            raise errors.service_unavailable(f"error trying to reach service: dial tcp {ip}:{target}: connect: {reason}") from err
        finally:
            with contextlib.suppress(OSError):
                connection.close()
        self._send(response.status, payload, response.getheader("Content-Type") or _sniff(payload))


def _sniff(payload: bytes) -> str:
    """The Content-Type Go's ResponseWriter gives a proxied answer that had none (text or bytes)."""
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError:
        return "application/octet-stream"
    return "text/plain; charset=utf-8"


def serve(cluster: FakeCluster) -> ThreadingHTTPServer:
    """Start the API server on a free loopback port in a daemon thread."""
    handler = type("BoundHandler", (Handler,), {"cluster": cluster})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="fake-kube-apiserver", daemon=True).start()
    return server
