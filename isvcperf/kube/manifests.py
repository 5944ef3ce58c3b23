"""Manifests: a Plan (or an in-cluster launch) rendered into Kubernetes objects.

The Kubernetes runner runs the same Plan the local runner does; this module only moves
it into pods: the LoadgenConfig and the locustfile go into a ConfigMap mounted at
/etc/isvcperf, the master binds its pod IP (downward API) behind a Service, workers
connect to that Service's name, and Locust logs to stdout for `kubectl logs`. The YAML
itself lives in the Jinja2 templates in the top-level k8s/ (installed as isvcperf.k8s, so an installed
isvcperf finds them); everything the templates need is computed here.

A run's objects come in two steps so one delete cascades: the root (the master Job, or
the launch's runner Job/CronJob) is created suspended, the rest are created owned by it,
then the root is resumed. `isvcperf render` prints both steps at once, unowned and not
suspended, ready for `kubectl apply` or a GitOps repository.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import yaml

from isvcperf import __version__, k8s
from isvcperf.loadgen.protocol import MASTER_PORT, WEB_PORT
from isvcperf.payload.bodies import Bodies
from isvcperf.plan.topology import Plan, Ports, make_plan
from isvcperf.spec import schema
from isvcperf.spec.budget import budget
from isvcperf.spec.model import RunSpec
from isvcperf.util.errors import SpecError

TEMPLATES = Path(k8s.__file__).parent
CONFIG_DIR = "/etc/isvcperf"
SCRATCH_DIR = "/scratch"
CONFIGMAP_LIMIT = 900 * 1024
"""Kubernetes refuses objects over 1 MiB; stay clear of it, with room for metadata."""
ISVC_NAMESPACE = "isvcperf.io/isvc-namespace"
"""Annotation on a launch's runner: where its InferenceService (and the Role to read it) lives."""
FALLBACK_LOCUSTFILE = "isvcperf_k8s.py"
FALLBACK_SOURCE = '"""Loaded next to the run\'s locustfile in pods: prints the final stats in the master log."""\n' \
    "import isvcperf.loadgen.k8s_fallback  # noqa: F401\n"


def runner_rules(result_config_map: str) -> list[dict[str, Any]]:
    """The in-cluster runner's Role: exactly the calls `isvcperf k job-run` makes (README lists them)."""
    return [
        {"apiGroups": ["serving.kserve.io"], "resources": ["inferenceservices"], "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]},
        {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": [result_config_map],
         "verbs": ["get", "update"]},
    ]


def run_name(spec: RunSpec) -> str:
    """A fresh name for one run: the spec's name made DNS-safe, plus a random suffix."""
    return f"{dns_label(spec.name, 40)}-{secrets.token_hex(3)[:5]}"


def dns_label(text: str, limit: int = 63) -> str:
    """`text` as a DNS-1035 label (what Service names must be): lowercase, and starting with a letter."""
    label = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    if label[:1].isdigit():
        label = f"isvcperf-{label}"
    return label[:limit].strip("-") or "isvcperf"


def owner_reference(obj: dict[str, Any]) -> dict[str, Any]:
    """An ownerReference to a stored object, so deleting it deletes the owned ones."""
    meta = obj["metadata"]
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": meta["name"], "uid": meta["uid"],
            "controller": False, "blockOwnerDeletion": False}


@dataclass
class Manifests:
    """The objects of one run or launch: a root and the objects it owns."""

    root_template: str
    child_templates: list[str]
    context: dict[str, Any]
    plan: Plan | None = None
    names: dict[str, str] = field(default_factory=dict)
    render_only: list[str] = field(default_factory=list)
    """Templates `isvcperf render` prints but the runner does not create (the PodMonitor)."""

    def root(self, suspend: bool) -> dict[str, Any]:
        (obj,) = _render(self.root_template, {**self.context, "suspend": suspend, "owner_ref": None})
        return obj

    def children(self, owner_ref: dict[str, Any] | None) -> list[dict[str, Any]]:
        context = {**self.context, "owner_ref": owner_ref}
        return [obj for name in self.child_templates for obj in _render(name, context)]

    def all(self) -> list[dict[str, Any]]:
        """Everything, unowned and not suspended: what `isvcperf render` prints."""
        extra = [obj for name in self.render_only for obj in _render(name, {**self.context, "owner_ref": None})]
        return [*self.children(None), self.root(suspend=False), *extra]


