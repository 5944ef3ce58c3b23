"""The object store: what etcd plus the generic registry do for every resource.

Create (uid, resourceVersion, creationTimestamp, generation, generateName, 409 on a
duplicate, 404 into a missing namespace, 403 into a terminating one), get, list (label and
field selectors, limit/continue), update (optimistic concurrency on resourceVersion, the
status subresource split, generation bumps), patch, delete (propagation policies, finalizers,
graceful pod deletion) and deletecollection. Controllers and the kubelet use the same
methods, so everything they do is visible through the API with new resourceVersions.
"""

from __future__ import annotations

import base64
import copy
import json
import secrets as random_tokens
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from . import errors
from .patch import json_patch, merge_patch, strategic_merge_patch
from .resources import BUILTIN, CRD, NAMESPACES, ResourceType, from_crd
from .selectors import parse_field_selector, parse_label_selector
from .validation import validate

Obj = dict[str, Any]
ObjKey = tuple[str, str, str, str]  # group, plural, namespace ("" if cluster-scoped), name

FOREGROUND = "foregroundDeletion"
PATCH_TYPES = {
    "application/merge-patch+json": merge_patch,
    "application/strategic-merge-patch+json": strategic_merge_patch,
    "application/json-patch+json": json_patch,
}


def now() -> str:
    """RFC 3339 with second precision, as metav1.Time serialises."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def random_suffix(length: int = 5) -> str:
    """The apiserver's generateName suffix alphabet (no vowels, no confusable characters)."""
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    return "".join(random_tokens.choice(alphabet) for _ in range(length))


@dataclass
class AuditEntry:
    """One create or delete, for tests that assert what a run left behind (or not)."""

    verb: str
    kind: str
    namespace: str
    name: str


