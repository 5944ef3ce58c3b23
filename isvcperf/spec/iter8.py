"""Iter8 0.13 `--set` flags as spec data: `isvcperf launch --set ...` replaces `iter8 k launch`.

People who followed Iter8's KServe tutorials have their test as a list of Helm `--set`
flags for the `ready`, `http` (or `grpc`; or isvcperf's `llm`: spec.iter8_llm) and `assess` tasks. This module reads those flags the way
Helm builds Iter8's values (same key syntax, list indices, `{a,b}` lists, later flags win)
and rewrites them as RunSpec file data, adding Iter8's defaults (http: 8 queries per
second, 4 connections, 100 requests; grpc: ghz's 200 requests from 50 concurrent callers,
unpaced) so the same flags produce the same test. It only checks what
the translation needs; `spec.from_data` validates the result. Anything it cannot
translate is a SpecError naming the key, never silently dropped, because an ignored SLO
or a lost header would make the verdict meaningless.

Besides Iter8's vocabulary, any spec field may be set by its own dotted path
(`load.workers=2`); such a path wins over the Iter8 key for the same field, whatever
their order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from isvcperf.kserve.urls import protocol_of
from isvcperf.spec import iter8_llm, metric_names, schema
from isvcperf.spec.model import Ready, RunSpec
from isvcperf.spec.overrides import Part, expand, join_key, parse_value, set_path, split_override, unescape_text
from isvcperf.util.errors import SpecError

TASKS = ("ready", "http", "grpc", "llm", "assess")
LOAD_TASKS = ("http", "grpc", "llm")
DEFAULT_RATE = 8
DEFAULT_USERS = 4
DEFAULT_GRPC_REQUESTS = 200
DEFAULT_GRPC_USERS = 50
MODEL_INFER_CALLS = ("inference.GRPCInferenceService.ModelInfer", "inference.GRPCInferenceService/ModelInfer")
DEFAULT_NAME = "launch"

_TIMING_KEYS: dict[str, tuple[str, ...]] = {
    "duration": ("load", "duration"),
    "warmupNumRequests": ("load", "warmup", "requests"),
    "warmupDuration": ("load", "warmup", "duration"),
}
"""The run's length and warm-up, spelled alike in Iter8's `http` and `grpc` tasks."""

_LOAD_KEYS: dict[str, tuple[str, ...]] = {
    "numRequests": ("load", "requests"),
    "qps": ("load", "rate"),
    "connections": ("load", "users"),
    **_TIMING_KEYS,
}
"""The http task's load inputs, which the llm task shares."""

_HTTP_KEYS: dict[str, tuple[str, ...]] = {
    "url": ("target", "url"),
    "headers": ("target", "headers"),
    "method": ("target", "method"),
    "payloadURL": ("payload", "url"),
    "payloadStr": ("payload", "inline"),
    "payloadFile": ("payload", "file"),
    "contentType": ("payload", "contentType"),
    **_LOAD_KEYS,
    "percentiles": ("metrics", "percentiles"),
    "errorRanges": ("metrics", "errorRanges"),
}
"""Iter8 `http` task input → spec path."""

_HTTP_ENDPOINT_KEYS: dict[str, tuple[str, ...]] = {
    name: path[1:] if path[0] == "target" else path for name, path in _HTTP_KEYS.items()
    if path[0] in ("target", "payload")
}
"""Iter8 `http.endpoints.<id>` input → path in that spec endpoint (a spec endpoint holds the target's
fields at its top level, and its payload); the top-level http keys are its defaults."""
_BODY_KEYS = ("url", "inline", "file")

_GHZ_NAMES = {"host": "url", "metadata": "headers", "data": "payloadStr", "dataURL": "payloadURL",
              "total": "numRequests", "rps": "qps", "concurrency": "connections"}
"""Iter8's `grpc` task input (ghz's names) → the `http` task input that means the same."""

_GRPC_KEYS: dict[str, tuple[str, ...]] = {
    **{ghz: _HTTP_KEYS[http] for ghz, http in _GHZ_NAMES.items()},
    "timeout": ("target", "timeout"),
    **_TIMING_KEYS,
}
"""Iter8 `grpc` task input (ghz's names) → spec path; `call`, `proto` and `protoURL` are checked, not mapped."""

