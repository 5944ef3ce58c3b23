"""Authentication by bearer token and authorization: test-imposed denials plus RBAC.

* The default kubeconfig user (``kubernetes-admin``, group ``system:masters``) may do
  everything, except what a test denied with ``deny(verb, resource)``.
* Every other identity is authorized by RBAC, as on a real cluster: ordinary users
  (``FakeCluster.user_kubeconfig``, each with its own bearer token, groups
  ``system:authenticated``) and service accounts (a pod's token is in the pod's kubeconfig;
  ``system:serviceaccount:<ns>:<name>``, groups ``system:serviceaccounts``,
  ``system:serviceaccounts:<ns>``, ``system:authenticated``). Roles and ClusterRoles bound by
  RoleBindings (in the request's namespace) and ClusterRoleBindings to a ``User``, ``Group``
  or ``ServiceAccount`` subject; rules match on apiGroups, resources (``pods/log`` style
  subresources, ``*``), verbs and resourceNames. The built-in ``admin``/``edit``/``view``
  roles exist, aggregated (see ``bootstrap_policy``); the ``system:*`` controller roles do not.
  Discovery (``/api``, ``/apis``, ``/version``) is open to every authenticated user, as
  ``system:discovery`` makes it upstream.
* A missing or unknown token is 401; a denial is 403 Forbidden with the real message.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass

from . import errors
from .resources import CLUSTERROLEBINDINGS, CLUSTERROLES, ROLEBINDINGS, ROLES, ResourceType
from .store import Obj, Store

MASTERS = "system:masters"
"""The group RBAC never consults: its members are authorized for everything."""


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...] = ("system:authenticated",)
    service_account: tuple[str, str] | None = None  # (namespace, name)


@dataclass(frozen=True)
class Denial:
    verb: str
    resource: str
    namespace: str | None


class Authorizer:
    def __init__(self, store: Store, rbac: bool) -> None:
        self.store = store
        self.rbac = rbac
        self.admin_token = secrets.token_hex(16)
        self._tokens: dict[str, User] = {self.admin_token: User("kubernetes-admin", (MASTERS, "system:authenticated"))}
        self._lock = threading.Lock()
        self.denials: list[Denial] = []

    def token_for(self, namespace: str, account: str) -> str:
        """A stable token for a service account (what the token controller would mint)."""
        groups = ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated")
        return self._token(User(f"system:serviceaccount:{namespace}:{account}", groups, (namespace, account)))

    def token_for_user(self, name: str, groups: tuple[str, ...] = ()) -> str:
        """A stable bearer token for an ordinary user (what an OIDC or static-token setup gives)."""
        return self._token(User(name, (*groups, "system:authenticated")))

    def _token(self, user: User) -> str:
        with self._lock:
            for token, known in self._tokens.items():
                if known == user:
                    return token
            token = secrets.token_hex(16)
            self._tokens[token] = user
            return token

    def authenticate(self, header: str | None) -> User:
        token = (header or "").removeprefix("Bearer ").strip()
        with self._lock:
            user = self._tokens.get(token)
        if user is None:
            raise errors.unauthorized()
        return user

    def authorize(self, user: User, verb: str, rt: ResourceType, subresource: str | None, namespace: str | None, name: str | None) -> None:
        resource = f"{rt.plural}/{subresource}" if subresource else rt.plural
        names = {resource, "*", f"{rt.qualified}/{subresource}" if subresource else rt.qualified}
        for denial in self.denials:
            if denial.verb in (verb, "*") and denial.resource in names and denial.namespace in (None, namespace):
                self._forbid(user, verb, rt, resource, namespace, name)
        if MASTERS not in user.groups and self.rbac and not self._rbac_allows(user, verb, rt.group, resource, namespace, name):
            self._forbid(user, verb, rt, resource, namespace, name)

    def _forbid(self, user: User, verb: str, rt: ResourceType, resource: str, namespace: str | None, name: str | None) -> None:
        scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
        why = f'User "{user.name}" cannot {verb} resource "{resource}" in API group "{rt.group}" {scope}'
        raise errors.forbidden(rt.qualified, name or "", rt.group, why)

    def _rbac_allows(self, user: User, verb: str, group: str, resource: str, namespace: str | None, name: str | None) -> bool:
        def names_user(subject: Obj, binding: Obj) -> bool:
            kind = subject.get("kind")
            if kind == "ServiceAccount":
                return user.service_account == (subject.get("namespace", binding["metadata"].get("namespace")), subject.get("name"))
            return (kind == "User" and subject.get("name") == user.name) or (kind == "Group" and subject.get("name") in user.groups)

        def binds(binding: Obj) -> bool:
            return any(names_user(s, binding) for s in binding.get("subjects") or [])

        roles: list[Obj] = []
        bindings = [(b, None) for b in self.store.list(CLUSTERROLEBINDINGS)["items"]]
        if namespace:
            bindings += [(b, namespace) for b in self.store.list(ROLEBINDINGS, namespace)["items"]]
        for binding, binding_ns in bindings:
            if not binds(binding):
                continue
            ref = binding.get("roleRef") or {}
            role = self.store.find(ROLES, binding_ns, ref.get("name", "")) if ref.get("kind") == "Role" and binding_ns else self.store.find(CLUSTERROLES, None, ref.get("name", "")) if ref.get("kind") == "ClusterRole" else None
            if role is not None:
                roles.append(role)
        plural = resource.split("/")[0]
        for role in roles:
            for rule in role.get("rules") or []:
                if not ({group, "*"} & set(rule.get("apiGroups") or [])):
                    continue
                if not ({resource, "*", f"{plural}/*"} & set(rule.get("resources") or [])) and not ("*/" + resource.partition("/")[2] in (rule.get("resources") or []) and "/" in resource):
                    continue
                if not ({verb, "*"} & set(rule.get("verbs") or [])):
                    continue
                names = rule.get("resourceNames") or []
                if names and (not name or name not in names):
                    continue
                return True
        return False