class Store:
    """Thread-safe object store; ``changed`` is notified on every write so controllers react fast."""

    def __init__(self, admit: Callable[[Store, ResourceType, Obj], None] | None = None, verify: Callable[[Store, ResourceType, Obj], None] | None = None) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self._objects: dict[ObjKey, Obj] = {}
        self._rv = 0
        self._admit = admit  # defaulting and mutating admission, before validation
        self._verify = verify  # validating admission, after it
        self.audit: list[AuditEntry] = []

    # ----------------------------------------------------------------- types
    def resolve(self, group: str, version: str, plural: str) -> ResourceType | None:
        """The resource type served at this URL, including custom ones from stored CRDs."""
        for rt in self.served_types():
            if (rt.group, rt.version, rt.plural) == (group, version, plural):
                return rt
        return None

    def served_types(self) -> list[ResourceType]:
        with self.lock:
            types = list(BUILTIN)
            for crd in self._iter(CRD):
                if "deletionTimestamp" not in crd["metadata"]:
                    types.extend(from_crd(crd))
            return types

    def type_of(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        return next((t for t in self.served_types() if (t.group, t.version, t.kind) == (group, version, kind)), None)

    # ------------------------------------------------------------- internals
    def _key(self, rt: ResourceType, namespace: str | None, name: str) -> ObjKey:
        return (rt.group, rt.plural, (namespace or "") if rt.namespaced else "", name)

    def _iter(self, rt: ResourceType, namespace: str | None = None) -> Iterator[Obj]:
        for (group, plural, ns, _), obj in list(self._objects.items()):
            if (group, plural) == rt.key and (namespace is None or ns == namespace):
                yield obj

    def _bump(self, obj: Obj) -> None:
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        self.changed.notify_all()

    def _require(self, rt: ResourceType, namespace: str | None, name: str) -> Obj:
        obj = self._objects.get(self._key(rt, namespace, name))
        if obj is None:
            raise errors.not_found(rt.qualified, name, rt.group)
        return obj

    def all_objects(self) -> list[tuple[ResourceType, Obj]]:
        """Every stored object with its type (deep copies), for controllers and assertions."""
        with self.lock:
            by_key = {t.key: t for t in self.served_types()}
            by_key.update({t.key: t for t in BUILTIN})
            out = []
            for (group, plural, _, _), obj in self._objects.items():
                rt = by_key.get((group, plural))
                if rt is not None:
                    out.append((rt, copy.deepcopy(obj)))
            return out

    # ---------------------------------------------------------------- verbs
    def create(self, rt: ResourceType, namespace: str | None, body: Obj, dry_run: bool = False) -> Obj:
        with self.lock:
            obj = copy.deepcopy(body)
            meta = obj.setdefault("metadata", {})
            if not meta.get("name"):
                if not meta.get("generateName"):
                    raise errors.invalid(rt.kind, "", rt.group, [("metadata.name", "Required value: name or generateName is required")])
                meta["name"] = meta["generateName"] + random_suffix()
            if rt.namespaced:
                if meta.get("namespace") not in (None, namespace):
                    raise errors.bad_request("the namespace of the provided object does not match the namespace sent on the request")
                meta["namespace"] = namespace
                ns = self._objects.get(self._key(NAMESPACES, None, namespace or ""))
                if ns is None:
                    raise errors.not_found("namespaces", namespace or "", "")
                if "deletionTimestamp" in ns["metadata"]:
                    why = f"unable to create new content in namespace {namespace} because it is being terminated"
                    raise errors.forbidden(rt.qualified, meta["name"], rt.group, why)
            else:
                meta.pop("namespace", None)
            key = self._key(rt, namespace, meta["name"])
            if key in self._objects:
                raise errors.already_exists(rt.qualified, meta["name"], rt.group)
            obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
            for server_field in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
                meta.pop(server_field, None)
            meta.update(uid=str(uuid.uuid4()), creationTimestamp=now(), generation=1)
            if rt.has_status and rt.custom:
                obj.pop("status", None)  # CRs with a status subresource ignore status on create
            if self._admit:
                self._admit(self, rt, obj)
            validate(rt, obj)
            if self._verify:
                self._verify(self, rt, obj)
            if dry_run:
                return copy.deepcopy(obj)
            self._objects[key] = obj
            self._bump(obj)
            self.audit.append(AuditEntry("create", rt.kind, namespace or "", meta["name"]))
            return copy.deepcopy(obj)

    def get(self, rt: ResourceType, namespace: str | None, name: str) -> Obj:
        with self.lock:
            return copy.deepcopy(self._require(rt, namespace, name))

    def find(self, rt: ResourceType, namespace: str | None, name: str) -> Obj | None:
        with self.lock:
            obj = self._objects.get(self._key(rt, namespace, name))
            return copy.deepcopy(obj) if obj is not None else None

    def list(
        self,
        rt: ResourceType,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
    ) -> Obj:
        labels = parse_label_selector(label_selector)
        fields = parse_field_selector(field_selector, rt.plural)
        with self.lock:
            items = sorted(
                (copy.deepcopy(o) for o in self._iter(rt, namespace) if labels(o) and fields(o)),
                key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]),
            )
            rv = str(self._rv)
        start = int(json.loads(base64.b64decode(continue_token))["start"]) if continue_token else 0
        meta: Obj = {"resourceVersion": rv}
        if limit and start + limit < len(items):
            meta["continue"] = base64.b64encode(json.dumps({"start": start + limit}).encode()).decode()
            meta["remainingItemCount"] = len(items) - start - limit
            items = items[start : start + limit]
        else:
            items = items[start:]
        return {"kind": f"{rt.kind}List", "apiVersion": rt.api_version, "metadata": meta, "items": items}

    def replace(self, rt: ResourceType, namespace: str | None, name: str, body: Obj, subresource: str | None = None) -> Obj:
        with self.lock:
            current = self._require(rt, namespace, name)
            new_name = body.get("metadata", {}).get("name")
            if new_name and new_name != name:
                raise errors.bad_request(f"the name of the object ({new_name}) does not match the name on the URL ({name})")
            wanted_rv = body.get("metadata", {}).get("resourceVersion")
            if wanted_rv and wanted_rv != current["metadata"]["resourceVersion"]:
                raise errors.conflict(rt.qualified, name, rt.group)
            return self._write(rt, current, copy.deepcopy(body), subresource)

    def patch(self, rt: ResourceType, namespace: str | None, name: str, patch: Any, content_type: str, subresource: str | None = None) -> Obj:
        if content_type not in PATCH_TYPES or (rt.custom and content_type == "application/strategic-merge-patch+json"):
            accepted = [t for t in PATCH_TYPES if not (rt.custom and "strategic" in t)]
            raise errors.unsupported_media_type(accepted)
        with self.lock:
            current = self._require(rt, namespace, name)
            patched = PATCH_TYPES[content_type](copy.deepcopy(current), patch)
            wanted_rv = patched.get("metadata", {}).get("resourceVersion")
            if wanted_rv and wanted_rv != current["metadata"]["resourceVersion"]:
                raise errors.conflict(rt.qualified, name, rt.group)
            return self._write(rt, current, patched, subresource)

    def mutate(self, rt: ResourceType, namespace: str | None, name: str, change: Callable[[Obj], None]) -> Obj | None:
        """Controller-side read-modify-write under the lock; no-op (None) if the object is gone."""
        with self.lock:
            current = self._objects.get(self._key(rt, namespace, name))
            if current is None:
                return None
            new = copy.deepcopy(current)
            change(new)
            if new == current:
                return copy.deepcopy(current)
            return self._write(rt, current, new, None, internal=True)

    def _write(self, rt: ResourceType, current: Obj, new: Obj, subresource: str | None, internal: bool = False) -> Obj:
        old_meta = current["metadata"]
        if subresource == "status":
            merged = copy.deepcopy(current)
            merged["status"] = new.get("status", {})
            new = merged
        else:
            meta = new.setdefault("metadata", {})
            for fixed in ("uid", "creationTimestamp", "namespace", "name", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"):
                if fixed in old_meta:
                    meta[fixed] = old_meta[fixed]
                else:
                    meta.pop(fixed, None)
            if rt.has_status and not internal:
                new.pop("status", None)
                if "status" in current:
                    new["status"] = copy.deepcopy(current["status"])
        new["apiVersion"], new["kind"] = rt.api_version, rt.kind
        if rt.plural == "secrets" and new.get("stringData"):  # write-only field, folded into data
            encoded = {k: base64.b64encode(v.encode()).decode() for k, v in new.pop("stringData").items()}
            new["data"] = {**(new.get("data") or {}), **encoded}
        spec_of = lambda o: {k: v for k, v in o.items() if k not in ("metadata", "status", "apiVersion", "kind")}  # noqa: E731
        if spec_of(new) != spec_of(current):
            new["metadata"]["generation"] = old_meta.get("generation", 1) + 1
        validate(rt, new)
        key = self._key(rt, old_meta.get("namespace"), old_meta["name"])
        self._objects[key] = new
        self._bump(new)
        if "deletionTimestamp" in new["metadata"] and not new["metadata"].get("finalizers") and rt.plural not in ("pods", "namespaces"):
            self._remove(key)
        return copy.deepcopy(new)

    def _remove(self, key: ObjKey) -> None:
        obj = self._objects.pop(key, None)
        if obj is not None:
            self._rv += 1
            self.changed.notify_all()
            self.audit.append(AuditEntry("delete", obj["kind"], key[2], key[3]))

    def remove(self, rt: ResourceType, namespace: str | None, name: str) -> None:
        """Final removal, for the kubelet (after a graceful pod stop) and the namespace controller."""
        with self.lock:
            self._remove(self._key(rt, namespace, name))

    def dependents(self, uid: str) -> list[tuple[ResourceType, Obj]]:
        """Objects whose ownerReferences name ``uid``."""
        return [
            (rt, obj)
            for rt, obj in self.all_objects()
            if any(ref.get("uid") == uid for ref in obj["metadata"].get("ownerReferences") or [])
        ]

    def delete(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        propagation: str | None = None,
        grace_period: int | None = None,
        preconditions: Obj | None = None,
    ) -> Obj:
        """Delete as the generic registry does; returns the object if it lingers, else a Status."""
        with self.lock:
            key = self._key(rt, namespace, name)
            obj = self._require(rt, namespace, name)
            meta = obj["metadata"]
            for field in ("uid", "resourceVersion"):
                wanted = (preconditions or {}).get(field)
                if wanted and wanted != meta[field]:
                    raise errors.ApiError(
                        409, "Conflict", f"Operation cannot be fulfilled on {rt.qualified} \"{name}\": Precondition failed: "
                        f"{field.upper() if field == 'uid' else 'ResourceVersion'} in precondition: {wanted}, "
                        f"{field.upper() if field == 'uid' else 'ResourceVersion'} in object meta: {meta[field]}",
                        {"name": name, "group": rt.group, "kind": rt.plural},
                    )
            policy = propagation or default_propagation(rt)
            if policy not in ("Foreground", "Background", "Orphan"):
                raise errors.invalid("DeleteOptions", "", "", [("propagationPolicy", f'Unsupported value: "{policy}": supported values: "Foreground", "Background", "Orphan", "nil"')])
            if policy == "Orphan":
                self._orphan(meta["uid"])
            first_deletion = "deletionTimestamp" not in meta
            if first_deletion:
                meta["deletionTimestamp"] = now()
                meta["deletionGracePeriodSeconds"] = 0
            if policy == "Foreground" and self.dependents(meta["uid"]):
                meta.setdefault("finalizers", [])
                if FOREGROUND not in meta["finalizers"]:
                    meta["finalizers"].append(FOREGROUND)
            if rt.plural == "pods" and obj.get("spec", {}).get("nodeName") and grace_period != 0:
                grace = obj["spec"].get("terminationGracePeriodSeconds", 30) if grace_period is None else grace_period
                if first_deletion or grace < meta["deletionGracePeriodSeconds"]:
                    meta["deletionGracePeriodSeconds"] = grace
                self._bump(obj)
                return copy.deepcopy(obj)  # the kubelet stops the containers, then removes it
            if rt.plural == "namespaces":
                obj.setdefault("status", {})["phase"] = "Terminating"
                self._bump(obj)
                return copy.deepcopy(obj)  # the namespace controller empties it, then removes it
            if meta.get("finalizers"):
                self._bump(obj)
                return copy.deepcopy(obj)
            if rt == CRD:  # the CRD's custom resources go with it (customresourcecleanup)
                group, plural = obj["spec"]["group"], obj["spec"]["names"]["plural"]
                for other in [k for k in self._objects if k[:2] == (group, plural)]:
                    self._remove(other)
            self._remove(key)
            if rt.plural == "pods":
                return copy.deepcopy(obj)
            return {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": {"name": name, "group": rt.group, "kind": rt.plural, "uid": meta["uid"]},
            }

    def _orphan(self, uid: str) -> None:
        """Orphan propagation: dependents lose their reference to the deleted owner."""
        for obj in list(self._objects.values()):
            refs = obj["metadata"].get("ownerReferences") or []
            kept = [ref for ref in refs if ref.get("uid") != uid]
            if len(kept) != len(refs):
                if kept:
                    obj["metadata"]["ownerReferences"] = kept
                else:
                    obj["metadata"].pop("ownerReferences")
                self._bump(obj)

    def delete_collection(self, rt: ResourceType, namespace: str | None, label_selector: str | None, field_selector: str | None, propagation: str | None, grace_period: int | None) -> Obj:
        listing = self.list(rt, namespace, label_selector, field_selector)
        for item in listing["items"]:
            try:
                self.delete(rt, item["metadata"].get("namespace"), item["metadata"]["name"], propagation, grace_period)
            except errors.ApiError as err:
                if err.code != 404:
                    raise
        return listing


def default_propagation(rt: ResourceType) -> str:
    """batch/v1 Jobs orphan their pods by default (kept for backwards compatibility upstream)."""
    return "Orphan" if rt.plural == "jobs" and rt.group == "batch" else "Background"


def owner_reference(owner: Obj, controller: bool = True) -> Obj:
    """The reference a controller puts on what it creates."""
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": controller,
        "blockOwnerDeletion": True,
    }