_GRPC_PROTO_KEYS = ("proto", "protoURL")

_TEXT = {
    "http": frozenset({"url", "headers", "method", "payloadURL", "payloadStr", "payloadFile", "contentType"}),
    "grpc": frozenset({"host", "call", "metadata", "dataURL", "proto", "protoURL"}),
    "llm": iter8_llm.TEXT,
}
"""Inputs Iter8 reads as text: kept as typed (a payload of `123` stays "123"), Helm escapes undone."""

_KUBERNETES = "is not supported by isvcperf"
RUNNERS = ("local", "kubernetes", "job", "cronjob")
"""local/kubernetes: where `isvcperf run` puts Locust; job/cronjob: `isvcperf k launch` in the cluster."""
_UNSUPPORTED = {
    "grpc.endpoints": "is not translated; write a spec file with endpoints: (each url grpc://HOST:PORT) for "
                      "several gRPC endpoints in one run",
    "grpc.binaryDataURL": "binary payloads are not supported; give the ModelInferRequest as JSON (grpc.dataURL)",
    "grpc.metadataURL": "give each metadata entry as grpc.metadata.NAME=VALUE",
    **{
        f"ready.{name}": f"{_KUBERNETES}; for a local run give ready.url (e.g. http://127.0.0.1:8080/v2/health/ready)"
        for name in ("deploy", "service")
    },
}
"""Iter8 keys that exist but cannot be honoured here, with what to do instead."""

_SPEC_KEYS = frozenset(schema.file_keys(RunSpec))
_ITER8_HEADS = frozenset({"tasks", *TASKS, "runner", "cronjobSchedule"})
"""Top-level keys read as Iter8 values; `ready` and `runner` mean the same in both vocabularies."""


@dataclass
class Launch:
    """A test given in Iter8's vocabulary: the spec data, and where it runs."""

    data: dict[str, Any]
    runner: str = "local"
    """local or kubernetes (spec.runner, run by this process), job or cronjob (in the cluster)."""
    schedule: str | None = None
    """cronjobSchedule, for runner=cronjob."""
    notes: list[str] = field(default_factory=list)
    """Keys accepted but not acted upon, and why (shown to the user before the run)."""


def launch_data(overrides: list[str], notes: list[str] | None = None) -> dict[str, Any]:
    """Spec data for a test this process runs (`isvcperf launch`); in-cluster runners are refused.

    `notes`, when given, receives what the user should know about the translation.
    """
    launch = read_launch(overrides)
    if launch.runner in ("job", "cronjob"):
        raise SpecError("runner", f"{launch.runner} runs the test inside the cluster: use `isvcperf k launch` "
                        "with the same flags")
    if notes is not None:
        notes.extend(launch.notes)
    return launch.data


def read_launch(overrides: list[str]) -> Launch:
    """Turn Iter8 `--set` flags into spec data for `spec.from_data`; SpecError names a bad key."""
    values: dict[str, Any] = {}
    spec_paths: list[tuple[list[Part], Any, str]] = []
    for text in expand(overrides):
        parts, raw = split_override(text)
        head = parts[0]
        if head in _ITER8_HEADS:
            set_path(values, parts, _iter8_value(parts, raw), text)
        elif head in _SPEC_KEYS:
            spec_paths.append((parts, parse_value(raw), text))
        else:
            raise _refused(parts, 0, _ITER8_HEADS | _SPEC_KEYS)
    tasks = _tasks(values)
    runner, schedule = _runner(values)
    notes: list[str] = []
    data = _translate(values, notes)
    for parts, value, text in spec_paths:
        set_path(data, parts, value, text)
    _add_defaults(data, tasks)
    return Launch(data, runner, schedule, notes)


