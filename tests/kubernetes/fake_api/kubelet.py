"""The kubelet of the single fake node: every pod container is a real local process.

Lifecycle: a new pod is scheduled (``spec.nodeName``, a pod IP of its own, PodScheduled),
its volumes are materialised, init containers run one after the other, then every container
starts. Phase follows the containers (Pending → Running → Succeeded/Failed), with
``containerStatuses`` in ``waiting``/``running``/``terminated`` (exitCode, reason) and the
Initialized/ContainersReady/Ready conditions (there are no probes: a running container is ready).
``restartPolicy`` Always/OnFailure restarts exited containers with a back-off, which shows as
``CrashLoopBackOff`` (0.5 s doubling up to 5 s here, 10 s up to 5 min on a real node).

What a container runs: ``command`` + ``args``; without ``command`` the image's entrypoint (+ its
default cmd when there are no ``args``) as registered with ``Kubelet.images``; images are never
pulled. ``python``/``python3``/``python3.X`` (with any directory) runs this interpreter
(``sys.executable``), so the image's Python is this venv; any other absolute command missing on
this machine is looked up by its base name in this venv's ``bin``. ``$(VAR)`` references in
command, args and env values are expanded as Kubernetes does (``$$`` escapes).

Environment: only what a container would get — Service links (``<SVC>_SERVICE_HOST``/``_PORT``),
``KUBERNETES_SERVICE_HOST``/``PORT`` (this fake server), ``HOSTNAME``, the image's env, ``envFrom``
and ``env`` (value, fieldRef metadata.name/namespace/uid/labels/annotations,
spec.nodeName/serviceAccountName, status.podIP/hostIP, secretKeyRef, configMapKeyRef, optional
refs), plus ``PATH`` (this venv's bin first), ``HOME`` and ``KUBECONFIG`` (see below).

Volumes: configMap, secret and projected (configMap/secret sources) become files, emptyDir an
empty directory, each under the pod's private directory; a missing ConfigMap/Secret keeps the pod
in ContainerCreating with a FailedMount event until it appears. Other volume types fail the
mount with a clear message. Because a process cannot mount, every ``volumeMount.mountPath`` (and
the service-account directory ``/var/run/secrets/kubernetes.io/serviceaccount``, which holds
``token``, ``namespace`` and ``ca.crt``) is mapped to its directory by rewriting that path prefix
wherever it appears as a path in the command, args, env values and ``workingDir``. Paths written
inside files (e.g. in a ConfigMap) are not rewritten. Service names and ``0.0.0.0`` are rewritten
as ``network.HostRewriter`` documents.

In-cluster API access: the real in-cluster client reads the token file above at its fixed path,
which a local process cannot see, so pods (unless ``automountServiceAccountToken: false``) get
``KUBECONFIG`` pointing at a kubeconfig for this server with their service account's token;
``config.load_incluster_config()`` fails and the client should fall back to ``load_kube_config()``.

Logs: stdout and stderr go to one file per container run (``previous`` is the run before).
Deleting a pod sends SIGTERM to each container's process group, SIGKILL after the grace period
(capped by ``grace_cap`` seconds), then removes the pod object. Test hooks: ``kill`` (SIGKILL a
pod's processes: a crash, exit 137), ``fail_image`` (containers of that image wait with a fixed
reason, e.g. CreateContainerError) and ``unpullable`` (images matching a glob go through the
real pull cycle: ``ErrImagePull`` with the container runtime's message, ``not found`` or
``pull access denied``, then ``ImagePullBackOff`` "Back-off pulling image", retried with a
doubling back-off, 1 s up to 5 s here, 10 s up to 5 min on a real node; the pod stays Pending,
with the kubelet's Pulling/Failed/BackOff events). ``stop`` ends every process this kubelet
started.
Not done: probes, resource limits, securityContext, readOnly mounts, ConfigMap updates reaching
already-mounted files, ephemeral containers, ``resourceFieldRef``, ``timestamps``/``sinceSeconds``.
"""

