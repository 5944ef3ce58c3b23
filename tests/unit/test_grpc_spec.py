"""gRPC in the spec layer: grpc:// targets, Iter8's grpc task, gRPC metric names, the ModelInferRequest payload."""

from __future__ import annotations

import json
from typing import Any

import pytest

from isvcperf import spec
from isvcperf.grpc_v2.grpc_predict_v2_pb2 import ModelInferRequest
from isvcperf.payload import grpc as grpc_payload
from isvcperf.spec import metric_names
from isvcperf.spec.iter8 import launch_data
from isvcperf.util.errors import SpecError

TUTORIAL_INPUT = {
    "model_name": "sklearn-irisv2",
    "inputs": [{"name": "input-0", "shape": [2, 4], "datatype": "FP32",
                "contents": {"fp32_contents": [6.8, 2.8, 4.8, 1.4, 6.0, 3.4, 4.5, 1.6]}}],
}
REST_INPUT = {"inputs": [{"name": "input-0", "shape": [2, 4], "datatype": "FP32",
                          "data": [[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6]]}]}
TUTORIAL_FLAGS = [
    "tasks={ready,grpc,assess}",
    "grpc.host=127.0.0.1:8081",
    "grpc.call=inference.GRPCInferenceService.ModelInfer",
    "grpc.protoURL=https://raw.githubusercontent.com/kserve/kserve/master/docs/predict-api/v2/grpc_predict_v2.proto",
    "grpc.dataURL=file:///tmp/sklearn-irisv2-input-grpc.json",
    "grpc.warmupNumRequests=10",
    "assess.SLOs.upper.grpc/latency/mean=50",
    "assess.SLOs.upper.grpc/error-count=0",
    "assess.SLOs.upper.grpc/latency/p'97\\.5'=7500",
    "runner=local",
]


def grpc_spec(**target: Any) -> spec.RunSpec:
    data = {"target": {"url": "grpc://127.0.0.1:8081", "protocol": "grpc-v2", **target},
            "payload": {"inline": TUTORIAL_INPUT}}
    return spec.from_data(data)


def spec_error(data: dict[str, Any]) -> SpecError:
    with pytest.raises(SpecError) as exc:
        spec.from_data(data)
    return exc.value


# -- target --------------------------------------------------------------------------------


def test_grpc_target_keeps_its_url_and_needs_no_model() -> None:
    run = grpc_spec()
    assert run.infer_url == "grpc://127.0.0.1:8081"
    assert run.target.model is None  # taken from the payload's model_name when it is loaded


@pytest.mark.parametrize(
    ("target", "field", "message"),
    [
        ({"url": "127.0.0.1:8081"}, "target.url", "is not grpc://HOST:PORT"),
        ({"url": "grpc://127.0.0.1"}, "target.url", "is not grpc://HOST:PORT"),
        ({"url": "http://127.0.0.1:8081/v2/models/m/infer"}, "target.url", "is not grpc://HOST:PORT"),
        ({"url": "grpc://127.0.0.1:8081/v2"}, "target.url", "is not grpc://HOST:PORT"),
        ({"baseUrl": "grpc://127.0.0.1:8081"}, "target.baseUrl", "is for HTTP protocols"),
        ({"url": "grpc://127.0.0.1:8081", "caBundle": "ca.pem"}, "target.caBundle", "use grpcs://127.0.0.1:8081"),
        ({"url": "grpcs://127.0.0.1:8081", "insecure": True}, "target.insecure", "give target.caBundle"),
    ],
)
def test_bad_grpc_targets_are_named(target: dict[str, Any], field: str, message: str) -> None:
    error = spec_error({"target": {"protocol": "grpc-v2", **target}, "payload": {"inline": TUTORIAL_INPUT}})
    assert error.field == field
    assert message in str(error)


def test_a_grpc_url_with_an_http_protocol_says_what_to_set() -> None:
    error = spec_error({"target": {"url": "grpc://127.0.0.1:8081"}, "payload": {"inline": "x"}})
    assert error.field == "target.url" and "target.protocol: grpc-v2" in str(error)