def for_run(spec: RunSpec, payload: Bodies, instance: str, namespace: str) -> Manifests:
    """The master Job (root), its Service, the worker Job and the ConfigMap for `spec`'s Plan."""
    master_name, workers_name = f"{instance}-master", f"{instance}-workers"
    plan = make_plan(spec, payload, Ports(master=MASTER_PORT, web=WEB_PORT, host="$(POD_IP)"),
                     config_path=f"{CONFIG_DIR}/loadgen.json", csv_prefix=f"{SCRATCH_DIR}/locust",
                     log_dir=SCRATCH_DIR)
    limits = budget(spec)
    locustfiles = f"{CONFIG_DIR}/locustfile.py,{CONFIG_DIR}/{FALLBACK_LOCUSTFILE}"
    master_args = _pod_args(plan.master.args, {"-f": locustfiles,
                                               "--expect-workers-max-wait": str(int(limits.start))})
    worker_args = _pod_args(plan.workers[0].args, {"-f": locustfiles, "--master-host": master_name})
    files = {
        "loadgen.json": plan.config.to_json(),
        "spec.yaml": yaml.safe_dump(spec.to_data(), sort_keys=False),
        "locustfile.py": plan.locustfile.read_text(encoding="utf-8"),
        FALLBACK_LOCUSTFILE: FALLBACK_SOURCE,
    }
    _check_size(files, {}, "payload")
    context = _base_context(spec, instance, namespace, f"{instance}-config") | {
        "master_name": master_name,
        "workers_name": workers_name,
        "master_args": master_args,
        "worker_args": worker_args,
        "workers": len(plan.workers),
        "master_port": MASTER_PORT,
        "web_port": WEB_PORT,
        "files": files,
        "binary_files": {},
        "active_deadline": limits.master_job,
    }
    policy = ["master-networkpolicy.yaml.j2"] if spec.kubernetes.network_policy.enabled else []
    return Manifests("master-job.yaml.j2", ["configmap.yaml.j2", "master-service.yaml.j2", *policy, "worker-job.yaml.j2"],
                     context, plan=plan,
                     names={"master": master_name, "workers": workers_name, "config": f"{instance}-config"},
                     render_only=["podmonitor.yaml.j2"] if spec.outputs.prometheus.pod_monitor else [])


def for_launch(spec: RunSpec, payload: Bodies, group: str, namespace: str, schedule: str | None,
               allow_invalid: bool = False) -> Manifests:
    """An in-cluster runner Job (or CronJob) that runs `spec` with local Locust processes and stores the result.

    `allow_invalid` (k launch --allow-invalid) goes onto the job's command line: the runner's exit
    code follows the SLOs even when the measurement is invalid, and with it the Job's status.
    """
    body = payload.single
    if body is None:
        raise SpecError("endpoints" if spec.endpoints else "payload", "isvcperf k launch runs one target with one "
                        "payload; for endpoints or a payload set use runner: kubernetes (isvcperf run)")
    instance = launch_instance(group)
    spec_data = schema.dump(spec)  # header values keep their ${VAR} references (README: secrets)
    spec_data["runner"] = "local"
    spec_data["payload"] = {"file": "payload", "contentType": spec.payload.content_type}
    files = {}
    if spec.load.locustfile:
        files["locustfile.py"] = Path(spec.base_dir, spec.load.locustfile).read_text(encoding="utf-8")
        spec_data["load"]["locustfile"] = "locustfile.py"
    files["spec.yaml"] = yaml.safe_dump(spec_data, sort_keys=False)
    binary = {"payload": base64.b64encode(body).decode("ascii")}
    _check_size(files, binary, "payload")
    result_name = result_config_map(group)
    context = _base_context(spec, instance, namespace, f"{instance}-spec") | {
        "runner_name": instance,
        "runner_args": ["-m", "isvcperf", "k", "job-run", f"{CONFIG_DIR}/spec.yaml", "-g", group, "-n", namespace,
                        *(["--allow-invalid"] if allow_invalid else [])],
        "rules": runner_rules(result_name),
        "isvc_namespace": spec.target.namespace or namespace,
        "schedule": schedule,
        "files": files,
        "binary_files": binary,
        "active_deadline": budget(spec).launch_job,
    }
    return Manifests("runner-job.yaml.j2", ["configmap.yaml.j2", "runner-rbac.yaml.j2", "runner-isvc-rbac.yaml.j2"],
                     context,
                     names={"runner": instance, "result": result_name})


