"""Several endpoints, payload sets and response checks: spec rules, exact splits, per-endpoint
figures that never mix, the path language and the checks themselves."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from isvcperf import spec
from isvcperf.loadgen.checks import ResponseChecks, compile_checks
from isvcperf.loadgen.control import Controller, Share
from isvcperf.loadgen.recorder import Recorder, decode_histogram, merge
from isvcperf.loadgen.routing import Route, smooth_weighted
from isvcperf.payload.bodies import load_payload
from isvcperf.results.metrics import with_endpoints
from isvcperf.spec import iter8, metric_names
from isvcperf.util import json_path
from isvcperf.util.errors import SpecError

URL_A = "http://127.0.0.1:8080/v2/models/iris/infer"
URL_B = "http://127.0.0.1:8081/v1/models/iris:predict"


def endpoints_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "payload": {"inline": {"inputs": []}},
        "endpoints": [{"id": "a", "url": URL_A, "weight": 3}, {"id": "b", "url": URL_B, "protocol": "v1"}],
    }
    data.update(changes)
    return data


# -- spec ---------------------------------------------------------------------------------


def test_endpoints_resolve_into_targets_and_endpoint_slos_join_the_flat_slos() -> None:
    data = endpoints_data(target={"headers": {"X-Team": "perf"}, "timeout": "5s"})
    data["endpoints"][1]["slos"] = {"latency-p90": {"upper": 100}, "http/error-rate": {"upper": 0}}
    data["endpoints"][1]["headers"] = {"X-Canary": "1"}
    run = spec.from_data(data)
    a, b = run.all_endpoints()
    assert (a.target.url, a.target.model, a.target.protocol) == (URL_A, "iris", "v2")
    assert (b.target.protocol, b.target.model, b.target.timeout) == ("v1", "iris", 5.0)
    assert b.target.headers == {"X-Team": "perf", "X-Canary": "1"}
    assert a.payload is run.payload  # the top-level payload is every endpoint's default
    assert set(run.slos) == {"http-b/latency-p90", "http-b/error-rate"}
    assert spec.request_headers(run, endpoint=b)["Content-Type"] == "application/json"


def test_one_target_is_one_endpoint_without_an_id() -> None:
    run = spec.from_data({"target": {"url": URL_A}, "payload": {"inline": {}}, "checks": [{"status": 200}]})
    (only,) = run.all_endpoints()
    assert only.id == "" and only.target is run.target and only.all_checks == run.checks


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"target": {"url": URL_A}}, "target.url", "cannot be given with endpoints"),
    ({"endpoints": [{"id": "A_1", "url": URL_A}]}, "endpoints[0].id", "lower-case letters"),
    ({"endpoints": [{"id": "a", "url": URL_A}, {"id": "a", "url": URL_A}]}, "endpoints[1].id", "unique"),
    ({"endpoints": [{"id": "a", "url": URL_A, "weight": 0}]}, "endpoints[0].weight", "at least 1"),
    ({"endpoints": [{"id": "a", "url": "ftp://x"}]}, "endpoints[0].url", "is not an http:// or https:// URL"),
    ({"endpoints": [{"id": "a", "baseUrl": "http://h"}]}, "endpoints[0].model", "is required to build the URL"),
    ({"endpoints": [{"id": "a", "url": URL_A}, {"id": "g", "url": "grpc://127.0.0.1:9000", "protocol": "grpc-v2"}]},
     "endpoints[1].protocol", "all speak HTTP (v2, v1, raw) or all grpc-v2"),
    ({"payload": {}, "endpoints": [{"id": "a", "url": URL_A}]}, "payload", "is required"),
    ({"endpoints": [{"id": "a", "url": URL_A, "payload": {"url": "x"}}]}, "endpoints[0].payload.url", "not an http"),
    ({"endpoints": [{"id": "a", "url": URL_A, "slos": {"grpc/latency-p90": {"upper": 1}}}]},
     "endpoints[0].slos.grpc/latency-p90", "http/METRIC"),
    ({"slos": {"http-c/latency-p90": {"upper": 1}}}, "slos.http-c/latency-p90", "no endpoint 'c' (endpoint ids: a, b)"),
    ({"slos": {"grpc-a/latency-p90": {"upper": 1}}}, "slos.grpc-a/latency/p90", "name it http-a/latency-p90"),
    ({"checks": [{"jsonPath": "outputs[x]"}]}, "checks[0].jsonPath", "at character 8"),
    ({"checks": [{"status": 200, "equals": 1}]}, "checks[0]", "equals and exists go with jsonPath"),
    ({"checks": [{}]}, "checks[0]", "give either status"),
    ({"checks": [{"jsonPath": "a", "equals": 1, "exists": True}]}, "checks[0]", "not both"),
    ({"payload": {"file": "x.json", "jsonl": "y.jsonl"}}, "payload", "not file and jsonl"),
])
def test_bad_endpoints_and_checks_are_named(changes: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(SpecError) as raised:
        spec.from_data(endpoints_data(**changes))
    assert raised.value.field == field
    assert message in str(raised.value)


def test_checks_are_refused_for_grpc() -> None:
    with pytest.raises(SpecError, match="checks: response checks apply to HTTP"):
        spec.from_data({"target": {"url": "grpc://127.0.0.1:9000", "protocol": "grpc-v2", "model": "m"},
                        "payload": {"inline": {"inputs": []}}, "checks": [{"status": 200}]})


def test_metric_names_accept_endpoint_prefixes() -> None:
    assert metric_names.check("http-canary/latency-p99.9", ["canary"]) is None
    assert "no endpoint" in (metric_names.check("http-canary/latency-p90") or "")
    assert metric_names.canonical("grpc-a/latency-p97.5") == "grpc-a/latency/p97.5"
    assert metric_names.split_prefix("http-my-ep") == ("http", "my-ep")


# -- payload sets ---------------------------------------------------------------------------


def test_payload_files_and_jsonl_give_one_body_each(tmp_path: Path) -> None:
    (tmp_path / "one.json").write_text('{"inputs": [1]}')
    (tmp_path / "two.json").write_text('{"inputs": [2]}')
    (tmp_path / "set.jsonl").write_text('{"inputs": [3]}\n\n  {"inputs": [4]}  \n')
    data = endpoints_data(payload={"files": ["one.json", "two.json"]})
    data["endpoints"][1]["payload"] = {"jsonl": "set.jsonl", "order": "random"}
    bodies = load_payload(spec.from_data(data, base_dir=str(tmp_path)))
    assert bodies.endpoints == ((b'{"inputs": [1]}', b'{"inputs": [2]}'), (b'{"inputs": [3]}', b'{"inputs": [4]}'))
    assert bodies.single is None


@pytest.mark.parametrize(("text", "message"), [
    ('{"inputs": []}\n\n{"inputs": [\n', "endpoints[1].payload.jsonl: line 3 is not valid JSON"),
    ("\n\n", "endpoints[1].payload.jsonl: holds no payloads"),
])
def test_jsonl_errors_name_the_line(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "set.jsonl").write_text(text)
    data = endpoints_data()
    data["endpoints"][1]["payload"] = {"jsonl": "set.jsonl"}
    with pytest.raises(SpecError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_payload(spec.from_data(data, base_dir=str(tmp_path)))


def test_a_bad_file_in_a_set_is_named(tmp_path: Path) -> None:
    (tmp_path / "ok.json").write_text("{}")
    (tmp_path / "bad.json").write_text("{")
    run = spec.from_data(endpoints_data(payload={"files": ["ok.json", "bad.json"]}), base_dir=str(tmp_path))
    with pytest.raises(SpecError, match=r"^payload\.files\[1\]: is not valid JSON"):
        load_payload(run)


@pytest.mark.parametrize("key", ["file", "files"])
def test_a_payload_error_names_its_file(tmp_path: Path, key: str) -> None:
    (tmp_path / "ok.json").write_text("{}")
    (tmp_path / "bad.json").write_text("{")
    payload = {"file": "bad.json"} if key == "file" else {"files": ["ok.json", "bad.json"]}
    with pytest.raises(SpecError, match=r"is not valid JSON in 'bad.json' \("):
        load_payload(spec.from_data(endpoints_data(payload=payload), base_dir=str(tmp_path)))


# -- exact splits ---------------------------------------------------------------------------


def test_smooth_weighted_round_robin_interleaves() -> None:
    assert smooth_weighted([3, 1]) == [0, 0, 1, 0]
    assert smooth_weighted([6, 2]) == [0, 0, 1, 0]  # reduced by the gcd
    assert sorted(smooth_weighted([5, 3, 2])) == [0] * 5 + [1] * 3 + [2] * 2


def test_slots_across_workers_split_exactly_by_weight_and_payload() -> None:
    # Four workers with exact shares number their tickets i, i+4, ...: together exactly 0..N-1,
    # so the 3:1 split and each endpoint's round-robin over its payload set are exact run-wide.
    shares = Share.split(4, 101, 0, rate=0.0, duration=None, warmup_duration=0.0)
    slots = []
    for share in shares:
        ctl = Controller(Recorder(), lambda: None)
        ctl.assign(share)
        ctl.start()
        while (ticket := ctl.acquire()) is not None:
            slots.append(ticket.slot)
            ctl.complete(ticket, 0.0, 0.0, None)
    assert sorted(slots) == list(range(101))
    route = Route([3, 1])
    picks = [route(slot) for slot in range(100)]
    assert sum(1 for index, _ in picks if index == 0) == 75
    numbers = sorted(number for index, number in picks if index == 1)
    assert numbers == list(range(25))  # each endpoint counts its own requests 0, 1, 2, ...
    assert [number % 2 for number in numbers].count(0) == 13  # a set of two bodies in turn


# -- per-endpoint figures -------------------------------------------------------------------


def test_endpoint_histograms_merge_per_endpoint_and_never_mix() -> None:
    recorders = [Recorder(open_loop=True, endpoints=2) for _ in range(2)]
    for worker, recorder in enumerate(recorders):
        for i in range(100):
            fast = i % 2 == 0
            recorder.record(0.0, 0.0, 0.001 if fast else 0.100, None if fast or worker else "HTTP 500",
                            endpoint=0 if fast else 1)
    merged = merge([r.snapshot() for r in recorders])
    fast, slow = merged["endpoints"]
    assert (fast["requests"], fast["errors"], slow["requests"], slow["errors"]) == (100, 0, 100, 50)
    assert decode_histogram(fast["histogram"]).get_max_value() < 1100  # µs: no slow request in it
    assert decode_histogram(slow["histogram"]).get_min_value() > 99_000
    assert decode_histogram(slow["service"]).get_total_count() == 100
    values = with_endpoints(merged, ["fast", "slow"], [90.0], 1.0)
    assert values["http-fast/latency-p90"] == pytest.approx(1.0, rel=1e-2)
    assert values["http-slow/latency-p90"] == pytest.approx(100.0, rel=1e-2)
    assert values["http-slow/error-rate"] == 0.5 and values["http/error-count"] == 50
    assert values["http/request-count"] == 200


# -- the path language and the checks ---------------------------------------------------------


def test_json_path_reads_keys_and_indices() -> None:
    document = {"outputs": [{"shape": [2, 1], "data": [0, None]}]}
    assert json_path.lookup(document, json_path.parse("outputs[0].shape")) == [2, 1]
    assert json_path.lookup(document, json_path.parse("outputs[-1].data[1]")) is None
    assert json_path.lookup(document, json_path.parse("outputs[1]")) is json_path.MISSING
    assert json_path.lookup(document, json_path.parse("outputs.shape")) is json_path.MISSING
    for bad in ("", ".a", "a..b", "a[", "a b"):
        with pytest.raises(ValueError):
            json_path.parse(bad)


def test_response_checks_name_the_failed_check() -> None:
    checks = ResponseChecks([{"status": 200}, {"jsonPath": "outputs[0].shape", "equals": [2, 1]},
                             {"jsonPath": "error", "exists": False}])
    good = json.dumps({"outputs": [{"shape": [2, 1]}]}).encode()
    assert checks(200, good) is None
    assert checks(201, good) == ("check failed: status 200", f"got HTTP 201: {good.decode()}")
    error, example = checks(200, b'{"outputs": [{"shape": [1, 1]}]}')  # type: ignore[misc]
    assert error == "check failed: outputs[0].shape equals [2, 1]"
    assert example.startswith("found [1, 1]; response: ")
    assert checks(200, b'{"outputs": [{"shape": [2, 1]}], "error": "x"}')[0] == "check failed: error is absent"  # type: ignore[index]
    assert checks(200, b"<html>")[0] == "check failed: response is not JSON"  # type: ignore[index]
    assert compile_checks([]) is None


# -- Iter8 ------------------------------------------------------------------------------------


def test_iter8_http_endpoints_become_spec_endpoints() -> None:
    notes: list[str] = []
    data = iter8.launch_data([
        "http.payloadFile=examples/payloads/sklearn-irisv2-input.json",
        "http.headers.Authorization=Bearer x",
        f"http.endpoints.stable.url={URL_A}",
        f"http.endpoints.next.url={URL_B}",
        "http.endpoints.next.payloadStr=123",
        "http.endpoints.next.contentType=text/plain",
        "http.endpoints.next.headers.X-Canary=1",
        "assess.SLOs.upper.http-next/latency-mean=50",
        "tasks={http,assess}",
    ], notes)
    run = spec.from_data(data, base_dir=str(Path(__file__).resolve().parents[2]))
    stable, following = run.endpoints
    assert (stable.id, stable.target.url, stable.target.protocol) == ("stable", URL_A, "v2")
    assert stable.payload is not None and stable.payload.file == "examples/payloads/sklearn-irisv2-input.json"
    assert following.target.protocol == "v1"
    assert following.payload is not None and following.payload.inline == "123"  # a text input stays text
    assert following.payload.file is None and following.payload.content_type == "text/plain"
    assert following.target.headers == {"Authorization": "Bearer x", "X-Canary": "1"}
    assert list(run.slos) == ["http-next/latency-mean"]
    assert any("http.endpoints" in note for note in notes)
    with pytest.raises(SpecError, match=r"http\.endpoints\.next\.qps: unknown key"):
        iter8.launch_data([f"http.endpoints.next.url={URL_A}", "http.endpoints.next.qps=3"])
