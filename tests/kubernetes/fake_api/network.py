"""Cluster networking on loopback: pod and Service addresses, kube-proxy, and the DNS stand-in.

* Every pod gets its own address ``127.P.x.y`` (``P`` random per cluster so that fake
  clusters in concurrent test processes do not collide); Services get ``127.P.2xx.y``
  ClusterIPs. Linux routes all of 127/8 to ``lo``, so these are real, bindable addresses.
* kube-proxy: for every ClusterIP Service port a TCP listener on ``clusterIP:port`` forwards
  each connection to a Running, ready pod the Service selects, at its ``targetPort`` (a number
  or a named container port), so a client can connect before the backend pod exists, as in
  a cluster. No backend: the connection is closed at once (the real one is rejected).
* DNS: processes cannot use cluster DNS, so the kubelet rewrites Service host names in a
  container's command, args and env values before starting it (see ``HostRewriter``).
"""

from __future__ import annotations

import contextlib
import random
import re
import socket
import threading
from typing import Any

from .resources import PODS, SERVICES
from .selectors import service_selects
from .store import Obj, Store


class AddressPool:
    """Hands out pod and Service addresses; never reuses one within a cluster's lifetime."""

    def __init__(self) -> None:
        self.octet = random.randint(16, 250)
        self._pods = 0
        self._services = 0
        self._lock = threading.Lock()

    def pod_ip(self) -> str:
        with self._lock:
            n, self._pods = self._pods, self._pods + 1
        return f"127.{self.octet}.{1 + n // 254}.{1 + n % 254}"

    def service_ip(self) -> str:
        with self._lock:
            n, self._services = self._services, self._services + 1
        return f"127.{self.octet}.{200 + n // 254}.{1 + n % 254}"


def pod_ready(pod: Obj) -> bool:
    conditions = pod.get("status", {}).get("conditions") or []
    return (
        "deletionTimestamp" not in pod["metadata"]
        and pod.get("status", {}).get("phase") == "Running"
        and any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
    )


def target_port(port: dict[str, Any], pod: Obj) -> int | None:
    """A Service port's targetPort on ``pod``: a number, or a container port found by name."""
    target = port.get("targetPort", port.get("port"))
    if isinstance(target, int) or str(target).isdigit():
        return int(target)
    for container in pod["spec"].get("containers", []):
        for cport in container.get("ports") or []:
            if cport.get("name") == target:
                return int(cport["containerPort"])
    return None


def endpoints(store: Store, service: Obj) -> list[Obj]:
    """Ready pods a Service selects, oldest first (a stable choice of backend)."""
    selector = service.get("spec", {}).get("selector")
    pods = store.list(PODS, service["metadata"]["namespace"])["items"]
    chosen = [p for p in pods if pod_ready(p) and service_selects(selector, p["metadata"].get("labels") or {})]
    return sorted(chosen, key=lambda p: (p["metadata"]["creationTimestamp"], p["metadata"]["name"]))


def find_service_port(service: Obj, wanted: str | int | None) -> dict[str, Any] | None:
    """A port by name or number; the only port when none is named (as the service proxy does)."""
    ports = service.get("spec", {}).get("ports") or []
    if wanted in (None, ""):
        return ports[0] if len(ports) == 1 else None
    return next((p for p in ports if str(p.get("port")) == str(wanted) or p.get("name") == wanted), None)


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


