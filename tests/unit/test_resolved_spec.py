"""A loaded spec is resolved once and frozen: validation checks without changing anything,
every default is applied when the spec is loaded, and every deadline comes from one budget."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest

from isvcperf import spec
from isvcperf.kube import manifests
from isvcperf.loadgen.config import LoadgenConfig
from isvcperf.payload.bodies import load_payload
from isvcperf.plan.topology import loadgen_config
from isvcperf.spec.budget import REQUESTS_RUN_BOUND, budget
from isvcperf.spec.resolve import resolve
from isvcperf.util.errors import SpecError

URL = "http://127.0.0.1:8080/v2/models/iris/infer"


def data(**sections: Any) -> dict[str, Any]:
    return {"target": {"url": URL}, "payload": {"inline": {"inputs": []}}, **sections}


def test_a_loaded_spec_is_frozen_and_changed_only_by_replacing() -> None:
    run = spec.from_data(data())
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.target.url = "http://127.0.0.1:1/v2/models/other/infer"  # type: ignore[misc]
    moved = run.with_target_url("http://127.0.0.1:1/v2/models/iris/infer")
    assert moved.target.url.startswith("http://127.0.0.1:1/") and run.target.url == URL


def test_loading_leaves_the_data_as_it_was() -> None:
    given = data(notify={"url": "${HOOK}", True: "failure"},  # YAML 1.1 reads a bare `on:` as true
                 checks=[{"jsonPath": "outputs[0].shape"}], slos={"http/latency-p99.9": {"upper": 5}},
                 load={"stages": [{"duration": "1s", "users": 3}, {"duration": "2s", "users": 5}]})
    before = copy.deepcopy(given)
    run = spec.from_data(given)
    assert given == before
    assert run.notify is not None and run.notify.on == "failure"


def test_every_default_is_applied_once_at_load() -> None:
    run = spec.from_data(data(checks=[{"jsonPath": "outputs"}], slos={"http/latency-p99.9": {"upper": 5}},
                              load={"stages": [{"duration": "1s", "users": 3}, {"duration": "2s", "users": 5}]}))
    assert (run.target.timeout, run.ready.timeout, run.ready.interval, run.metrics.interval) == (30.0, 60.0, 1.0, 1.0)
    assert (run.kubernetes.linger, run.kubernetes.start_timeout, run.load.warmup.duration) == (300.0, 300.0, 0.0)
    assert (run.load.users, run.load.duration, run.load.requests) == (5, 3.0, None)
    assert run.target.model == "iris" and run.checks[0].exists is True
    assert list(run.slos) == ["http/latency-p99.9"] and run.slos["http/latency-p99.9"].grace_period == 0.0
    assert resolve(run, run.base_dir) == run  # resolving is done once; again it changes nothing


@pytest.mark.parametrize(("section", "key", "attr"), [
    ("target", "timeout", "timeout"), ("ready", "timeout", "timeout"), ("kubernetes", "linger", "linger"),
    ("kubernetes", "startTimeout", "start_timeout"), ("metrics", "interval", "interval"),
])
def test_null_means_the_default(section: str, key: str, attr: str) -> None:
    given = data()
    given[section] = {**given.get(section, {}), key: None}
    default = getattr(getattr(spec.from_data(data()), section), attr)
    assert getattr(getattr(spec.from_data(given), section), attr) == default is not None


@pytest.mark.parametrize(("changes", "field"), [
    ({"metrics": {"interval": "0s"}}, "metrics.interval"),
    ({"ready": {"interval": "0s"}}, "ready.interval"),
    ({"target": {"url": URL, "timeout": "0s"}}, "target.timeout"),
    ({"load": {"stages": [{"rate": 5}]}}, "load.stages[0].duration"),
])
def test_zero_and_missing_durations_are_named(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(SpecError) as raised:
        spec.from_data(data(**changes))
    assert raised.value.field == field


def test_an_endpoint_error_names_the_field_where_it_is_written() -> None:
    endpoints = [{"id": "a", "url": URL}, {"id": "b", "url": URL, "payload": {"url": "ftp://x"},
                                           "checks": [{"status": 99}]}]
    with pytest.raises(SpecError) as raised:
        spec.from_data(data(target={}, endpoints=endpoints))
    assert raised.value.field == "endpoints[1].payload.url"
    endpoints[1].pop("payload")
    with pytest.raises(SpecError) as raised:
        spec.from_data(data(target={}, endpoints=endpoints))
    assert (raised.value.field, raised.value.message) == ("endpoints[1].checks[0].status", "99 is not an HTTP status (100-599)")


def test_spec_error_within_places_a_relative_field() -> None:
    assert SpecError("url", "is required").within("endpoints[0]").field == "endpoints[0].url"
    assert SpecError("[2].status", "bad").within("checks").field == "checks[2].status"
    placed = SpecError("", "is required for protocol v2").within("payload")
    assert (placed.field, str(placed)) == ("payload", "payload: is required for protocol v2")


def test_one_budget_gives_every_deadline() -> None:
    timed = spec.from_data(data(load={"duration": "60s", "warmup": {"duration": "10s"}},
                                kubernetes={"linger": "2m", "startTimeout": "90s"}, target={"url": URL, "timeout": "5s"}))
    limits = budget(timed)
    assert limits.load == 60 + 10 + 5 + 120
    assert limits.master_job == 90 + limits.load + 120 and limits.launch_job == 60 + limits.load
    counted = budget(spec.from_data(data(load={"requests": 10})))
    assert counted.load is None and counted.load_bound == REQUESTS_RUN_BOUND


def test_the_cluster_and_the_master_use_the_same_linger() -> None:
    """kubernetes.linger once fell back to 300 s for the master and 0 s in its Job's deadline."""
    run = spec.from_data(data(load={"duration": "30s"}, kubernetes={"linger": None, "startTimeout": "60s"}))
    payload = load_payload(run)
    rendered = manifests.for_run(run, payload, "r1", "perf")
    assert rendered.plan is not None and rendered.plan.config.linger == run.kubernetes.linger == 300.0
    assert rendered.context["active_deadline"] == budget(run).master_job == 60 + (30 + 30 + 120) + 300
    assert loadgen_config(run, payload, 1).linger == 300.0


