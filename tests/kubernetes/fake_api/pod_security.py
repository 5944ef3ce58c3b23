"""Pod Security admission (the built-in ``PodSecurity`` plugin), enforce mode.

A namespace labelled ``pod-security.kubernetes.io/enforce: restricted`` (or ``baseline``)
refuses pods that break that level of the Pod Security Standards, with the real message::

    pods "x" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false
    (container "c" must set securityContext.allowPrivilegeEscalation=false), ...

Checks run in the order of their upstream check IDs and restricted checks replace the baseline
ones they tighten, as in ``k8s.io/pod-security-admission/policy``. Implemented: host
namespaces, privileged, capabilities, hostPath/restricted volume types, hostPort,
allowPrivilegeEscalation, runAsNonRoot, runAsUser=0, seccompProfile. Not implemented: AppArmor,
SELinux, procMount, sysctls, probes' host field, Windows host process, ``audit``/``warn`` modes
(their warnings), exemptions, and the ``enforce-version`` label (every level is ``latest``).
Only Pods are checked; the real plugin only warns on workload objects such as Jobs, so a
refused Job pod shows as the Job controller's ``FailedCreate`` event.
"""

from __future__ import annotations

from collections.abc import Callable

from . import errors
from .resources import NAMESPACES, PODS, ResourceType
from .store import Obj, Store

ENFORCE = "pod-security.kubernetes.io/enforce"
LEVELS = ("privileged", "baseline", "restricted")
RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}


def _quote(names: list[str]) -> str:
    return ", ".join(f'"{n}"' for n in names)


def _containers(pod: Obj) -> list[Obj]:
    spec = pod.get("spec", {})
    return [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]


def _plural(names: list[str], singular: str, plural: str) -> str:
    return f"{singular if len(names) == 1 else plural} {_quote(names)}"


def _host_namespaces(pod: Obj) -> str | None:
    spec = pod.get("spec", {})
    found = [f"{field}=true" for field in ("hostNetwork", "hostPID", "hostIPC") if spec.get(field)]
    return f"host namespaces ({', '.join(found)})" if found else None


def _privileged(pod: Obj) -> str | None:
    bad = [c["name"] for c in _containers(pod) if (c.get("securityContext") or {}).get("privileged")]
    return f"privileged ({_plural(bad, 'container', 'containers')} must not set securityContext.privileged=true)" if bad else None


def _host_ports(pod: Obj) -> str | None:
    details = []
    for c in _containers(pod):
        ports = [str(p["hostPort"]) for p in c.get("ports") or [] if p.get("hostPort")]
        if ports:
            details.append(f'container "{c["name"]}" uses {"hostPort" if len(ports) == 1 else "hostPorts"} {", ".join(ports)}')
    return f"hostPort ({'; '.join(details)})" if details else None


def _allow_privilege_escalation(pod: Obj) -> str | None:
    bad = [c["name"] for c in _containers(pod) if (c.get("securityContext") or {}).get("allowPrivilegeEscalation") is not False]
    return f"allowPrivilegeEscalation != false ({_plural(bad, 'container', 'containers')} must set securityContext.allowPrivilegeEscalation=false)" if bad else None


def _capabilities(pod: Obj) -> str | None:
    details, no_drop = [], []
    for c in _containers(pod):
        caps = (c.get("securityContext") or {}).get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            no_drop.append(c["name"])
        added = [a for a in caps.get("add") or [] if a != "NET_BIND_SERVICE"]
        if added:
            details.append(f'container "{c["name"]}" must not include {_quote(added)} in securityContext.capabilities.add')
    if no_drop:
        details.insert(0, f'{_plural(no_drop, "container", "containers")} must set securityContext.capabilities.drop=["ALL"]')
    return f"unrestricted capabilities ({'; '.join(details)})" if details else None


def _restricted_volumes(pod: Obj) -> str | None:
    details = []
    for volume in pod.get("spec", {}).get("volumes") or []:
        kind = next((k for k in volume if k != "name"), "")
        if kind not in RESTRICTED_VOLUMES:
            details.append(f'volume "{volume["name"]}" uses restricted volume type "{kind}"')
    return f"restricted volume types ({'; '.join(details)})" if details else None


def _host_path_volumes(pod: Obj) -> str | None:
    bad = [v["name"] for v in pod.get("spec", {}).get("volumes") or [] if "hostPath" in v]
    return f"hostPath volumes ({_plural(bad, 'volume', 'volumes')})" if bad else None


