"""RunSpec loading: defaults, derived fields, and one clear error per bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from isvcperf import spec
from isvcperf.util.durations import format_duration, parse_duration
from isvcperf.util.errors import SpecError

URL = "http://127.0.0.1:8080/v2/models/sklearn-irisv2/infer"


def data(**changes: object) -> dict:
    base: dict = {"target": {"url": URL}, "payload": {"inline": {"inputs": []}}}
    base.update(changes)
    return base


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("300s", 300), ("5m", 300), ("1h30m", 5400), ("250ms", 0.25), ("1.5s", 1.5), (42, 42), ("10", 10)],
)
def test_durations_parse(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["five minutes", "5 m", "-3s", "", "1x", True])
def test_bad_durations_say_how(text: object) -> None:
    with pytest.raises(ValueError, match=r"300s, 5m or 1h30m|negative"):
        parse_duration(text)


def test_format_duration_round_trips() -> None:
    for seconds in (0.25, 1.5, 45, 60, 5400, 3661):
        assert parse_duration(format_duration(seconds)) == pytest.approx(seconds)


def test_defaults_and_derived_model() -> None:
    run = spec.from_data(data())
    assert run.target.model == "sklearn-irisv2"
    assert run.load.requests == 100  # Iter8's default when no duration
    assert run.load.users == 4
    assert run.metrics.percentiles == [50, 75, 90, 95, 99, 99.9]


def test_url_built_from_base_url() -> None:
    run = spec.from_data(data(target={"baseUrl": "http://127.0.0.1:9000/", "model": "m", "protocol": "v1"}))
    assert run.infer_url == "http://127.0.0.1:9000/v1/models/m:predict"


def test_headers_expand_env_and_are_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKEN_FOR_TEST", "s3cret")
    run = spec.from_data(data(target={"url": URL, "headers": {"Authorization": "Bearer ${TOKEN_FOR_TEST}"}}))
    assert spec.request_headers(run)["Authorization"] == "Bearer s3cret"
    assert spec.request_headers(run, expand=False)["Authorization"] == "Bearer ${TOKEN_FOR_TEST}"
    assert "s3cret" not in str(run.to_data())


def test_missing_env_var_is_named() -> None:
    run = spec.from_data(data(target={"url": URL, "headers": {"X": "${NOT_SET_ANYWHERE_42}"}}))
    with pytest.raises(SpecError, match=r"target\.headers\.X: environment variable NOT_SET_ANYWHERE_42 is not set"):
        spec.request_headers(run)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"lod": {}}, "lod: unknown field; did you mean 'load'?"),
        ({"load": {"usrs": 3}}, "load.usrs: unknown field; did you mean 'users'?"),
        ({"load": {"users": 0}}, "load.users: 0 must be at least 1"),
        ({"load": {"users": -2}}, "load.users: -2 must be at least 1"),
        ({"load": {"users": "many"}}, 'load.users: "many" is not a whole number'),
        ({"load": {"duration": "five minutes"}}, 'load.duration: "five minutes" is not a duration (use 300s, 5m or 1h30m)'),
        ({"load": {"duration": "1m", "requests": 5}}, "load: give either duration or requests"),
        ({"slos": {"http/latency-p90": {}}}, "slos.http/latency-p90: needs an upper or a lower limit"),
        ({"slos": {"http/latency-p90": {"uper": 3}}}, "slos.http/latency-p90.uper: unknown field; did you mean 'upper'?"),
        ({"slos": {"http/latencyp90": {"upper": 3}}}, "slos.http/latencyp90: unknown metric"),
        ({"target": {"url": "ftp://x"}}, "target.url: \"ftp://x\" is not an http:// or https:// URL"),
        ({"target": {"url": "http://127.0.0.1/predict"}}, "target.model: is required"),
        ({"payload": {}}, "payload: is required for protocol v2"),
        ({"target": {"url": URL, "protocol": "v3"}}, 'target.protocol: "v3" is not one of v2, v1, raw'),
    ],
)
def test_bad_fields_are_named(changes: dict, message: str) -> None:
    with pytest.raises(SpecError) as info:
        spec.from_data(data(**changes))
    assert message in str(info.value)


def test_yaml_errors_carry_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\ntarget:\n  url: [unclosed\nload: {}\n")
    with pytest.raises(SpecError, match=r"line \d+"):
        spec.load_file(path)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="not found"):
        spec.load_file(tmp_path / "nope.yaml")


def test_overrides_apply_before_validation(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(f"target: {{url: '{URL}'}}\npayload: {{inline: x}}\n")
    run = spec.load_file(path, ["load.users=9", "load.duration=2m", "slos.http/latency-p99\\.9.upper=5"])
    assert (run.load.users, run.load.duration, run.name) == (9, 120.0, "t")
    assert run.slos["http/latency-p99.9"].upper == 5