def test_the_loadgen_config_has_no_deadlines_of_its_own() -> None:
    """LoadgenConfig once kept copies of the spec's defaults (timeout 30, interval 1, linger 300)."""
    own = {f.name for f in dataclasses.fields(LoadgenConfig)
           if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING}
    assert not own & {"timeout", "interval", "linger"}
    for given in (data(), data(target={"url": URL, "timeout": "5s"}, metrics={"interval": "2s"},
                               kubernetes={"linger": "2m"})):
        run = spec.from_data(given)
        limits, config = budget(run), loadgen_config(run, load_payload(run), 1)
        assert (config.timeout, config.linger, config.interval) == (limits.request, limits.linger, run.metrics.interval)
        assert LoadgenConfig.from_json(config.to_json()) == config
    assert (config.timeout, config.linger, config.interval) == (5.0, 120.0, 2.0)


def test_a_generative_spec_is_resolved_and_frozen_like_the_others() -> None:
    given = {"target": {"protocol": "openai", "baseUrl": "http://127.0.0.1:8080", "openaiPrefix": "/v1",
                        "model": "tiny"},
             "generate": {"output": {"distribution": "uniform", "min": 8, "max": 16}}, "goodput": {"ttft": "200ms"}}
    before = copy.deepcopy(given)
    run = spec.from_data(given)
    assert given == before
    assert (run.target.api, run.target.url) == ("chat", "http://127.0.0.1:8080/v1/chat/completions")
    assert run.generate is not None and run.generate.prompts == 100 and run.goodput is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.generate.output.max = 32  # type: ignore[misc]
    assert resolve(run, run.base_dir) == run
    bare = spec.from_data({"target": {"protocol": "openai", "isvc": "llama"}})  # the URL comes from its status
    assert (bare.target.url, bare.target.model, bare.target.openai_prefix) == (None, "llama", "/openai/v1")
    assert bare.generate is not None and bare.generate.source == "synthetic"


def test_an_openai_inference_service_gives_the_openai_route_and_a_new_spec() -> None:
    from isvcperf.readiness.isvc import wait_isvc

    class Ready:
        namespace = "ns"

        def get_isvc(self, name: str, namespace: str) -> dict[str, Any]:
            return {"metadata": {"name": name}, "status": {"url": "http://llama.ns.example.com",
                                                           "conditions": [{"type": "Ready", "status": "True"}]}}

    run = spec.from_data({"target": {"protocol": "openai", "isvc": "llama", "api": "completions"}})
    ready = wait_isvc(run, Ready(), in_cluster=False)  # type: ignore[arg-type]
    assert ready.target.url == "http://llama.ns.example.com/openai/v1/completions" and run.target.url is None


@pytest.mark.parametrize("where", ["target", "endpoint"])
def test_openai_endpoints_are_refused(where: str) -> None:
    endpoint = {"id": "a", "baseUrl": "http://127.0.0.1:8080", "model": "m"}
    given = ({"target": {"protocol": "openai"}, "endpoints": [endpoint]} if where == "target" else
             {"payload": {"inline": {"inputs": []}}, "endpoints": [{**endpoint, "protocol": "openai"}]})
    with pytest.raises(SpecError) as caught:
        spec.from_data(given)
    assert caught.value.field == "endpoints" and "not supported with protocol openai" in caught.value.message