def test_grpc_metadata_gets_no_content_type() -> None:
    run = grpc_spec(headers={"Authorization": "Bearer x"})
    assert spec.request_headers(run) == {"Authorization": "Bearer x"}


# -- metric names --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "reported"),
    [
        ("grpc/latency/mean", "grpc/latency/mean"),
        ("grpc/latency-mean", "grpc/latency/mean"),
        ("grpc/latency-p97.5", "grpc/latency/p97.5"),
        ("grpc/latency/p90.0", "grpc/latency/p90"),
        ("grpc/error-rate", "grpc/error-rate"),
        ("http/latency-p90", "http/latency-p90"),
        ("http/latency/p90", "http/latency-p90"),
    ],
)
def test_both_latency_spellings_resolve_to_the_reported_name(given: str, reported: str) -> None:
    assert metric_names.canonical(given) == reported
    assert metric_names.check(reported) is None


def test_an_slo_on_the_other_protocols_metrics_is_refused() -> None:
    error = spec_error({"target": {"url": "grpc://127.0.0.1:8081", "protocol": "grpc-v2"},
                        "payload": {"inline": TUTORIAL_INPUT}, "slos": {"http/latency-p90": {"upper": 1}}})
    assert error.field == "slos.http/latency-p90" and "grpc/latency/p90" in str(error)


# -- Iter8's grpc task ---------------------------------------------------------------------


def test_the_tutorial_flags_translate() -> None:
    notes: list[str] = []
    run = spec.from_data(launch_data(TUTORIAL_FLAGS, notes))
    assert run.target.protocol == "grpc-v2"
    assert run.infer_url == "grpc://127.0.0.1:8081"
    assert run.payload.url == "file:///tmp/sklearn-irisv2-input-grpc.json"
    assert run.ready.enabled is True
    assert run.load.warmup.requests == 10
    # ghz's defaults, which Iter8's grpc task inherits
    assert (run.load.requests, run.load.users, run.load.rate) == (200, 50, 0.0)
    assert {name: slo.upper for name, slo in run.slos.items()} == {
        "grpc/latency/mean": 50, "grpc/error-count": 0, "grpc/latency/p97.5": 7500}
    assert len(notes) == 1 and "grpc.protoURL is not read" in notes[0]


def test_grpc_load_keys_and_metadata() -> None:
    run = spec.from_data(launch_data([
        "grpc.host=127.0.0.1:8081", "grpc.rps=20", "grpc.concurrency=3", "grpc.duration=5s",
        "grpc.metadata.authorization=Bearer ${TOKEN}", "grpc.data.model_name=m",
        "grpc.data.inputs[0].name=x", "grpc.timeout=2s",
    ]))
    assert (run.load.rate, run.load.users, run.load.duration, run.load.requests) == (20.0, 3, 5.0, None)
    assert run.target.headers == {"authorization": "Bearer ${TOKEN}"}
    assert run.target.timeout == 2.0
    assert run.payload.inline == {"model_name": "m", "inputs": [{"name": "x"}]}
    assert run.ready.enabled is False


@pytest.mark.parametrize(
    ("flags", "field", "message"),
    [
        (["grpc.call=helloworld.Greeter.SayHello"], "grpc.call", "inference.GRPCInferenceService.ModelInfer"),
        (["grpc.totl=5"], "grpc.totl", "did you mean 'total'?"),
        (["grpc.binaryDataURL=http://h/x"], "grpc.binaryDataURL", "give the ModelInferRequest as JSON"),
        (["grpc.endpoints.a.host=h:1"], "grpc.endpoints", "write a spec file with endpoints:"),
    ],
)
def test_refused_grpc_keys_are_named(flags: list[str], field: str, message: str) -> None:
    with pytest.raises(SpecError) as exc:
        launch_data(["grpc.host=127.0.0.1:8081", *flags])
    assert exc.value.field == field and message in str(exc.value)


def test_grpc_needs_a_host() -> None:
    with pytest.raises(SpecError) as exc:
        launch_data(["tasks={grpc}", "grpc.total=5"])
    assert exc.value.field == "grpc.host"


# -- payload -------------------------------------------------------------------------------


