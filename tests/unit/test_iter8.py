"""Iter8 0.13 `--set` flags → spec data that `spec.from_data` accepts."""

from __future__ import annotations

import pytest

from isvcperf import spec
from isvcperf.spec import protocol_of
from isvcperf.spec.iter8 import launch_data, read_launch
from isvcperf.spec.metric_names import DEFAULT_PERCENTILES
from isvcperf.util.errors import SpecError

URL = "http://127.0.0.1:8080/v2/models/sklearn-irisv2/infer"
TUTORIAL = [
    "tasks={ready,http,assess}",
    "ready.url=http://127.0.0.1:8080/v2/health/ready",
    "ready.timeout=180s",
    f"http.url={URL}",
    "http.payloadURL=file:///tmp/x.json",
    "http.contentType=application/json",
    "http.warmupNumRequests=50",
    "assess.SLOs.upper.http/latency-mean=500",
    "assess.SLOs.upper.http/latency-p90=1000",
    "assess.SLOs.upper.http/error-count=0",
    "runner=local",
]
MINIMAL = [f"http.url={URL}", "http.payloadStr=x"]


def launch(*flags: str) -> spec.RunSpec:
    """What `isvcperf launch --set ...` builds."""
    return spec.from_data(launch_data(list(flags)), base_dir="/tmp")


def refused(*flags: str) -> SpecError:
    with pytest.raises(SpecError) as exc:
        launch_data(list(flags))
    return exc.value


def test_kserve_tutorial_command() -> None:
    run = launch(*TUTORIAL)
    assert run.name == "launch"
    assert run.target.url == URL
    assert (run.target.protocol, run.target.model, run.target.method) == ("v2", "sklearn-irisv2", "POST")
    assert run.ready.url == "http://127.0.0.1:8080/v2/health/ready"
    assert (run.ready.enabled, run.ready.timeout) == (True, 180.0)
    assert (run.payload.url, run.payload.content_type) == ("file:///tmp/x.json", "application/json")
    assert (run.load.rate, run.load.users, run.load.requests, run.load.duration) == (8.0, 4, 100, None)
    assert run.load.warmup.requests == 50
    assert {name: (slo.upper, slo.lower) for name, slo in run.slos.items()} == {
        "http/latency-mean": (500.0, None),
        "http/latency-p90": (1000.0, None),
        "http/error-count": (0.0, None),
    }
    assert run.runner == "local"


def test_iter8_defaults_can_be_overridden() -> None:
    run = launch(
        *MINIMAL, "http.qps=20", "http.connections=16", "http.duration=30s", "http.warmupDuration=5s", "name=canary"
    )
    assert (run.load.rate, run.load.users, run.load.duration, run.load.requests) == (20.0, 16, 30.0, None)
    assert run.load.warmup.duration == 5.0
    assert run.name == "canary"
    assert launch(*MINIMAL, "http.numRequests=500").load.requests == 500


def test_spec_paths_pass_through_and_win_over_iter8_keys() -> None:
    run = launch("load.rate=3", *MINIMAL, "http.qps=20", "load.workers=2", "target.timeout=5s")
    assert (run.load.rate, run.load.workers, run.target.timeout) == (3.0, 2, 5.0)


def test_other_http_inputs() -> None:
    run = launch(
        "http.url=http://127.0.0.1:8080/v1/models/iris:predict",
        "http.payloadFile=body.json",
        "http.contentType=text/plain",
        "http.headers.Authorization=Bearer ${TOKEN}",
        "http.headers.X-Count=123",
        "http.method=PUT",
    )
    assert (run.target.protocol, run.target.model, run.target.method) == ("v1", "iris", "PUT")
    assert run.target.headers == {"Authorization": "Bearer ${TOKEN}", "X-Count": "123"}
    assert (run.payload.file, run.payload.content_type) == ("body.json", "text/plain")


def test_payload_str_is_text_with_helm_escapes_undone() -> None:
    assert launch(f"http.url={URL}", "http.payloadStr=123").payload.inline == "123"
    body = launch(f"http.url={URL}", 'http.payloadStr={"inputs":[]\\,"id":"1"}').payload.inline
    assert body == '{"inputs":[],"id":"1"}'


def test_raw_url_without_payload_is_a_get() -> None:
    run = launch("http.url=http://127.0.0.1:8080/healthz")
    assert (run.target.protocol, run.target.method, run.target.model) == ("raw", "GET", None)


@pytest.mark.parametrize(
    ("url", "protocol"),
    [
        (URL, "v2"),
        ("http://h/v2/models/m/versions/2/infer", "v2"),
        ("https://h:443/v1/models/m:predict", "v1"),
        ("http://h/v2/models/m/ready", "raw"),
        ("http://h/predict", "raw"),
    ],
)
def test_protocol_of(url: str, protocol: str) -> None:
    assert protocol_of(url) == protocol


def test_explicit_protocol_wins() -> None:
    assert launch(*MINIMAL, "target.protocol=raw").target.protocol == "raw"


def test_error_ranges_with_index_syntax() -> None:
    run = launch(
        *MINIMAL, "http.errorRanges[0].lower=500", "http.errorRanges[1].lower=400", "http.errorRanges[1].upper=404"
    )
    assert [(r.lower, r.upper) for r in run.metrics.error_ranges] == [(500, None), (400, 404)]