def launch_instance(group: str) -> str:
    return f"isvcperf-{dns_label(group, 40)}"


def result_config_map(group: str) -> str:
    return f"{launch_instance(group)}-result"


def to_yaml(objects: list[dict[str, Any]]) -> str:
    return "---\n".join(yaml.safe_dump(obj, sort_keys=False) for obj in objects)


# -- internals ---------------------------------------------------------------------------


def _base_context(spec: RunSpec, instance: str, namespace: str, config_map: str) -> dict[str, Any]:
    k8s = schema.dump(spec.kubernetes)
    return {
        "instance": instance,
        "namespace": namespace,
        "version": __version__,
        "image": spec.kubernetes.image,
        "k8s": k8s,
        "config_map": config_map,
        "config_dir": CONFIG_DIR,
        "scratch_dir": SCRATCH_DIR,
        "env": {
            "ISVCPERF_LOADGEN_CONFIG": f"{CONFIG_DIR}/loadgen.json",
            "HOME": SCRATCH_DIR,
            "TMPDIR": SCRATCH_DIR,
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        },
    }


def _pod_args(args: list[str], replace: dict[str, str]) -> list[str]:
    """The Plan's argv as a pod runs it: options in `replace` get new values; --logfile goes (logs to stdout)."""
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--logfile":
            i += 2
            continue
        out.append(arg)
        if arg in replace:
            out.append(replace[arg])
            i += 2
            continue
        i += 1
    missing = [opt for opt in replace if opt not in args]
    if missing:
        raise ValueError(f"the Plan has no {', '.join(missing)} option to adapt")  # plan.py and this module disagree
    return out


def _check_size(files: dict[str, str], binary: dict[str, str], field_path: str) -> None:
    size = sum(len(v.encode("utf-8")) for v in files.values()) + sum(len(v) for v in binary.values())
    if size > CONFIGMAP_LIMIT:
        raise SpecError(field_path, f"the run's ConfigMap would hold {size // 1024} KiB, over the "
                        f"{CONFIGMAP_LIMIT // 1024} KiB isvcperf allows (Kubernetes refuses 1 MiB); use a smaller payload")


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, autoescape=False)
    env.filters["pull_secret"] = lambda name: {"name": name}
    env.filters["secret_ref"] = lambda name: {"secretRef": {"name": name}}
    env.filters["from_json"] = json.loads
    env.filters["combine"] = lambda a, b: {**a, **(b or {})}
    env.policies["json.dumps_kwargs"] = {"sort_keys": False}
    return env


def _render(template: str, context: dict[str, Any]) -> list[dict[str, Any]]:
    text = _environment().get_template(template).render(**context)
    try:
        return [doc for doc in yaml.safe_load_all(text) if doc]
    except yaml.YAMLError as exc:  # a template bug, shown with the text so it can be fixed
        raise ValueError(f"{template} rendered invalid YAML: {exc}\n{text}") from None



def result_object(group: str, namespace: str, entries: dict[str, str]) -> dict[str, Any]:
    """The ConfigMap that holds a launch's results (`entries`: key → base64 of gzip JSON)."""
    context = {"instance": launch_instance(group), "namespace": namespace, "version": __version__,
               "result_name": result_config_map(group), "binary_files": entries}
    (obj,) = _render("result-configmap.yaml.j2", context)
    return obj
