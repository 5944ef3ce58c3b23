"""Validation of a RunSpec: cross-field rules, with errors that name the field and what to do.

It only checks: the values that follow from other fields are filled in afterwards by
spec.resolve, on a spec these checks passed. The checks of a part that appears in several
places (a payload, a list of response checks) name fields relative to that part, and the
caller places the error with SpecError.within, so one check serves `payload` and each
endpoint's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from isvcperf.kserve import urls
from isvcperf.spec import metric_names, observability, openai_target, schema, validity
from isvcperf.spec.model import Check, Load, Notify, Payload, RunSpec, Target
from isvcperf.spec.resolve import all_slos, endpoint_target, run_protocol
from isvcperf.util import json_path
from isvcperf.util.durations import format_duration
from isvcperf.util.env import ENV_REF
from isvcperf.util.errors import SpecError


def check(spec: RunSpec) -> None:
    """Raise SpecError for the first field that breaks a rule; change nothing."""
    if not spec.name or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", spec.name):
        raise SpecError("name", f"{schema.describe(spec.name)} must be letters, digits, '.', '_' or '-'")
    if spec.target.timeout <= 0:
        raise SpecError("target.timeout", "must be more than 0s")
    if spec.endpoints:
        _check_endpoints(spec)
    else:
        _check_target(spec.target, "target")
        _at("payload", _check_payload, spec.payload, spec.target.protocol)
    _at("checks", _check_checks, spec.checks, run_protocol(spec))
    openai_target.check_spec(spec)
    _check_kubernetes(spec)
    _check_load(spec.load)
    _check_until(spec)
    _check_notify(spec.notify)
    observability.check(spec)
    validity.check(spec.validity)
    for i, rng in enumerate(spec.metrics.error_ranges):
        if rng.lower is None and rng.upper is None:
            raise SpecError(f"metrics.errorRanges[{i}]", "needs lower, upper or both")
    for i, pct in enumerate(spec.metrics.percentiles):
        if not 0 < pct <= 100:
            raise SpecError(f"metrics.percentiles[{i}]", f"{pct:g} is not a percentile in (0, 100]")
    for key, seconds in (("metrics.interval", spec.metrics.interval), ("ready.interval", spec.ready.interval)):
        if seconds <= 0:
            raise SpecError(key, "must be more than 0s")
    _check_slos(spec)
    if spec.ready.timeout <= 0 and spec.ready.enabled:
        raise SpecError("ready.timeout", "must be more than 0s (or set ready.enabled: false)")


def _check_slos(spec: RunSpec) -> None:
    """Every SLO, the endpoints' included, names a metric this run measures and has a limit."""
    protocol = run_protocol(spec)
    prefix = metric_names.protocol_prefix(protocol)
    ids = [e.id for e in spec.endpoints]
    for name, slo in all_slos(spec).items():
        problem = metric_names.check(name, ids)
        if problem:
            raise SpecError(f"slos.{name}", problem)
        family, endpoint = metric_names.split_prefix(name.partition("/")[0])
        if family != prefix and not (family == metric_names.LLM and protocol == "openai"):
            fixed = metric_names.endpoint_prefix(prefix, endpoint) + "/" + name.partition("/")[2]
            raise SpecError(f"slos.{name}", f"protocol {protocol} measures {prefix}/ metrics; "
                            f"name it {metric_names.canonical(fixed)}")
        if slo.upper is None and slo.lower is None:
            raise SpecError(f"slos.{name}", "needs an upper or a lower limit (e.g. {upper: 500})")