def _runner(values: dict[str, Any]) -> tuple[str, str | None]:
    """Take `runner` and `cronjobSchedule` out of the values; spec runners go back in as `runner`."""
    runner = values.pop("runner", "local")
    schedule = values.pop("cronjobSchedule", None)
    if runner not in RUNNERS:
        raise SpecError("runner", f"{schema.describe(runner)} is not one of {', '.join(RUNNERS)}")
    if (runner == "cronjob") != (schedule is not None):
        raise SpecError("cronjobSchedule" if schedule is not None else "runner",
                        "runner=cronjob and cronjobSchedule go together (e.g. cronjobSchedule=\"*/10 * * * *\")")
    if schedule is not None and not isinstance(schedule, str):
        raise SpecError("cronjobSchedule", f"{schema.describe(schedule)} is not a cron schedule like \"*/10 * * * *\"")
    if runner in ("local", "kubernetes"):
        values["runner"] = runner
    return runner, schedule


def _iter8_value(parts: list[Part], raw: str) -> Any:
    """Parse a value as Iter8 would type it: text inputs stay text, the rest as Helm parses."""
    if len(parts) > 1 and parts[1] in _TEXT.get(str(parts[0]), ()):
        return unescape_text(raw)
    if len(parts) > 3 and parts[:2] == ["http", "endpoints"] and parts[3] in _TEXT["http"]:
        return unescape_text(raw)
    return parse_value(raw)


def _refused(parts: list[Part], at: int, valid: Iterable[str]) -> SpecError:
    """Why key `parts` is refused: a known Iter8 feature not supported here, or a likely typo at `at`."""
    reason = _UNSUPPORTED.get(join_key(parts[: at + 1]))
    return SpecError(join_key(parts), reason or f"unknown key; {schema.suggest(str(parts[at]), valid)}")


def _tasks(values: dict[str, Any]) -> set[str]:
    """The tasks to run: as given in `tasks`, else those whose keys are present (http unless grpc is)."""
    if "tasks" not in values:
        load = next((task for task in ("grpc", "llm") if task in values), "http")
        tasks: Any = [load] + [task for task in ("ready", "assess") if task in values]
    else:
        tasks = values["tasks"]
    if isinstance(tasks, str):
        tasks = [tasks]
    if not isinstance(tasks, list):
        raise SpecError("tasks", f"{schema.describe(tasks)} is not a list like {{ready,http,assess}}")
    for i, task in enumerate(tasks):
        if task not in TASKS:
            raise SpecError(
                f"tasks[{i}]",
                f"{schema.describe(task)} is not a task isvcperf runs; {schema.suggest(str(task), TASKS)}",
            )
    loads = [task for task in LOAD_TASKS if task in tasks]
    if not loads:
        raise SpecError("tasks", "must include http or grpc (the load test itself; llm for a generative model), "
                        "e.g. tasks={ready,http,assess}")
    if len(loads) > 1:
        raise SpecError("tasks", f"has {' and '.join(loads)}; one run tests one protocol (launch once for each)")
    for other in (task for task in LOAD_TASKS if task != loads[0] and task in values):
        key = join_key([other, next(iter(values[other]))]) if isinstance(values[other], dict) else other
        raise SpecError(key, f"is given but the tasks run {loads[0]}; one run tests one protocol")
    for task in ("ready", "assess"):
        if task in values and task not in tasks:
            key = join_key([task, next(iter(values[task]))]) if isinstance(values[task], dict) else task
            raise SpecError(
                key, f"is given but {task} is not in tasks; add it (tasks={{ready,http,assess}}) or drop this key"
            )
    return set(tasks)