def test_percentiles_list_keeps_iter8_defaults() -> None:
    assert launch(*MINIMAL, "http.percentiles={99.99,50}").metrics.percentiles == [99.99, 50.0] + [
        p for p in DEFAULT_PERCENTILES if p != 50
    ]
    assert launch(*MINIMAL, "http.percentiles[0]=97.5").metrics.percentiles[0] == 97.5


def test_dotted_percentile_slo_and_lower_limit() -> None:
    run = launch(*MINIMAL, "assess.SLOs.upper.http/latency-p99\\.9=250", "assess.SLOs.lower.http/throughput=5")
    assert (run.slos["http/latency-p99.9"].upper, run.slos["http/throughput"].lower) == (250.0, 5.0)


def test_unescaped_dotted_percentile_says_to_escape() -> None:
    error = refused(*MINIMAL, "assess.SLOs.upper.http/latency-p99.9=250")
    assert error.field == "assess.SLOs.upper.http/latency-p99"
    assert "escape a dot" in str(error)


def test_tasks_follow_the_keys_when_not_given() -> None:
    assert launch(*MINIMAL).ready.enabled is False
    run = launch(*MINIMAL, "ready.timeout=10s", "assess.SLOs.upper.http/error-rate=0")
    assert run.ready.enabled is True
    assert set(run.slos) == {"http/error-rate"}


def test_tasks_without_ready_disable_readiness() -> None:
    assert launch("tasks={http}", *MINIMAL).ready.enabled is False
    assert launch("tasks=http", *MINIMAL).ready.enabled is False


@pytest.mark.parametrize(
    ("flags", "field", "message"),
    [
        (["htpp.url=x"], "htpp.url", "did you mean 'http'?"),
        (["http.qsp=3"], "http.qsp", "did you mean 'qps'?"),
        (["ready.timout=3s"], "ready.timout", "did you mean 'timeout'?"),
        (["assess.SLO.upper.http/error-count=0"], "assess.SLO", "did you mean 'SLOs'?"),
        (["assess.SLOs.uper.http/error-count=0"], "assess.SLOs.uper", "did you mean 'upper'?"),
        (["tasks={ready,htp}"], "tasks[1]", "did you mean 'http'?"),
        (["tasks={ready,assess}"], "tasks", "must include http or grpc"),
        (["tasks={http,grpc}"], "tasks", "one run tests one protocol"),
        (["grpc.host=127.0.0.1:8081"], "http.url", "the tasks run grpc; one run tests one protocol"),
        (["ready.service=s"], "ready.service", "not supported by isvcperf; for a local run give ready.url"),
        (["ready.deploy=d"], "ready.deploy", "not supported"),
        (["runner=job"], "runner", "use `isvcperf k launch`"),
        (["runner=cronjob", "cronjobSchedule=* * * * *"], "runner", "use `isvcperf k launch`"),
        (["runner=cronjob"], "runner", "go together"),
        (["cronjobSchedule=* * * * *"], "cronjobSchedule", "go together"),
        (["runner=pod"], "runner", "is not one of local, kubernetes, job, cronjob"),
        (["tasks={http}", "assess.SLOs.upper.http/error-count=0"], "assess.SLOs", "assess is not in tasks"),
        (["tasks={http,assess}", "ready.url=http://h/ready"], "ready.url", "ready is not in tasks"),
        (["http=x"], "http", "is a group of keys"),
        (["assess.SLOs.upper=1"], "assess.SLOs.upper", "is a group of keys"),
        (["tasks.x=http"], "tasks", "is not a list"),
    ],
)
def test_refused_keys_are_named(flags: list[str], field: str, message: str) -> None:
    error = refused(*MINIMAL, *flags)
    assert error.field == field
    assert message in str(error)


def test_ready_isvc_names_the_inference_service() -> None:
    data = launch_data(["ready.isvc=sklearn-irisv2", "ready.namespace=models", "ready.timeout=5m",
                        "http.payloadStr={}"])
    run = spec.from_data(data)
    assert (run.target.isvc, run.target.namespace, run.target.model) == ("sklearn-irisv2", "models", "sklearn-irisv2")
    assert run.target.url is None and run.ready.timeout == 300


def test_in_cluster_runners_are_read() -> None:
    launch = read_launch([*MINIMAL, "runner=cronjob", "cronjobSchedule=*/10 * * * *"])
    assert (launch.runner, launch.schedule) == ("cronjob", "*/10 * * * *")
    assert "runner" not in launch.data
    assert read_launch([*MINIMAL, "runner=job"]).runner == "job"


def test_url_is_required() -> None:
    assert refused("http.payloadStr=x").field == "http.url"
    assert refused("tasks={http}").field == "http.url"


def test_malformed_set_is_refused() -> None:
    assert refused("http.url").field == "--set"
    assert refused("http.errorRanges[x].lower=500").field == "--set"


def test_bad_values_are_left_to_the_spec() -> None:
    data = launch_data([*MINIMAL, "http.qps=fast", "load.users=many"])
    assert (data["load"]["rate"], data["load"]["users"]) == ("fast", "many")
    with pytest.raises(SpecError, match=r"^load\.rate: "):
        spec.from_data(data)


def test_unknown_spec_field_is_named_by_the_spec() -> None:
    with pytest.raises(SpecError, match=r"^load\.usres: unknown field; did you mean 'users'\?"):
        launch(*MINIMAL, "load.usres=3")