def _check_target(target: Target, where: str) -> None:
    """The spec's `target`, or an endpoint's own target (`where` is `endpoints[i]`).

    An endpoint's own fields (url, baseUrl, model, protocol) are named in it; what it takes
    from `target` (caBundle, insecure) is named there.
    """
    if target.protocol == "grpc-v2":
        _check_grpc_target(target, where)
        return
    if target.isvc is not None:
        _check_dns_name(f"{where}.isvc", target.isvc)
    if target.protocol == "openai":
        openai_target.check_target(target, where)
        return
    if target.isvc is not None and target.url is None and target.base_url is None:
        return  # the URL comes from the InferenceService's status once it is Ready (readiness.isvc)
    if target.url is None and target.base_url is None:
        raise SpecError(f"{where}.url", f"is required (the inference URL, or {where}.baseUrl with {where}.model, "
                        "or target.isvc)")
    for key, value in (("url", target.url), ("baseUrl", target.base_url)):
        if value is not None and not re.match(r"^https?://[^/\s]+", value):
            hint = f"; for gRPC set {where}.protocol: grpc-v2" if value.startswith("grpc") else ""
            raise SpecError(f"{where}.{key}", f"{schema.describe(value)} is not an http:// or https:// URL{hint}")
    if target.url is None:
        if target.protocol == "raw":
            raise SpecError(f"{where}.url", "is required for protocol raw")
        if not target.model:
            raise SpecError(f"{where}.model", f"is required to build the URL from {where}.baseUrl")
    elif target.model is None and target.protocol != "raw" and urls.model_of(target.url, target.protocol) is None:
        expected = urls.EXPECTED_PATHS[target.protocol]
        raise SpecError(f"{where}.model", f"is required: cannot tell the model from {target.url!r} "
                        f"(expected .../{expected})")