def _translate(values: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    """Iter8's values tree → spec data (without defaults); `notes` gets keys accepted without effect."""
    data: dict[str, Any] = {}
    if "grpc" in values:
        _translate_grpc(_fields(["grpc"], values["grpc"], "host"), data, notes)
    if "llm" in values:
        iter8_llm.translate(_fields(["llm"], values["llm"], "url"), data, _LOAD_KEYS)
    for name, value in _fields(["http"], values.get("http", {}), "url").items():
        if name == "endpoints":
            data["endpoints"] = _http_endpoints(value, notes)
            continue
        if name not in _HTTP_KEYS:
            raise _refused(["http", name], 1, _HTTP_KEYS)
        if name == "percentiles" and isinstance(value, list):
            # Iter8 always computes its default percentiles, so SLOs on them keep working.
            value = value + [p for p in metric_names.DEFAULT_PERCENTILES if p not in value]
        set_path(data, list(_HTTP_KEYS[name]), value, join_key(["http", name]))
    if "endpoints" in data:
        _endpoint_defaults(data)
    if "ready" in values:
        ready_keys = schema.file_keys(Ready)
        ready = dict(_fields(["ready"], values["ready"], "url"))
        for name in ("isvc", "namespace"):  # Iter8 names the InferenceService under ready
            if name in ready:
                set_path(data, ["target", name], ready.pop(name), join_key(["ready", name]))
        for name in ready:
            if name not in ready_keys:
                raise _refused(["ready", name], 1, [*ready_keys, "isvc", "namespace"])
        data["ready"] = ready
    if "runner" in values:
        data["runner"] = values["runner"]
    if "assess" in values:
        data["slos"] = _slos(values["assess"])
    return data


def _http_endpoints(value: Any, notes: list[str]) -> list[dict[str, Any]]:
    """`http.endpoints.<id>.<key>` → spec endpoints, in the order given."""
    endpoints = []
    for endpoint_id, fields in _fields(["http", "endpoints"], value, "ID.url").items():
        entry: dict[str, Any] = {"id": endpoint_id}
        for name, item in _fields(["http", "endpoints", endpoint_id], fields, "url").items():
            if name not in _HTTP_ENDPOINT_KEYS:
                raise _refused(["http", "endpoints", endpoint_id, name], 3, _HTTP_ENDPOINT_KEYS)
            set_path(entry, list(_HTTP_ENDPOINT_KEYS[name]), item, join_key(["http", "endpoints", endpoint_id, name]))
        endpoints.append(entry)
    notes.append("http.endpoints: isvcperf splits the requests (and the rate) equally across the endpoints, where "
                 "Iter8 ran each endpoint's load in turn (multiply http.numRequests and http.qps by the number of "
                 "endpoints for the same load per endpoint); metrics are per endpoint (http-ID/...) and in total")
    return endpoints


def _endpoint_defaults(data: dict[str, Any]) -> None:
    """Iter8's top-level http inputs are each endpoint's defaults: move the URL and payload into them."""
    target = data.get("target", {})
    url = target.pop("url", None) if isinstance(target, dict) else None
    payload = data.get("payload") if isinstance(data.get("payload"), dict) else {}
    for entry in data["endpoints"]:
        if url is not None:
            entry.setdefault("url", url)
        if isinstance(entry.get("payload"), dict) and payload:
            own = entry["payload"]
            shared = {k: v for k, v in payload.items() if not (k in _BODY_KEYS and any(b in own for b in _BODY_KEYS))}
            entry["payload"] = {**shared, **own}
        if isinstance(entry.get("url"), str):
            entry.setdefault("protocol", protocol_of(entry["url"]))


def _translate_grpc(grpc: dict[str, Any], data: dict[str, Any], notes: list[str]) -> None:
    """The `grpc` task's inputs → spec data: ModelInfer of the Open Inference Protocol, at grpc.host."""
    for name, value in grpc.items():
        key = join_key(["grpc", name])
        if name == "call":
            if value not in MODEL_INFER_CALLS:
                raise SpecError(key, f"{schema.describe(value)} is not a call isvcperf makes; it calls the Open Inference "
                                f"Protocol's {MODEL_INFER_CALLS[0]}")
        elif name in _GRPC_PROTO_KEYS:
            notes.append(f"{key} is not read: isvcperf calls {MODEL_INFER_CALLS[0]} with its built-in "
                         "Open Inference Protocol definition")
        elif name not in _GRPC_KEYS:
            raise _refused(["grpc", name], 1, [*_GRPC_KEYS, "call", *_GRPC_PROTO_KEYS])
        elif name == "host":
            if not isinstance(value, str) or not value:
                raise SpecError(key, f"{schema.describe(value)} is not HOST:PORT (e.g. 127.0.0.1:8081)")
            set_path(data, ["target", "url"], value if "://" in value else f"grpc://{value}", key)
        else:
            set_path(data, list(_GRPC_KEYS[name]), value, key)
    data.setdefault("target", {})["protocol"] = "grpc-v2"


def _slos(assess: Any) -> dict[str, dict[str, Any]]:
    """`assess.SLOs.upper.METRIC=LIMIT` → {METRIC: {upper: LIMIT}}, as spec `slos`."""
    slos: dict[str, dict[str, Any]] = {}
    for name, bounds in _fields(["assess"], assess, "SLOs.upper.http/latency-mean").items():
        if name != "SLOs":
            raise _refused(["assess", name], 1, ["SLOs"])
        for bound, limits in _fields(["assess", "SLOs"], bounds, "upper.http/latency-mean").items():
            if bound not in ("upper", "lower"):
                raise _refused(["assess", "SLOs", bound], 2, ["upper", "lower"])
            for metric, limit in _fields(["assess", "SLOs", bound], limits, "http/latency-mean").items():
                if isinstance(limit, (dict, list)):
                    raise SpecError(
                        join_key(["assess", "SLOs", bound, metric]),
                        f"takes a limit; escape a dot in a metric name as \\. (assess.SLOs.{bound}.http/latency-p99\\.9=LIMIT)",
                    )
                slos.setdefault(metric, {})[bound] = limit
    return slos


def _fields(parts: list[Part], value: Any, example: str) -> dict[str, Any]:
    """The sub-keys of an Iter8 group; a group given a plain value is an error naming it."""
    if not isinstance(value, dict):
        key = join_key(parts)
        raise SpecError(key, f"is a group of keys, not a value; set them one by one (e.g. {key}.{example}=...)")
    return value


def _add_defaults(data: dict[str, Any], tasks: set[str]) -> None:
    """Fill what Iter8 implies and the user left out, never overriding what was given."""
    _default(data, ["ready", "enabled"], "ready" in tasks)
    _default(data, ["name"], DEFAULT_NAME)
    if "grpc" in tasks:
        _add_grpc_defaults(data)
        return
    if "llm" in tasks:
        iter8_llm.complete(data)
        return
    target = data.get("target")
    if data.get("endpoints"):
        if not (isinstance(data.get("payload"), dict) or all(isinstance(e.get("payload"), dict) for e in data["endpoints"])):
            _default(data, ["target", "method"], "GET")  # Iter8 sends GET when there is no payload
        _default(data, ["load", "rate"], DEFAULT_RATE)
        _default(data, ["load", "users"], DEFAULT_USERS)
        return
    if target is None or (isinstance(target, dict) and not {"url", "baseUrl", "isvc"} & set(target)):
        raise SpecError("http.url", "is required: the inference URL, e.g. http://127.0.0.1:8080/v2/models/NAME/infer "
                        "(or ready.isvc=NAME to take it from the InferenceService)")
    if isinstance(target, dict) and isinstance(target.get("url"), str):
        _default(data, ["target", "protocol"], protocol_of(target["url"]))
    payload = data.get("payload")
    if not (isinstance(payload, dict) and any(payload.get(k) is not None for k in ("file", "url", "inline"))):
        _default(data, ["target", "method"], "GET")  # Iter8 sends GET when there is no payload
    _default(data, ["load", "rate"], DEFAULT_RATE)
    _default(data, ["load", "users"], DEFAULT_USERS)


def _add_grpc_defaults(data: dict[str, Any]) -> None:
    """ghz's defaults, which Iter8's grpc task inherits: 200 calls, 50 concurrent, no pacing."""
    target = data.get("target")
    if not (isinstance(target, dict) and target.get("url")):
        raise SpecError("grpc.host", "is required: the gRPC server as HOST:PORT, e.g. 127.0.0.1:8081")
    load = data.get("load")
    if not (isinstance(load, dict) and "duration" in load):
        _default(data, ["load", "requests"], DEFAULT_GRPC_REQUESTS)
    _default(data, ["load", "users"], DEFAULT_GRPC_USERS)


def _default(data: dict[str, Any], path: list[str], value: Any) -> None:
    """Set `path` unless it is set; a non-mapping in the way is left for from_data to report."""
    node: Any = data
    for part in path[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            return
    node.setdefault(path[-1], value)
