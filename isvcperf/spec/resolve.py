"""Resolving a checked spec: the values that follow from other fields, filled in once.

spec.validate only checks; this builds the RunSpec every later stage reads: the inference
URL built from baseUrl and model, the model read from the URL, each endpoint's own
target, payload and checks, SLOs under their canonical names (an endpoint's under
`http-<id>/`), the request count of a run without a duration, the users and duration of
staged load; for protocol openai the api, route prefix and URL, and the generate block's
defaults (spec.openai_target); the server's metrics endpoint from its runtime and the target's
URL (again when an InferenceService gives the URL: RunSpec.with_target_url). Every function returns new values (dataclasses.replace);
the spec it is given is never changed, and resolving a resolved spec changes nothing.
"""

from __future__ import annotations

from dataclasses import replace

from isvcperf.kserve import urls
from isvcperf.spec import metric_names, openai_target
from isvcperf.spec.model import SLO, Check, Endpoint, Load, RunSpec, Target
from isvcperf.spec.validity import stability_window

DEFAULT_REQUESTS = 100
"""Iter8's default: a run with neither duration nor requests sends this many."""
UNTIL_MAX_WINDOWS = 10
"""load.until: stable without a duration measures at most this many stability windows (perf_analyzer's
default max-trials: 10 windows of 5 s), README: load.until."""


def resolve(spec: RunSpec, base_dir: str) -> RunSpec:
    """The resolved form of a valid spec whose relative paths are relative to `base_dir`."""
    endpoints = [_endpoint(spec, endpoint) for endpoint in spec.endpoints]
    target = replace(spec.target, protocol=run_protocol(spec)) if endpoints else target_of(spec.target)
    resolved = replace(spec, base_dir=base_dir, target=target, endpoints=endpoints, checks=_checks(spec.checks),
                       load=_load(spec), slos=all_slos(spec), generate=openai_target.resolve_generate(spec))
    return resolved.with_server_resolved()


def endpoint_target(base: Target, endpoint: Endpoint) -> Target:
    """An endpoint's own target: its fields, and from `base` (the spec's target) what all endpoints share."""
    return Target(url=endpoint.url, base_url=endpoint.base_url, protocol=endpoint.protocol or base.protocol,
                  model=endpoint.model, method=endpoint.method or base.method,
                  headers={**base.headers, **endpoint.headers}, timeout=base.timeout,
                  ca_bundle=base.ca_bundle, insecure=base.insecure)


def run_protocol(spec: RunSpec) -> str:
    """The protocol whose family names the run's totals: the target's, or the first endpoint's."""
    return endpoint_target(spec.target, spec.endpoints[0]).protocol if spec.endpoints else spec.target.protocol


def target_of(target: Target) -> Target:
    """`target` with its URL and model filled in where the other fields give them.

    Without url and baseUrl the URL comes later from the InferenceService's status
    (readiness.isvc), and the model defaults to the InferenceService's name.
    """
    if target.protocol == "grpc-v2":
        return target  # the model may come from the payload's model_name (payload.grpc)
    if target.protocol == "openai":
        return openai_target.resolve_target(target)
    if target.url is None and target.base_url is None:
        return replace(target, model=target.model or target.isvc)
    if target.url is None:
        return replace(target, url=urls.infer_url(target.base_url or "", target.protocol, target.model or ""))
    if target.model is None and target.protocol != "raw":
        return replace(target, model=urls.model_of(target.url, target.protocol))
    return target


def all_slos(spec: RunSpec) -> dict[str, SLO]:
    """The run's SLOs under canonical names, followed by each endpoint's under `<family>-<id>/`."""
    slos = {metric_names.canonical(name): slo for name, slo in spec.slos.items()}
    family = metric_names.protocol_prefix(run_protocol(spec))
    for endpoint in spec.endpoints:
        prefix = metric_names.endpoint_prefix(family, endpoint.id)
        for name, slo in endpoint.slos.items():
            _, sep, metric = name.partition("/")
            slos[metric_names.canonical(f"{prefix}/{metric if sep else name}")] = slo
    return slos


def _endpoint(spec: RunSpec, endpoint: Endpoint) -> Endpoint:
    checks = _checks(endpoint.checks)
    return replace(endpoint, target=target_of(endpoint_target(spec.target, endpoint)),
                   payload=endpoint.payload or spec.payload, checks=checks,
                   all_checks=[*_checks(spec.checks), *checks])


def _checks(checks: list[Check]) -> list[Check]:
    """A bare jsonPath check means exists: true."""
    return [replace(c, exists=True) if c.json_path is not None and c.equals is None and c.exists is None else c
            for c in checks]


def _load(spec: RunSpec) -> Load:
    """Stages set the duration (and, of user stages, the most users); `until: stable` defaults its maximum;
    otherwise a run needs a duration or a count."""
    load = spec.load
    if load.until == "stable" and load.duration is None:
        _, window = stability_window(spec.validity, spec.metrics.interval)
        return replace(load, duration=UNTIL_MAX_WINDOWS * window)
    if load.stages:
        user_stages = [s.users for s in load.stages if s.users is not None]
        return replace(load, users=max(user_stages) if user_stages else load.users,
                       duration=sum(s.duration for s in load.stages))
    if load.duration is None and load.requests is None:
        return replace(load, requests=DEFAULT_REQUESTS)
    return load