def _check_grpc_target(target: Target, where: str) -> None:
    """A gRPC target is `grpc://HOST:PORT` (plaintext) or `grpcs://HOST:PORT` (TLS).

    Its model may come from the payload's `model_name` instead (see payload.grpc), as in
    the Iter8 gRPC tutorial, so the model is optional here.
    """
    example = "grpc://HOST:PORT (or grpcs://HOST:PORT for TLS)"
    if target.base_url is not None:
        raise SpecError(f"{where}.baseUrl", f"is for HTTP protocols; with protocol grpc-v2 give {where}.url {example}")
    if target.url is None:
        raise SpecError(f"{where}.url", f"is required for protocol grpc-v2: {example}")
    parts = urlsplit(target.url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in ("grpc", "grpcs") or not parts.hostname or port is None or parts.path not in ("", "/"):
        raise SpecError(f"{where}.url", f"{schema.describe(target.url)} is not {example}")
    if parts.scheme == "grpc" and (target.ca_bundle is not None or target.insecure):
        key = "caBundle" if target.ca_bundle is not None else "insecure"
        raise SpecError(f"target.{key}", f"applies to TLS; use grpcs://{parts.netloc} to connect with TLS")
    if target.insecure:
        raise SpecError("target.insecure", "is not available over gRPC (its Python client always verifies the "
                        "server); give target.caBundle: the server's CA or self-signed certificate (PEM)")


def _check_dns_name(field_path: str, value: str) -> None:
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", value):
        raise SpecError(field_path, f"{schema.describe(value)} is not a Kubernetes name (lower-case letters, digits, '-')")


def _check_kubernetes(spec: RunSpec) -> None:
    k8s = spec.kubernetes
    for key, value in (("namespace", k8s.namespace), ("serviceAccountName", k8s.service_account_name)):
        if value is not None:
            _check_dns_name(f"kubernetes.{key}", value)
    if spec.target.namespace is not None:
        _check_dns_name("target.namespace", spec.target.namespace)
    if k8s.ttl_seconds_after_finished < 0:
        raise SpecError("kubernetes.ttlSecondsAfterFinished", f"{k8s.ttl_seconds_after_finished} must be 0 or more")
    for key, value in (("linger", k8s.linger), ("startTimeout", k8s.start_timeout)):
        if value <= 0:
            raise SpecError(f"kubernetes.{key}", "must be more than 0s")


def _check_notify(notify: Notify | None) -> None:
    if notify is None:
        return
    if not ENV_REF.search(notify.url):
        raise SpecError("notify.url", f"{schema.describe(notify.url)} must come from the environment, e.g. "
                        "url: ${SLACK_WEBHOOK_URL} (webhook URLs are secrets)")
    if notify.token is not None and not ENV_REF.fullmatch(notify.token):
        raise SpecError("notify.token", "must be an environment variable reference, e.g. token: ${GITHUB_TOKEN}")
    if notify.format == "github" and notify.token is None:
        raise SpecError("notify.token", "is required for format github (repository_dispatch needs a token)")


def _check_load(load: Load) -> None:
    if load.users < 1:
        raise SpecError("load.users", f"{load.users} must be at least 1")
    if load.workers is not None and load.workers < 1:
        raise SpecError("load.workers", f"{load.workers} must be at least 1")
    if load.rate < 0:
        raise SpecError("load.rate", f"{load.rate:g} must be 0 (closed loop) or more")
    if load.spawn_rate is not None and load.spawn_rate <= 0:
        raise SpecError("load.spawnRate", f"{load.spawn_rate:g} must be more than 0")
    if load.duration is not None and load.requests is not None:
        raise SpecError("load", "give either duration or requests, not both")
    if load.duration is not None and load.duration <= 0:
        raise SpecError("load.duration", "must be more than 0s")
    if load.requests is not None and load.requests < 1:
        raise SpecError("load.requests", f"{load.requests} must be at least 1")
    if load.stages:
        _check_stages(load)
    if load.warmup.requests < 0:
        raise SpecError("load.warmup.requests", f"{load.warmup.requests} must be 0 or more")
    if load.warmup.requests and load.warmup.duration:
        raise SpecError("load.warmup", "give either requests or duration, not both")


def _check_until(spec: RunSpec) -> None:
    """load.until: stable measures for a time, at one load, for at least the stability windows."""
    load = spec.load
    if load.until is None:
        return
    if load.requests is not None:
        raise SpecError("load.until", "stable measures for a time, with load.duration as its maximum; "
                                      "remove load.requests (or load.until)")
    if load.stages:
        raise SpecError("load.until", "stable needs one steady load, and load.stages change it on purpose; "
                                      "remove load.stages (or load.until)")
    _, window = validity.stability_window(spec.validity, spec.metrics.interval)
    need = spec.validity.stability_windows * window
    if load.duration is not None and load.duration < need:
        raise SpecError("load.duration", f"{format_duration(load.duration)} is shorter than the "
                        f"{spec.validity.stability_windows} stability windows of {format_duration(window)} that "
                        f"load.until: stable must measure; set load.duration to at least {format_duration(need)} "
                        "(it is the maximum) or shorten validity.stabilityWindow")


def _check_stages(load: Load) -> None:
    """Stages define the measured window, so they exclude duration and requests."""
    if load.requests is not None:
        raise SpecError("load.stages", "stages set the duration; remove load.requests")
    if load.duration is not None:
        raise SpecError("load.stages", "stages set the duration; remove load.duration")
    kinds = set()
    for i, stage in enumerate(load.stages):
        where = f"load.stages[{i}]"
        if stage.duration <= 0:
            raise SpecError(f"{where}.duration", "must be more than 0s")
        if (stage.rate is None) == (stage.users is None):
            raise SpecError(where, "give exactly one of rate (open loop) or users (closed loop)")
        if stage.rate is not None and stage.rate < 0:
            raise SpecError(f"{where}.rate", f"{stage.rate:g} must be 0 or more")
        if stage.users is not None and stage.users < 1:
            raise SpecError(f"{where}.users", f"{stage.users} must be at least 1")
        kinds.add("rate" if stage.rate is not None else "users")
    if len(kinds) > 1:
        raise SpecError("load.stages", "use rate in every stage or users in every stage, not both")
    if "users" in kinds:
        if load.rate:
            raise SpecError("load.rate", "user stages are closed loop; remove load.rate or use rate stages")
        if load.warmup.requests:
            raise SpecError("load.warmup.requests", "with user stages warm up by duration (load.warmup.duration)")


def _at(where: str, check_part: Callable[..., None], *args: Any) -> None:
    """Run the check of a part of the spec (fields named relative to it) for the part at `where`."""
    try:
        check_part(*args)
    except SpecError as exc:
        raise exc.within(where) from None


def _check_payload(payload: Payload, protocol: str) -> None:
    given = [k for k, v in (("file", payload.file), ("url", payload.url), ("inline", payload.inline),
                            ("files", payload.files or None), ("jsonl", payload.jsonl)) if v is not None]
    if len(given) > 1:
        raise SpecError("", f"give one of file, url, inline, files or jsonl, not {' and '.join(given)}")
    if not given and protocol not in ("raw", "openai"):  # openai: generate.source decides (spec.openai_target)
        raise SpecError("", f"is required for protocol {protocol} (file:, url:, inline:, files: or jsonl:)")
    if payload.url is not None and not re.match(r"^(https?|file)://", payload.url):
        raise SpecError("url", f"{schema.describe(payload.url)} is not an http(s):// or file:// URL")


ENDPOINT_ID = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_TARGET_PER_ENDPOINT = (("url", "url"), ("baseUrl", "base_url"), ("model", "model"), ("isvc", "isvc"))


def _check_endpoints(spec: RunSpec) -> None:
    """Each endpoint's own target is checked like `target`, its payload, checks and SLO names.

    All endpoints speak one protocol family, HTTP or gRPC, because one kind of Locust
    user sends the load and the totals are `http/...` or `grpc/...` metrics.
    """
    for key, attr in _TARGET_PER_ENDPOINT:
        if getattr(spec.target, attr) is not None:
            raise SpecError(f"target.{key}", "cannot be given with endpoints; give each endpoint its own url "
                            "(target keeps what all endpoints share: protocol, headers, timeout, caBundle, insecure)")
    if any(endpoint_target(spec.target, e).protocol == "openai" for e in spec.endpoints):
        raise SpecError("endpoints", "are not supported with protocol openai yet; run one target per test")
    seen: dict[str, int] = {}
    family = ""
    for i, endpoint in enumerate(spec.endpoints):
        where = f"endpoints[{i}]"
        if not ENDPOINT_ID.fullmatch(endpoint.id):
            raise SpecError(f"{where}.id", f"{schema.describe(endpoint.id)} must be lower-case letters, digits "
                            "and '-' (it names metrics: http-<id>/latency-p90)")
        if endpoint.id in seen:
            raise SpecError(f"{where}.id", f'"{endpoint.id}" is also the id of endpoints[{seen[endpoint.id]}]; '
                            "ids must be unique")
        seen[endpoint.id] = i
        if endpoint.weight < 1:
            raise SpecError(f"{where}.weight", f"{endpoint.weight} must be at least 1")
        target = endpoint_target(spec.target, endpoint)
        _check_target(target, where)
        this_family = metric_names.protocol_prefix(target.protocol)
        if family and this_family != family:
            first = endpoint_target(spec.target, spec.endpoints[0]).protocol
            raise SpecError(f"{where}.protocol", f"{target.protocol} cannot run with {first} "
                            "in one test: the endpoints must all speak HTTP (v2, v1, raw) or all grpc-v2")
        family = this_family
        _at("payload" if endpoint.payload is None else f"{where}.payload", _check_payload,
            endpoint.payload or spec.payload, target.protocol)
        _at(f"{where}.checks", _check_checks, endpoint.checks, target.protocol)
        prefix = metric_names.endpoint_prefix(family, endpoint.id)
        for name in endpoint.slos:
            head, sep, _ = name.partition("/")
            if sep and head != family:
                raise SpecError(f"{where}.slos.{name}", f"an endpoint's SLOs name its metrics as {family}/METRIC "
                                f"or METRIC (e.g. latency-p90); they become {prefix}/METRIC")


def _check_checks(checks: list[Check], protocol: str) -> None:
    """Each check is a status or a JSON path (with equals, or exists); paths must parse."""
    if checks and protocol == "grpc-v2":
        raise SpecError("", "response checks apply to HTTP responses (protocols v2, v1, raw), not grpc-v2")
    for i, check in enumerate(checks):
        at = f"[{i}]"
        if (check.status is None) == (check.json_path is None):
            raise SpecError(at, "give either status (e.g. status: 200) or jsonPath (e.g. jsonPath: outputs[0].shape)")
        if check.status is not None:
            if check.equals is not None or check.exists is not None:
                raise SpecError(at, "equals and exists go with jsonPath, not with status")
            if not 100 <= check.status <= 599:
                raise SpecError(f"{at}.status", f"{check.status} is not an HTTP status (100-599)")
            continue
        try:
            json_path.parse(check.json_path or "")
        except ValueError as exc:
            raise SpecError(f"{at}.jsonPath", str(exc)) from None
        if check.equals is not None and check.exists is not None:
            raise SpecError(at, "give equals or exists, not both")