class _Listener:
    """One ``clusterIP:port`` of one Service."""

    def __init__(self, store: Store, namespace: str, service: str, ip: str, port: int) -> None:
        self.store, self.namespace, self.service, self.port = store, namespace, service, port
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((ip, port))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.closed = threading.Event()
        self.open: set[socket.socket] = set()
        threading.Thread(target=self._serve, name=f"kube-proxy {ip}:{port}", daemon=True).start()

    def _backend(self) -> tuple[str, int] | None:
        service = self.store.find(SERVICES, self.namespace, self.service)
        if service is None:
            return None
        port = find_service_port(service, self.port)
        for pod in endpoints(self.store, service) if port else []:
            target = target_port(port, pod)
            if target is not None:
                return pod["status"]["podIP"], target
        return None

    def _serve(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            backend = self._backend()
            try:
                upstream = socket.create_connection(backend, timeout=5) if backend else None
            except OSError:
                upstream = None
            if upstream is None:
                client.close()
                continue
            upstream.settimeout(None)
            client.settimeout(None)
            self.open.update((client, upstream))
            threading.Thread(target=_pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=_pipe, args=(upstream, client), daemon=True).start()

    def close(self) -> None:
        self.closed.set()
        for sock in [self.sock, *self.open]:
            with contextlib.suppress(OSError):
                sock.close()


class KubeProxy:
    """Keeps one listener per ClusterIP Service port, following Service creates and deletes."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._listeners: dict[tuple[str, str, str, int], _Listener] = {}

    def sync(self) -> None:
        wanted: dict[tuple[str, str, str, int], None] = {}
        for service in self.store.list(SERVICES)["items"]:
            ip = service.get("spec", {}).get("clusterIP")
            if not ip or ip == "None" or "deletionTimestamp" in service["metadata"]:
                continue
            for port in service["spec"].get("ports") or []:
                if port.get("protocol", "TCP") == "TCP":
                    wanted[(service["metadata"]["namespace"], service["metadata"]["name"], ip, int(port["port"]))] = None
        for key in set(self._listeners) - set(wanted):
            self._listeners.pop(key).close()
        for key in wanted:
            if key not in self._listeners:
                self._listeners[key] = _Listener(self.store, *key)

    def stop(self) -> None:
        for listener in self._listeners.values():
            listener.close()
        self._listeners.clear()


_HOST_CHAR = r"A-Za-z0-9-"


class HostRewriter:
    """The DNS stand-in: rewrites Service host names and ``0.0.0.0`` in a container's strings.

    * ``svc.ns.svc.cluster.local``, ``svc.ns.svc`` and ``svc.ns`` (any namespace) become the
      Service's ClusterIP wherever they appear as a whole host name.
    * The bare ``svc`` (Services in the pod's own namespace only) is rewritten only where it
      can only be a host: the whole string, or after ``//``, ``@``, ``=``, ``,`` or a space and
      before ``:port``, ``/``, ``,``, a space or the end. So ``--master-host=svc`` and
      ``http://svc:8080/x`` are rewritten, ``--role svc-worker`` is not.
    * A headless Service (``clusterIP: None``) becomes the IP of the first ready pod it selects
      when the container starts (left unchanged if there is none yet).
    * ``0.0.0.0`` becomes the pod's IP: binding all interfaces in a pod means the pod's own
      address; on a shared loopback it would collide with other pods' ports.
    """

    def __init__(self, store: Store, namespace: str, pod_ip: str) -> None:
        self.pod_ip = pod_ip
        self._qualified: list[tuple[re.Pattern[str], str]] = []
        self._short: list[tuple[re.Pattern[str], str]] = []
        for service in store.list(SERVICES)["items"]:
            name, ns = service["metadata"]["name"], service["metadata"]["namespace"]
            ip = service.get("spec", {}).get("clusterIP")
            if not ip or ip == "None":
                ready = endpoints(store, service)
                if not ready:
                    continue
                ip = ready[0]["status"]["podIP"]
            names = [f"{name}.{ns}.svc.cluster.local", f"{name}.{ns}.svc", f"{name}.{ns}"]
            alternation = "|".join(re.escape(n) for n in names)
            self._qualified.append((re.compile(rf"(?<![{_HOST_CHAR}.])(?:{alternation})(?![{_HOST_CHAR}]|\.[{_HOST_CHAR}])"), ip))
            if ns == namespace:
                self._short.append((re.compile(rf"(?:^|(?<=//)|(?<=@)|(?<=[\s=,])){re.escape(name)}(?=:\d|/|,|\s|$)"), ip))

    def __call__(self, text: str) -> str:
        for pattern, ip in self._qualified + self._short:
            text = pattern.sub(ip, text)
        return re.sub(r"(?<![0-9.])0\.0\.0\.0(?![0-9.])", self.pod_ip, text)
