"""The observability parts that need no server: spec checks, bucket quantiles, the remote-write encoding."""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

from isvcperf.loadgen.config import LoadgenConfig
from isvcperf.loadgen.prometheus import RunCollector
from isvcperf.loadgen.protocol import StatsDocument
from isvcperf.loadgen.recorder import Recorder, merge
from isvcperf.outputs import remote_write
from isvcperf.results import server_metrics as sm
from isvcperf.spec.load import load_file

SPEC = Path(__file__).resolve().parents[2] / "examples" / "sklearn-irisv2.yaml"


@pytest.mark.parametrize(("override", "field"), [
    ("outputs.prometheus.remoteWrite=prometheus:9090", "outputs.prometheus.remoteWrite"),
    ("outputs.prometheus.pushInterval=0s", "outputs.prometheus.pushInterval"),
    ("server.metricsUrl=ftp://x/metrics", "server.metricsUrl"),
    ("server.prometheus=http://prom:9090", "server.selector"),
    ("server.selector={job=\"x\"}", "server.selector"),
    ("server.runtime=auto", "server"),
    ("server.runtime=triton", "server.runtime"),
])
def test_bad_observability_fields_are_one_line_naming_the_field(override: str, field: str) -> None:
    done = subprocess.run([sys.executable, "-m", "isvcperf", "validate", str(SPEC), "--set", override],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and field in lines[0] and "Traceback" not in done.stderr, done.stderr


def test_runtime_default_metrics_endpoint_is_on_the_targets_host() -> None:
    spec = load_file(SPEC, ["target.url=http://10.0.0.7:8080/v2/models/m/infer", "server.runtime=mlserver"])
    assert spec.server is not None and spec.server.metrics_url == "http://10.0.0.7:8082/metrics"  # resolved at load
    assert sm.source_for(spec.server).source == "http://10.0.0.7:8082/metrics"
    spec = load_file(SPEC, ["target.url=https://m.example/v2/models/m/infer", "server.runtime=vllm"])
    assert sm.source_for(spec.server).source == "https://m.example:443/metrics"  # type: ignore[arg-type]


def test_an_inference_services_url_resolves_the_servers_metrics_endpoint_again() -> None:
    spec = load_file(SPEC, ["target.url=http://10.0.0.7:8080/v2/models/m/infer", "server.runtime=mlserver"])
    isvc = dataclasses.replace(spec, target=dataclasses.replace(spec.target, url=None),
                               server=dataclasses.replace(spec.server, metrics_url=None))  # type: ignore[arg-type]
    moved = isvc.with_target_url("http://iris.models.svc.cluster.local/v2/models/iris/infer")
    assert moved.server is not None and moved.server.metrics_url == "http://iris.models.svc.cluster.local:8082/metrics"


def test_quantile_interpolates_like_histogram_quantile() -> None:
    buckets = {0.1: 50.0, 0.2: 100.0, math.inf: 100.0}
    assert sm.quantile(0.5, buckets) == pytest.approx(0.1)
    assert sm.quantile(0.75, buckets) == pytest.approx(0.15)
    assert sm.quantile(0.9, {0.1: 0.0, math.inf: 10.0}) == 0.1  # in the open top bucket: its lower bound
    assert sm.quantile(0.5, {math.inf: 0.0}) is None


def test_mlserver_profile_counts_infer_requests_only() -> None:
    samples: list[sm.Sample] = [
        ("rest_server_requests_total", {"path": "/v2/models/{model_name}/infer", "status_code": "200"}, 7.0),
        ("rest_server_requests_total", {"path": "/v2/models/{model_name}/infer", "status_code": "500"}, 1.0),
        ("rest_server_requests_total", {"path": "/v2/models/{model_name}/ready", "status_code": "200"}, 40.0),
        ("rest_server_request_duration_seconds_bucket", {"path": "/v2/models/{model_name}/infer", "le": "+Inf"}, 8.0),
        ("model_infer_request_duration_sum", {"model": "m"}, 0.004),
        ("model_infer_request_duration_count", {"model": "m"}, 8.0),
    ]
    profile = sm.recognise(samples)
    assert profile is sm.PROFILES["mlserver"]
    reading = sm.read(profile, samples, 0.0)
    assert reading.requests == 8
    assert reading.buckets == {math.inf: 8.0}
    assert reading.parts == {"inference": (0.004, 8.0)}


def test_remote_write_carries_every_sample_with_sorted_labels() -> None:
    counter = CounterMetricFamily("isvcperf_requests", "d", labels=["run", "phase"])
    counter.add_metric(["r", "measured"], 12)
    histogram = HistogramMetricFamily("isvcperf_latency_seconds", "d", labels=["run"])
    histogram.add_metric(["r"], [("0.1", 3), ("+Inf", 4)], sum_value=0.5)
    request = remote_write.decode(remote_write.encode([counter, histogram], 1700000000.25))
    series = {tuple((label.name, label.value) for label in s.labels): s.samples[0] for s in request.timeseries}
    key = (("__name__", "isvcperf_requests_total"), ("phase", "measured"), ("run", "r"))
    assert series[key].value == 12 and series[key].timestamp == 1700000000250
    bucket = (("__name__", "isvcperf_latency_seconds_bucket"), ("le", "+Inf"), ("run", "r"))
    assert series[bucket].value == 4
    assert len(request.timeseries) == 1 + 4  # the counter; two buckets, count and sum


def _families(open_loop: bool, late_us: list[int]) -> dict[str, dict[str, float]]:
    """The master's /metrics families for one worker whose requests went out `late_us` late:
    family name → {sample name and le: value}."""
    recorder = Recorder(open_loop=open_loop)
    recorder.begin(100.0)
    for i, late in enumerate(late_us):
        intended = 100.0 + i / 1000
        recorder.record(intended, intended + late / 1e6, intended + 0.002, None)
    document = {"phase": "running", "total": merge([recorder.snapshot()]), "workers": {}}
    collector = RunCollector(LoadgenConfig(run_name="r", run_id="1", timeout=5.0, interval=1.0, linger=2.0), lambda: StatsDocument(**document))  # type: ignore[typeddict-item]
    return {family.name: {sample.name + sample.labels.get("le", ""): sample.value for sample in family.samples}
            for family in collector.collect()}


def test_metrics_export_send_lateness_in_open_loop_only() -> None:
    late_us = [20, 40, 90, 90, 300, 3000, 40_000]
    lateness = _families(True, late_us)["isvcperf_send_lateness_seconds"]
    assert lateness["isvcperf_send_lateness_seconds_count"] == len(late_us)
    # cumulative counts at the lateness bounds, exact: the HdrHistogram holds these values to 3 digits
    cumulative = {"5e-05": 2, "0.0001": 4, "0.0005": 5, "0.005": 6, "0.025": 6, "0.1": 7, "+Inf": 7}
    assert {le: lateness[f"isvcperf_send_lateness_seconds_bucket{le}"] for le in cumulative} == cumulative
    assert lateness["isvcperf_send_lateness_seconds_sum"] == pytest.approx(sum(late_us) / 1e6, rel=1e-3)
    assert "isvcperf_send_lateness_seconds" not in _families(False, late_us)  # closed loop: nothing is late