def decoded(run: spec.RunSpec, data: Any, field: str = "payload.inline") -> ModelInferRequest:
    return ModelInferRequest.FromString(grpc_payload.encode(run.target, json.dumps(data).encode(), field))


def test_the_tutorials_json_form_is_sent_as_is_and_names_the_model() -> None:
    # Imported here, not at the top: engine.run loads the kubernetes client (urllib3, ssl), and a
    # module collected later that imports Locust (test_openai_stream) must patch ssl before that.
    from isvcperf.engine.run import check_inputs

    run, _ = check_inputs(grpc_spec())  # the spec as a run reads it once the payload is loaded
    request = decoded(run, TUTORIAL_INPUT)
    assert request.model_name == "sklearn-irisv2" and run.target.model == "sklearn-irisv2"
    assert list(request.inputs[0].shape) == [2, 4]
    assert request.inputs[0].contents.fp32_contents == pytest.approx(TUTORIAL_INPUT["inputs"][0]["contents"]["fp32_contents"])


def test_a_rest_v2_request_is_converted() -> None:
    run = grpc_spec(model="sklearn-irisv2")
    rest = {**REST_INPUT, "id": "r1", "parameters": {"content_type": "np"},
            "outputs": [{"name": "predict"}]}
    request = decoded(run, rest)
    assert request.model_name == "sklearn-irisv2" and request.id == "r1"
    tensor = request.inputs[0]
    assert (tensor.name, tensor.datatype, list(tensor.shape)) == ("input-0", "FP32", [2, 4])
    assert tensor.contents.fp32_contents == pytest.approx([6.8, 2.8, 4.8, 1.4, 6.0, 3.4, 4.5, 1.6])
    assert request.parameters["content_type"].string_param == "np"
    assert request.outputs[0].name == "predict"


def test_rest_datatypes_go_to_their_contents_field() -> None:
    run = grpc_spec(model="m")
    request = decoded(run, {"inputs": [
        {"name": "a", "shape": [2], "datatype": "INT64", "data": [1, 2]},
        {"name": "b", "shape": [1], "datatype": "BYTES", "data": ["hi"]},
        {"name": "c", "shape": [1], "datatype": "BOOL", "data": [True]},
    ]})
    assert list(request.inputs[0].contents.int64_contents) == [1, 2]
    assert list(request.inputs[1].contents.bytes_contents) == [b"hi"]
    assert list(request.inputs[2].contents.bool_contents) == [True]


@pytest.mark.parametrize(
    ("data", "target_model", "field", "message"),
    [
        ({"inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP32", "data": [1, 2]}]}, "m",
         "payload.inline.inputs[0].data", "has 2 elements but shape [2, 4] needs 8"),
        ({"inputs": [{"name": "x", "shape": [1], "datatype": "FP16", "data": [1]}]}, "m",
         "payload.inline.inputs[0].datatype", "FP16 needs raw_input_contents"),
        ({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": ["a"]}]}, "m",
         "payload.inline.inputs[0].data", "does not hold FP32 values"),
        ({"inputs": [{"name": "x", "shape": [1], "data": [1]}]}, "m", "payload.inline.inputs[0]", "lacks datatype"),
        ({"model_name": "m", "inputs": [{"name": "x", "contents": {"fp32": [1]}}]}, None,
         "payload.inline", 'has no field named "fp32"'),
        ({**TUTORIAL_INPUT, "model_name": "a"}, "b", "payload.inline", "but target.model is 'b'"),
        ({"inputs": TUTORIAL_INPUT["inputs"]}, None, "target.model", "the gRPC payload has no model_name"),
        ({"inputs": []}, "m", "payload.inline", "non-empty list of inputs"),
        ([1, 2], "m", "payload.inline", "must be a JSON object"),
    ],
)
def test_payload_problems_name_the_field(data: Any, target_model: str | None, field: str, message: str) -> None:
    run = grpc_spec(model=target_model) if target_model else grpc_spec()
    with pytest.raises(SpecError) as exc:
        decoded(run, data)
    assert exc.value.field == field
    assert message in str(exc.value)