def _run_as_non_root(pod: Obj) -> str | None:
    pod_value = (pod.get("spec", {}).get("securityContext") or {}).get("runAsNonRoot")
    details = []
    if pod_value is False:
        details.append("pod must not set securityContext.runAsNonRoot=false")
    explicit_false = [c["name"] for c in _containers(pod) if (c.get("securityContext") or {}).get("runAsNonRoot") is False]
    if explicit_false:
        details.append(f"{_plural(explicit_false, 'container', 'containers')} must not set securityContext.runAsNonRoot=false")
    unset = [c["name"] for c in _containers(pod) if (c.get("securityContext") or {}).get("runAsNonRoot") is None]
    if pod_value is None and unset:
        details.append(f"pod or {_plural(unset, 'container', 'containers')} must set securityContext.runAsNonRoot=true")
    return f"runAsNonRoot != true ({'; '.join(details)})" if details else None


def _run_as_user(pod: Obj) -> str | None:
    details = []
    if (pod.get("spec", {}).get("securityContext") or {}).get("runAsUser") == 0:
        details.append("pod must not set runAsUser=0")
    root = [c["name"] for c in _containers(pod) if (c.get("securityContext") or {}).get("runAsUser") == 0]
    if root:
        details.append(f"{_plural(root, 'container', 'containers')} must not set runAsUser=0")
    return f"runAsUser=0 ({'; '.join(details)})" if details else None


def _seccomp(pod: Obj) -> str | None:
    pod_type = ((pod.get("spec", {}).get("securityContext") or {}).get("seccompProfile") or {}).get("type")
    details = []
    if pod_type is not None and pod_type not in ("RuntimeDefault", "Localhost"):
        details.append(f'pod must not set securityContext.seccompProfile.type to "{pod_type}"')
    bad: dict[str, list[str]] = {}
    unset = []
    for c in _containers(pod):
        kind = ((c.get("securityContext") or {}).get("seccompProfile") or {}).get("type")
        if kind is None:
            unset.append(c["name"])
        elif kind not in ("RuntimeDefault", "Localhost"):
            bad.setdefault(kind, []).append(c["name"])
    for kind, names in bad.items():
        details.append(f'{_plural(names, "container", "containers")} must not set securityContext.seccompProfile.type to "{kind}"')
    if unset and pod_type is None:
        details.append(f'pod or {_plural(unset, "container", "containers")} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"')
    return f"seccompProfile ({'; '.join(details)})" if details else None


Check = Callable[[Obj], str | None]
# (check ID, level, check) in check-ID order; the restricted ones replace the baseline
# hostPathVolumes check (restrictedVolumes covers it) as upstream's overrides do.
CHECKS: list[tuple[str, str, Check]] = [
    ("allowPrivilegeEscalation", "restricted", _allow_privilege_escalation),
    ("capabilities_restricted", "restricted", _capabilities),
    ("hostNamespaces", "baseline", _host_namespaces),
    ("hostPathVolumes", "baseline", _host_path_volumes),
    ("hostPorts", "baseline", _host_ports),
    ("privileged", "baseline", _privileged),
    ("restrictedVolumes", "restricted", _restricted_volumes),
    ("runAsNonRoot", "restricted", _run_as_non_root),
    ("runAsUser", "restricted", _run_as_user),
    ("seccompProfile_restricted", "restricted", _seccomp),
]
OVERRIDDEN_IN_RESTRICTED = {"hostPathVolumes"}


class PodSecurity:
    """The validating admission plugin; the store calls it for every create."""

    def __call__(self, store: Store, rt: ResourceType, obj: Obj) -> None:
        if rt != PODS:
            return
        namespace = store.find(NAMESPACES, None, obj["metadata"]["namespace"])
        level = ((namespace or {}).get("metadata", {}).get("labels") or {}).get(ENFORCE, "privileged")
        if level not in LEVELS or level == "privileged":
            return
        wanted = LEVELS[: LEVELS.index(level) + 1]
        failures = []
        for check_id, check_level, check in CHECKS:
            if check_level not in wanted or (level == "restricted" and check_id in OVERRIDDEN_IN_RESTRICTED):
                continue
            if (failure := check(obj)) is not None:
                failures.append(failure)
        if failures:
            why = f'violates PodSecurity "{level}:latest": {", ".join(failures)}'
            raise errors.forbidden(PODS.qualified, obj["metadata"]["name"], PODS.group, why)