from __future__ import annotations

import base64
import contextlib
import fnmatch
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import errors
from .network import AddressPool, HostRewriter
from .resources import CONFIGMAPS, PODS, SECRETS, SERVICES
from .store import Obj, Store, now

SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
VENV_BIN = Path(sys.executable).parent


@dataclass
class Image:
    """What a Dockerfile would declare for an image: ENTRYPOINT, CMD, ENV and WORKDIR."""

    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    workdir: str | None = None


PULL_ERRORS = {
    "not found": 'rpc error: code = NotFound desc = failed to pull and unpack image "{ref}": failed to resolve reference "{ref}": {ref}: not found',
    "denied": (
        'rpc error: code = Unknown desc = failed to pull and unpack image "{ref}": failed to resolve reference "{ref}": '
        "pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: "
        "authorization failed"
    ),
}
"""containerd's errors for a tag that does not exist and for a repository one may not read."""


def image_reference(image: str) -> str:
    """The fully qualified reference a runtime pulls: ``isvcperf:0.1`` → ``docker.io/library/isvcperf:0.1``."""
    first, _, rest = image.partition("/")
    if not rest:
        image = f"docker.io/library/{image}"
    elif "." not in first and ":" not in first and first != "localhost":
        image = f"docker.io/{image}"
    last = image.rsplit("/", 1)[1]
    return image if ":" in last or "@" in last else f"{image}:latest"


class ContainerConfigError(Exception):
    """The container cannot start yet; ``reason`` becomes its waiting reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass
class Container:
    spec: Obj
    init: bool
    proc: subprocess.Popen[bytes] | None = None
    logs: list[Path] = field(default_factory=list)
    state: Obj = field(default_factory=lambda: {"waiting": {"reason": "ContainerCreating"}})
    last_state: Obj = field(default_factory=dict)
    restarts: int = 0
    restart_at: float = 0.0
    exited: bool = False  # terminated and not going to restart
    pull_failures: int = 0
    pull_next: float = 0.0  # when an unpullable image's waiting state next changes

    @property
    def name(self) -> str:
        return self.spec["name"]

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@dataclass
class PodRuntime:
    namespace: str
    name: str
    uid: str
    ip: str
    root: Path
    containers: list[Container]
    started_at: str
    volumes: dict[str, Path] | None = None
    kubeconfig: Path | None = None
    stop_deadline: float | None = None
    reported: set[str] = field(default_factory=set)  # events already recorded once
    transitions: dict[str, tuple[str, str]] = field(default_factory=dict)  # condition -> (status, time)

    def groups(self) -> list[int]:
        return [c.proc.pid for c in self.containers if c.proc is not None]


def _expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes ``$(VAR)`` expansion: defined vars are replaced, ``$$`` escapes, others stay."""
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)", lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)), text)


