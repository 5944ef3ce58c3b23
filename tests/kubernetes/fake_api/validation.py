"""The validation rules the runner can trip over on a real cluster, with the real messages.

Names (RFC 1123 subdomain / label, RFC 1035 label for Services), label keys and values
(63 characters), annotation size (256 KiB), ConfigMap/Secret payload size (1 MiB), Job names
(63 characters, since they become a label value), Job pod restartPolicy, and the storage
limit on a whole object (etcd's 1.5 MiB). Schema validation of every field is not done here:
the runner's manifests are validated against the OpenAPI schemas separately.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from .errors import ApiError, invalid
from .resources import ResourceType

_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation "
    "is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_LABEL_1123_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
    "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
_LABEL_1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
    "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
    "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)

MAX_CONFIG_BYTES = 1024 * 1024
MAX_ANNOTATION_BYTES = 256 * 1024
MAX_OBJECT_BYTES = 1536 * 1024  # etcd's default request limit


def _name_causes(rt: ResourceType, name: str) -> list[tuple[str, str]]:
    if rt.plural == "services":
        pattern, message, limit = _LABEL_1035, _LABEL_1035_MSG, 63
    elif rt.plural == "namespaces":
        pattern, message, limit = _LABEL_1123, _LABEL_1123_MSG, 63
    elif rt.plural in ("roles", "rolebindings", "clusterroles", "clusterrolebindings"):
        return []  # RBAC names are path segments: anything without '/' or '%'
    else:
        pattern, message, limit = _SUBDOMAIN, _SUBDOMAIN_MSG, 253
    if rt.plural == "jobs":
        limit = 63  # the name becomes the job-name label value on its pods
    causes = []
    if len(name) > limit:
        causes.append(("metadata.name", f'Invalid value: "{name}": must be no more than {limit} characters'))
    if not pattern.match(name):
        causes.append(("metadata.name", f'Invalid value: "{name}": {message}'))
    return causes


def _label_causes(labels: dict[str, Any]) -> list[tuple[str, str]]:
    causes = []
    for key, value in labels.items():
        prefix, _, name = key.rpartition("/")
        if (prefix and (len(prefix) > 253 or not _SUBDOMAIN.match(prefix))) or len(name) > 63 or not _QUALIFIED_NAME.match(name):
            causes.append(("metadata.labels", f'Invalid value: "{key}": name part must consist of alphanumeric characters, \'-\', \'_\' or \'.\', and must start and end with an alphanumeric character'))
        if not isinstance(value, str):
            causes.append(("metadata.labels", f"Invalid value: {json.dumps(value)}: label values must be strings"))
        elif len(value) > 63:
            causes.append(("metadata.labels", f'Invalid value: "{value}": must be no more than 63 characters'))
        elif not _LABEL_VALUE.match(value):
            causes.append(("metadata.labels", f'Invalid value: "{value}": {_LABEL_VALUE_MSG}'))
    return causes


def _payload_bytes(obj: dict[str, Any]) -> int:
    total = sum(len(k) + len(str(v).encode()) for k, v in (obj.get("data") or {}).items())
    for key, value in (obj.get("binaryData") or {}).items():
        total += len(key) + len(base64.b64decode(value))
    return total


def validate(rt: ResourceType, obj: dict[str, Any]) -> None:
    """Raise the 422 the real server would for ``obj``, or the storage-limit error."""
    meta = obj.get("metadata", {})
    name = meta.get("name", "")
    causes = _name_causes(rt, name)
    causes += _label_causes(meta.get("labels") or {})
    annotations = meta.get("annotations") or {}
    if sum(len(k) + len(str(v)) for k, v in annotations.items()) > MAX_ANNOTATION_BYTES:
        causes.append(("metadata.annotations", f"Too long: must have at most {MAX_ANNOTATION_BYTES} bytes"))
    if rt.plural == "configmaps" and _payload_bytes(obj) > MAX_CONFIG_BYTES:
        causes.append(("[]", f"Too long: must have at most {MAX_CONFIG_BYTES} bytes"))
    if rt.plural == "secrets" and sum(len(k) + len(base64.b64decode(v)) for k, v in (obj.get("data") or {}).items()) > MAX_CONFIG_BYTES:
        causes.append(("data", f"Too long: must have at most {MAX_CONFIG_BYTES} bytes"))
    if rt.plural == "jobs":
        policy = obj.get("spec", {}).get("template", {}).get("spec", {}).get("restartPolicy")
        if policy not in ("Never", "OnFailure"):
            causes.append(("spec.template.spec.restartPolicy", f'Unsupported value: "{policy or "Always"}": supported values: "OnFailure", "Never"'))
    if rt.plural == "pods" and not obj.get("spec", {}).get("containers"):
        causes.append(("spec.containers", "Required value"))
    if causes:
        raise invalid(rt.kind, name, rt.group, causes)
    if len(json.dumps(obj)) > MAX_OBJECT_BYTES:
        raise ApiError(500, "InternalError", "etcdserver: request is too large")