class Kubelet:
    """Runs pods; ``sync`` is called repeatedly by the controller loop."""

    def __init__(self, store: Store, addresses: AddressPool, root: Path, events: Callable[..., None], pod_kubeconfig: Callable[[Obj, Path], tuple[Path, str]], api_host: str, api_port: int, grace_cap: float) -> None:
        self.store = store
        self.addresses = addresses
        self.root = root
        self.event = events
        self.pod_kubeconfig = pod_kubeconfig
        self.api_host, self.api_port = api_host, api_port
        self.grace_cap = grace_cap
        self.images: dict[str, Image] = {}
        self.failing_images: dict[str, tuple[str, str]] = {}
        self.unpullable_images: list[tuple[str, str]] = []  # (glob, "not found" | "denied")
        self.pods: dict[str, PodRuntime] = {}
        self._gone: list[PodRuntime] = []  # removed from the API while processes still ran

    # ------------------------------------------------------------------ hooks
    def fail_image(self, image: str, reason: str = "ImagePullBackOff", message: str | None = None) -> None:
        self.failing_images[image] = (reason, message or f'Back-off pulling image "{image}"')

    def unpullable(self, pattern: str, why: str = "not found") -> None:
        if why not in PULL_ERRORS:
            raise ValueError(f"why must be one of {sorted(PULL_ERRORS)}")
        self.unpullable_images.append((pattern, why))

    def kill(self, namespace: str, name: str) -> None:
        runtime = self._runtime(namespace, name)
        for container in runtime.containers:
            if container.alive():
                self._signal(container, signal.SIGKILL)

    def log_text(self, namespace: str, name: str, container: str | None, previous: bool) -> tuple[Path | None, Callable[[], bool]]:
        """The log file to serve and whether that container is still writing to it."""
        pod = self.store.get(PODS, namespace, name)
        names = [c["name"] for c in pod["spec"]["containers"]]
        init_names = [c["name"] for c in pod["spec"].get("initContainers") or []]
        if container is None:
            if len(names) != 1:
                message = f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]"
                if init_names:
                    message += f" or one of the init containers: [{' '.join(init_names)}]"
                raise errors.bad_request(message)
            container = names[0]
        runtime = self.pods.get(pod["metadata"]["uid"])
        found = next((c for c in runtime.containers if c.name == container), None) if runtime else None
        if found is None and container not in names + init_names:
            raise errors.bad_request(f"container {container} is not valid for pod {name}")
        if found is None or not found.logs:
            reason = (found.state.get("waiting") or {}).get("reason", "ContainerCreating") if found else "ContainerCreating"
            raise errors.bad_request(f'container "{container}" in pod "{name}" is waiting to start: {reason}')
        if previous:
            if len(found.logs) < 2:
                raise errors.bad_request(f'previous terminated container "{container}" in pod "{name}" not found')
            return found.logs[-2], lambda: False
        return found.logs[-1], found.alive

    def processes(self) -> list[int]:
        """Live pids in the process groups of every container this kubelet started."""
        groups = {pid for runtime in [*self.pods.values(), *self._gone] for pid in runtime.groups()}
        live = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if fields[0] != "Z" and int(fields[2]) in groups:
                live.append(int(entry.name))
        return sorted(live)

    # ------------------------------------------------------------------- sync
    def _runtime(self, namespace: str, name: str) -> PodRuntime:
        for runtime in self.pods.values():
            if (runtime.namespace, runtime.name) == (namespace, name):
                return runtime
        raise errors.not_found("pods", name, "")

    def sync(self) -> None:
        pods = {p["metadata"]["uid"]: p for p in self.store.list(PODS)["items"]}
        for uid, runtime in list(self.pods.items()):
            if uid not in pods:  # force-deleted or removed: stop what still runs
                del self.pods[uid]
                self._begin_stop(runtime, self.grace_cap)
                self._gone.append(runtime)
        for runtime in list(self._gone):
            if self._finish_stop(runtime):
                self._gone.remove(runtime)
                shutil.rmtree(runtime.root, ignore_errors=True)
        for uid, pod in pods.items():
            runtime = self.pods.get(uid) or self._schedule(pod)
            if "deletionTimestamp" in pod["metadata"]:
                grace = float(pod["metadata"].get("deletionGracePeriodSeconds") or 0)
                if runtime.stop_deadline is None:
                    self._begin_stop(runtime, grace)
                if self._finish_stop(runtime):
                    self.store.remove(PODS, runtime.namespace, runtime.name)
                    del self.pods[uid]
                    shutil.rmtree(runtime.root, ignore_errors=True)
                continue
            self._step(runtime, pod)
            self._publish(runtime, pod)

    def _schedule(self, pod: Obj) -> PodRuntime:
        meta = pod["metadata"]
        spec = pod["spec"]
        runtime = PodRuntime(
            namespace=meta["namespace"],
            name=meta["name"],
            uid=meta["uid"],
            ip=self.addresses.pod_ip(),
            root=self.root / f"{meta['namespace']}_{meta['name']}_{meta['uid'][:8]}",
            containers=[Container(c, True) for c in spec.get("initContainers") or []] + [Container(c, False) for c in spec["containers"]],
            started_at=now(),
        )
        (runtime.root / "logs").mkdir(parents=True)
        self.pods[meta["uid"]] = runtime

        def place(obj: Obj) -> None:
            obj["spec"]["nodeName"] = "fake-node"
            obj["status"].update(hostIP="127.0.0.1", hostIPs=[{"ip": "127.0.0.1"}], podIP=runtime.ip, podIPs=[{"ip": runtime.ip}], startTime=runtime.started_at)

        self.store.mutate(PODS, runtime.namespace, runtime.name, place)
        self.event(pod, "Scheduled", f"Successfully assigned {runtime.namespace}/{runtime.name} to fake-node", component="default-scheduler")
        return runtime

    # --------------------------------------------------------------- volumes
    def _volumes(self, runtime: PodRuntime, pod: Obj) -> dict[str, Path]:
        """Materialise every volume; raises ContainerConfigError (FailedMount) if one cannot be."""
        base = runtime.root / "volumes"
        dirs: dict[str, Path] = {}
        for volume in pod["spec"].get("volumes") or []:
            target = base / volume["name"]
            target.mkdir(parents=True, exist_ok=True)
            if "emptyDir" in volume:
                pass
            elif "configMap" in volume or "secret" in volume:
                self._write_source(runtime.namespace, volume, target)
            elif "projected" in volume:
                for source in volume["projected"].get("sources") or []:
                    self._write_source(runtime.namespace, source, target)
            else:
                kind = next((k for k in volume if k != "name"), "unknown")
                raise ContainerConfigError("FailedMount", f'MountVolume.SetUp failed for volume "{volume["name"]}" : the fake kubelet does not support {kind} volumes')
            dirs[volume["name"]] = target
        sa_dir = runtime.root / "serviceaccount"
        if pod["spec"].get("automountServiceAccountToken", True):
            sa_dir.mkdir(exist_ok=True)
            kubeconfig, token = self.pod_kubeconfig(pod, runtime.root)
            runtime.kubeconfig = kubeconfig
            (sa_dir / "token").write_text(token)
            (sa_dir / "namespace").write_text(runtime.namespace)
            (sa_dir / "ca.crt").write_text("")
            dirs[SA_DIR] = sa_dir
        return dirs

    def _write_source(self, namespace: str, source: Obj, target: Path) -> None:
        is_secret = "secret" in source
        ref = source["secret"] if is_secret else source["configMap"]
        name = ref.get("secretName") or ref.get("name")
        obj = self.store.find(SECRETS if is_secret else CONFIGMAPS, namespace, name)
        if obj is None:
            if ref.get("optional"):
                return
            kind = "secret" if is_secret else "configmap"
            raise ContainerConfigError("FailedMount", f'MountVolume.SetUp failed for volume "{source.get("name", name)}" : {kind} "{name}" not found')
        files: dict[str, bytes] = {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()} if is_secret else {k: v.encode() for k, v in (obj.get("data") or {}).items()}
        if not is_secret:
            files.update({k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
        items = ref.get("items")
        chosen = [(i["key"], i["path"]) for i in items] if items else [(k, k) for k in files]
        for key, path in chosen:
            if key not in files:
                if ref.get("optional"):
                    continue
                raise ContainerConfigError("FailedMount", f"MountVolume.SetUp failed: configmap references non-existent config key: {key}")
            out = target / path
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(files[key])

    # ----------------------------------------------------------------- start
    def _env(self, runtime: PodRuntime, pod: Obj, spec: Obj, image: Image) -> dict[str, str]:
        env: dict[str, str] = {"PATH": f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin", "HOME": str(runtime.root / "home"), "HOSTNAME": pod["spec"].get("hostname") or runtime.name[:63], "LANG": "C.UTF-8"}
        (runtime.root / "home").mkdir(exist_ok=True)
        if pod["spec"].get("enableServiceLinks", True):
            for service in self.store.list(SERVICES, runtime.namespace)["items"]:
                ip = service["spec"].get("clusterIP")
                ports = service["spec"].get("ports") or []
                if not ip or ip == "None" or not ports:
                    continue
                prefix = service["metadata"]["name"].upper().replace("-", "_")
                env[f"{prefix}_SERVICE_HOST"] = ip
                env[f"{prefix}_SERVICE_PORT"] = str(ports[0]["port"])
                for port in ports:
                    if port.get("name"):
                        env[f"{prefix}_SERVICE_PORT_{port['name'].upper().replace('-', '_')}"] = str(port["port"])
        env.update(KUBERNETES_SERVICE_HOST=self.api_host, KUBERNETES_SERVICE_PORT=str(self.api_port), KUBERNETES_PORT=f"tcp://{self.api_host}:{self.api_port}")
        if runtime.kubeconfig is not None:
            env["KUBECONFIG"] = str(runtime.kubeconfig)
        env.update(image.env)
        for source in spec.get("envFrom") or []:
            prefix = source.get("prefix", "")
            is_secret = "secretRef" in source
            ref = source["secretRef"] if is_secret else source["configMapRef"]
            data = self._lookup(runtime.namespace, is_secret, ref["name"], None, ref.get("optional", False))
            env.update({prefix + k: v for k, v in (data or {}).items()})
        for var in spec.get("env") or []:
            value = self._env_value(runtime, pod, var, env)
            if value is not None:
                env[var["name"]] = value
        return env

    def _lookup(self, namespace: str, is_secret: bool, name: str, key: str | None, optional: bool) -> Any:
        kind = "Secret" if is_secret else "ConfigMap"
        obj = self.store.find(SECRETS if is_secret else CONFIGMAPS, namespace, name)
        if obj is None:
            if optional:
                return None
            raise ContainerConfigError("CreateContainerConfigError", f'{kind.lower()} "{name}" not found')
        data = {k: base64.b64decode(v).decode() for k, v in (obj.get("data") or {}).items()} if is_secret else dict(obj.get("data") or {})
        if key is None:
            return data
        if key not in data:
            if optional:
                return None
            raise ContainerConfigError("CreateContainerConfigError", f"couldn't find key {key} in {kind} {namespace}/{name}")
        return data[key]

    def _env_value(self, runtime: PodRuntime, pod: Obj, var: Obj, env: dict[str, str]) -> str | None:
        if "valueFrom" not in var:
            return _expand(str(var.get("value", "")), env)
        source = var["valueFrom"]
        if "fieldRef" in source:
            path = source["fieldRef"]["fieldPath"]
            meta = pod["metadata"]
            if match := re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path):
                return (meta.get(match.group(1)) or {}).get(match.group(2), "")
            values = {
                "metadata.name": meta["name"],
                "metadata.namespace": meta["namespace"],
                "metadata.uid": meta["uid"],
                "spec.nodeName": "fake-node",
                "spec.serviceAccountName": pod["spec"].get("serviceAccountName", "default"),
                "status.podIP": runtime.ip,
                "status.podIPs": runtime.ip,
                "status.hostIP": "127.0.0.1",
                "status.hostIPs": "127.0.0.1",
            }
            if path not in values:
                raise ContainerConfigError("CreateContainerConfigError", f"the fake kubelet does not support fieldRef {path}")
            return values[path]
        for ref_name, is_secret in (("secretKeyRef", True), ("configMapKeyRef", False)):
            if ref_name in source:
                ref = source[ref_name]
                return self._lookup(runtime.namespace, is_secret, ref["name"], ref["key"], ref.get("optional", False))
        raise ContainerConfigError("CreateContainerConfigError", f"the fake kubelet does not support valueFrom {sorted(source)}")

    def _image(self, name: str) -> Image:
        repo = re.sub(r"(@sha256:[0-9a-f]+|:[^/:]+)$", "", name)
        return self.images.get(name) or self.images.get(repo) or Image()

    def _argv(self, spec: Obj, image: Image) -> list[str]:
        if spec.get("command"):
            argv = list(spec["command"]) + list(spec.get("args") or [])
        elif image.entrypoint or image.cmd:
            argv = image.entrypoint + (list(spec["args"]) if spec.get("args") is not None else image.cmd)
        else:
            raise ContainerConfigError("CreateContainerError", f'the fake kubelet has no entrypoint for image "{spec.get("image")}": give the container a command or register the image')
        program = argv[0]
        if re.fullmatch(r"python(3(\.\d+)?)?", Path(program).name):
            argv[0] = sys.executable
        elif program.startswith("/") and not Path(program).exists() and (VENV_BIN / Path(program).name).exists():
            argv[0] = str(VENV_BIN / Path(program).name)
        return argv

    def _start(self, runtime: PodRuntime, pod: Obj, container: Container) -> None:
        spec = container.spec
        image_name = spec.get("image", "")
        if image_name in self.failing_images:
            reason, message = self.failing_images[image_name]
            raise ContainerConfigError(reason, message)
        image = self._image(image_name)
        assert runtime.volumes is not None
        mounts: list[tuple[str, Path]] = []
        for mount in spec.get("volumeMounts") or []:
            base = runtime.volumes.get(mount["name"])
            if base is None:
                raise ContainerConfigError("CreateContainerConfigError", f'volumeMount "{mount["name"]}" refers to no volume of the pod')
            target = base / mount["subPath"] if mount.get("subPath") else base
            mounts.append((mount["mountPath"].rstrip("/") or "/", target))
        if SA_DIR in runtime.volumes:
            mounts.append((SA_DIR, runtime.volumes[SA_DIR]))
        mounts.sort(key=lambda m: len(m[0]), reverse=True)
        hosts = HostRewriter(self.store, runtime.namespace, runtime.ip)

        def rewrite(text: str) -> str:
            for mount_path, target in mounts:
                text = re.sub(rf"(?<![A-Za-z0-9_./-]){re.escape(mount_path)}(?=/|$|[^A-Za-z0-9_.-])", lambda _m, t=str(target): t, text)
            return hosts(text)

        env = self._env(runtime, pod, spec, image)
        argv = [rewrite(_expand(arg, env)) for arg in self._argv(spec, image)]
        env = {k: rewrite(v) for k, v in env.items()}
        workdir_spec = spec.get("workingDir") or image.workdir
        cwd = Path(rewrite(workdir_spec)) if workdir_spec else runtime.root / "rootfs"
        if workdir_spec and str(cwd) == workdir_spec:
            cwd = runtime.root / "rootfs" / workdir_spec.lstrip("/")
        cwd.mkdir(parents=True, exist_ok=True)
        log = runtime.root / "logs" / f"{container.name}-{container.restarts}.log"
        with log.open("wb") as out:
            try:
                container.proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
            except OSError as err:
                raise ContainerConfigError("RunContainerError", f"failed to start container: exec: {argv[0]!r}: {err.strerror}") from err
        container.logs.append(log)
        container.state = {"running": {"startedAt": now()}}
        self.event(pod, "Pulled", f'Container image "{image_name}" already present on machine')
        self.event(pod, "Created", f"Created container {container.name}")
        self.event(pod, "Started", f"Started container {container.name}")

    # ------------------------------------------------------------------ step
    def _step(self, runtime: PodRuntime, pod: Obj) -> None:
        if runtime.volumes is None:
            try:
                runtime.volumes = self._volumes(runtime, pod)
            except ContainerConfigError as err:
                self._report_once(runtime, pod, "FailedMount", err.message, "Warning")
                return
        policy = pod["spec"].get("restartPolicy", "Always")
        for container in runtime.containers:
            self._reap(runtime, pod, container, policy)
        inits = [c for c in runtime.containers if c.init]
        pending_init = next((c for c in inits if not (c.exited and c.state["terminated"]["exitCode"] == 0)), None)
        if pending_init is not None:
            if pending_init.exited:  # failed with restartPolicy Never: the pod has failed
                return
            to_start = [pending_init]
        else:
            to_start = [c for c in runtime.containers if not c.init]
        for container in to_start:
            if container.proc is None and self._cannot_pull(pod, container):
                continue
            if container.proc is None or (not container.alive() and not container.exited and time.monotonic() >= container.restart_at and "waiting" in container.state):
                if container.proc is not None:
                    container.restarts += 1
                try:
                    self._start(runtime, pod, container)
                except ContainerConfigError as err:
                    container.state = {"waiting": {"reason": err.reason, "message": err.message}}
                    self._report_once(runtime, pod, "Failed" if "Image" in err.reason or "Container" in err.reason else err.reason, err.message, "Warning")

    def _cannot_pull(self, pod: Obj, container: Container) -> bool:
        """The pull cycle of an image matching ``unpullable``: True while the container waits."""
        image = container.spec.get("image", "")
        ref = image_reference(image)
        why = next((w for pattern, w in self.unpullable_images if fnmatch.fnmatchcase(image, pattern) or fnmatch.fnmatchcase(ref, pattern)), None)
        if why is None:
            return False
        clock = time.monotonic()
        reason = (container.state.get("waiting") or {}).get("reason")
        if reason == "ErrImagePull" and clock >= container.pull_next:
            container.state = {"waiting": {"reason": "ImagePullBackOff", "message": f'Back-off pulling image "{image}"'}}
            container.pull_next = clock + min(2.0 ** (container.pull_failures - 1), 5.0)
            self.event(pod, "BackOff", f'Back-off pulling image "{image}"')
            self.event(pod, "Failed", "Error: ImagePullBackOff", "Warning")
        elif reason not in ("ErrImagePull", "ImagePullBackOff") or clock >= container.pull_next:
            message = PULL_ERRORS[why].format(ref=ref)
            container.state = {"waiting": {"reason": "ErrImagePull", "message": message}}
            container.pull_failures += 1
            container.pull_next = clock + 1.0  # shown until the next pod sync, about a second
            self.event(pod, "Pulling", f'Pulling image "{image}"')
            self.event(pod, "Failed", f'Failed to pull image "{image}": {message}', "Warning")
            self.event(pod, "Failed", "Error: ErrImagePull", "Warning")
        return True

    def _reap(self, runtime: PodRuntime, pod: Obj, container: Container, policy: str) -> None:
        if container.proc is None or "running" not in container.state:
            return
        code = container.proc.poll()
        if code is None:
            return
        exit_code = 128 - code if code < 0 else code
        terminated = {
            "exitCode": exit_code,
            "reason": "Completed" if exit_code == 0 else "Error",
            "startedAt": container.state["running"]["startedAt"],
            "finishedAt": now(),
            "containerID": f"fake://{container.proc.pid}",
        }
        restart = policy == "Always" or (policy == "OnFailure" and exit_code != 0)
        if container.init and exit_code == 0:
            restart = False
        if restart:
            container.last_state = {"terminated": terminated}
            delay = min(0.5 * 2**container.restarts, 5.0)
            container.restart_at = time.monotonic() + delay
            container.state = {"waiting": {"reason": "CrashLoopBackOff", "message": f"back-off {delay:g}s restarting failed container={container.name} pod={runtime.name}_{runtime.namespace}({runtime.uid})"}}
            self.event(pod, "BackOff", "Back-off restarting failed container", "Warning")
        else:
            container.state = {"terminated": terminated}
            container.exited = True

    def _report_once(self, runtime: PodRuntime, pod: Obj, reason: str, message: str, kind: str) -> None:
        if f"{reason}: {message}" not in runtime.reported:
            runtime.reported.add(f"{reason}: {message}")
            self.event(pod, reason, message, kind)

    # --------------------------------------------------------------- status
    def _condition(self, runtime: PodRuntime, kind: str, ok: bool) -> Obj:
        status = "True" if ok else "False"
        previous = runtime.transitions.get(kind)
        if previous is None or previous[0] != status:
            runtime.transitions[kind] = (status, now())
        return {"type": kind, "status": status, "lastProbeTime": None, "lastTransitionTime": runtime.transitions[kind][1]}

    def _publish(self, runtime: PodRuntime, pod: Obj) -> None:
        regular = [c for c in runtime.containers if not c.init]
        inits = [c for c in runtime.containers if c.init]
        init_failed = any(c.exited and c.state["terminated"]["exitCode"] != 0 for c in inits)
        initialized = all(c.exited and c.state["terminated"]["exitCode"] == 0 for c in inits)
        if init_failed:
            phase = "Failed"
        elif regular and all(c.exited for c in regular):
            phase = "Succeeded" if all(c.state["terminated"]["exitCode"] == 0 for c in regular) else "Failed"
        elif initialized and any(c.proc is not None for c in regular):
            phase = "Running"
        else:
            phase = "Pending"
        ready = phase == "Running" and all(c.alive() for c in regular)

        def status_of(c: Container) -> Obj:
            return {
                "name": c.name,
                "image": c.spec.get("image", ""),
                "imageID": "",
                "ready": c.alive() and not c.init,
                "started": c.alive(),
                "restartCount": c.restarts,
                "state": c.state,
                "lastState": c.last_state,
                **({"containerID": f"fake://{c.proc.pid}"} if c.proc else {}),
            }

        conditions = [
            self._condition(runtime, "PodReadyToStartContainers", runtime.volumes is not None),
            self._condition(runtime, "Initialized", initialized),
            self._condition(runtime, "Ready", ready),
            self._condition(runtime, "ContainersReady", ready),
            self._condition(runtime, "PodScheduled", True),
        ]

        def update(obj: Obj) -> None:
            status = obj.setdefault("status", {})
            status.update(phase=phase, conditions=conditions, containerStatuses=[status_of(c) for c in regular])
            if inits:
                status["initContainerStatuses"] = [status_of(c) for c in inits]

        self.store.mutate(PODS, runtime.namespace, runtime.name, update)

    # ------------------------------------------------------------------ stop
    def _signal(self, container: Container, sig: signal.Signals) -> None:
        assert container.proc is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(container.proc.pid, sig)

    def _begin_stop(self, runtime: PodRuntime, grace: float) -> None:
        runtime.stop_deadline = time.monotonic() + min(grace, self.grace_cap)
        for container in runtime.containers:
            if container.alive():
                self._signal(container, signal.SIGTERM)

    def _finish_stop(self, runtime: PodRuntime) -> bool:
        """SIGKILL what outlived the grace period; True once no process of the pod is left."""
        assert runtime.stop_deadline is not None
        for container in runtime.containers:
            if container.proc is not None:
                container.proc.poll()  # reap the leader, so a dead group does not look alive
        running = [c for c in runtime.containers if c.proc is not None and self._group_alive(c.proc.pid)]
        if running and time.monotonic() >= runtime.stop_deadline:
            for container in running:
                self._signal(container, signal.SIGKILL)
        return not running

    @staticmethod
    def _group_alive(pgid: int) -> bool:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True

    def stop(self) -> None:
        """Stop every pod's processes (SIGTERM, SIGKILL after ``grace_cap``) and wait for them."""
        runtimes = [*self.pods.values(), *self._gone]
        for runtime in runtimes:
            self._begin_stop(runtime, self.grace_cap)
        deadline = time.monotonic() + self.grace_cap + 5
        while time.monotonic() < deadline and not all(self._finish_stop(r) for r in runtimes):
            time.sleep(0.05)
        for runtime in runtimes:
            for container in runtime.containers:
                if container.proc is not None:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        container.proc.wait(timeout=1)
        self.pods.clear()
        self._gone.clear()
