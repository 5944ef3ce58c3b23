"""Helm-syntax `--set` parsing: keys, escapes, quotes, list indices, values, errors."""

from __future__ import annotations

import pytest

from isvcperf import spec
from isvcperf.spec.overrides import (
    MAX_INDEX,
    apply_overrides,
    join_key,
    parse_overrides,
    parse_value,
    set_path,
    split_key,
    split_override,
    unescape_text,
)
from isvcperf.util.errors import SpecError

MINIMAL_SPEC = {"target": {"url": "http://127.0.0.1:9/v2/models/m/infer"}, "payload": {"inline": {}}}


@pytest.mark.parametrize(
    ("key", "parts"),
    [
        ("load.users", ["load", "users"]),
        ("slos.http/latency-p99\\.9.upper", ["slos", "http/latency-p99.9", "upper"]),
        ("slos.'http/latency-p97.5'.upper", ["slos", "http/latency-p97.5", "upper"]),
        ("a.p'97\\.5'", ["a", "p97.5"]),
        ("metrics.errorRanges[0].lower", ["metrics", "errorRanges", 0, "lower"]),
        ("a[2][10]", ["a", 2, 10]),
        ("a[0]", ["a", 0]),
        ("a.'b[0]'", ["a", "b[0]"]),
        ("a.b\\[0]", ["a", "b[0]"]),
    ],
)
def test_split_key(key: str, parts: list) -> None:
    assert split_key(key) == parts


@pytest.mark.parametrize("key", ["a[x]", "a[", "a[-1]", "a[]", "a[0]b", f"a[{MAX_INDEX + 1}]"])
def test_split_key_rejects_bad_index(key: str) -> None:
    with pytest.raises(ValueError):
        split_key(key)


@pytest.mark.parametrize(
    "parts", [["load", "users"], ["slos", "http/latency-p99.9", "upper"], ["a", 0, "b", 3], ["a", "it's [x]"]]
)
def test_join_key_round_trips(parts: list) -> None:
    assert split_key(join_key(parts)) == parts


def test_join_key_writes_indices_and_escapes() -> None:
    assert join_key(["metrics", "errorRanges", 0, "lower"]) == "metrics.errorRanges[0].lower"
    assert join_key(["slos", "http/latency-p99.9"]) == "slos.http/latency-p99\\.9"


def test_split_override_keeps_value_text() -> None:
    assert split_override("payload.inline=a=b") == (["payload", "inline"], "a=b")
    assert split_override(" load.users =8") == (["load", "users"], "8")


@pytest.mark.parametrize("text", ["load.users", "=8", " =8", "a..b=1", "[0]=1", "a[0].=1", "a.b[x]=1"])
def test_split_override_malformed_names_the_override(text: str) -> None:
    with pytest.raises(SpecError) as exc:
        split_override(text)
    assert exc.value.field == "--set"
    assert repr(text) in str(exc.value)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("8", 8),
        ("2.5", 2.5),
        ("true", True),
        ("null", None),
        ("hello", "hello"),
        ("", ""),
        ("{ready,http,assess}", ["ready", "http", "assess"]),
        ("{50, 99.9}", [50, 99.9]),
        ("{}", []),
        ("[1, 2]", "[1, 2]"),  # flow YAML is not a scalar: kept as text, never evaluated
        ("a: b", "a: b"),
    ],
)
def test_parse_value(text: str, value: object) -> None:
    assert parse_value(text) == value


def test_unescape_text_undoes_helm_escapes() -> None:
    assert unescape_text('{"a":1\\,"b":2}') == '{"a":1,"b":2}'
    assert unescape_text("a\\\\b") == "a\\b"
    assert unescape_text("plain") == "plain"


def test_set_path_creates_lists_padded_with_none() -> None:
    data: dict = {}
    set_path(data, ["m", "r", 1, "lower"], 500, "m.r[1].lower=500")
    set_path(data, ["m", "r", 1, "upper"], 599, "m.r[1].upper=599")
    set_path(data, ["m", "r", 0], "x", "m.r[0]=x")
    assert data == {"m": {"r": ["x", {"lower": 500, "upper": 599}]}}


def test_set_path_nested_lists() -> None:
    data: dict = {}
    set_path(data, ["a", 0, 1], 7, "a[0][1]=7")
    assert data == {"a": [[None, 7]]}


@pytest.mark.parametrize(
    ("data", "parts", "problem"),
    [
        ({"load": 3}, ["load", "users"], "load is a value, not a group of fields"),
        ({"a": {"b": 1}}, ["a", 0], "a is not a list, so it has no [0]"),
        ({"a": [1]}, ["a", "b"], "a is a list; set an item (a[0].b)"),
        ({"a": [1]}, ["a", 0, "b"], "a[0] is a value"),
    ],
)
def test_set_path_conflicts(data: dict, parts: list, problem: str) -> None:
    with pytest.raises(SpecError) as exc:
        set_path(data, parts, 1, "the override")
    assert str(exc.value).startswith("--set: 'the override': ")
    assert problem in str(exc.value)


def test_apply_overrides_indexes_existing_lists_and_leaves_input_alone() -> None:
    data = {"metrics": {"errorRanges": [{"lower": 400}]}, "load": {"users": 1}}
    result = apply_overrides(data, ["metrics.errorRanges[0].upper=499", "load.users=8", "name=x"])
    assert result == {"metrics": {"errorRanges": [{"lower": 400, "upper": 499}]}, "load": {"users": 8}, "name": "x"}
    assert data == {"metrics": {"errorRanges": [{"lower": 400}]}, "load": {"users": 1}}


def test_apply_overrides_later_wins() -> None:
    assert apply_overrides({}, ["load.users=2", "load.users=3"]) == {"load": {"users": 3}}


def test_parse_overrides() -> None:
    assert parse_overrides(["a.b[0]=1", "c={x,y}"]) == [(["a", "b", 0], 1), (["c"], ["x", "y"])]


@pytest.mark.parametrize(
    ("text", "value"),
    [("010", "010"), ("yes", "yes"), ("on", "on"), ("no", "no"), ("TRUE", True), ("Null", None),
     ("-3", -3), ("0", 0), ("0.5", 0.5), ("1e3", "1e3"), ("~", "~"), ("a\\,b", "a,b")],
)
def test_values_follow_helm_not_yaml_1_1(text: str, value: object) -> None:
    """Helm keeps 010, yes and on as text; YAML 1.1 would read 8 and true."""
    assert parse_value(text) == value


def test_an_int_field_given_a_leading_zero_says_why() -> None:
    with pytest.raises(SpecError) as exc:
        spec.from_data(apply_overrides(MINIMAL_SPEC, ["load.users=010"]))
    assert exc.value.field == "load.users" and '"010"' in str(exc.value) and "leading zero" in str(exc.value)


def test_comma_joined_overrides_as_in_helm() -> None:
    result = apply_overrides({}, ["load.users=2,load.rate=5", "name=a\\,b", "metrics.percentiles={50,99}"])
    assert result == {"load": {"users": 2, "rate": 5}, "name": "a,b", "metrics": {"percentiles": [50, 99]}}
    with pytest.raises(SpecError) as exc:
        apply_overrides({}, ["target.headers.Accept=a,b"])
    assert "'b' after a comma is not KEY=VALUE" in str(exc.value) and "\\," in str(exc.value)


@pytest.mark.parametrize("key", ["slos.http/latency-p99.9.upper", "slos.http/latency-p99.9"])
def test_an_unescaped_dot_in_an_slo_metric_gets_the_escaping_hint(key: str) -> None:
    with pytest.raises(SpecError) as exc:
        apply_overrides({}, [f"{key}=250"])
    assert "escape a dot in a metric name as \\." in str(exc.value)
    assert apply_overrides({}, ["slos.http/latency-p99\\.9.upper=250"]) == {"slos": {"http/latency-p99.9": {"upper": 250}}}


def test_null_drops_what_the_file_set_so_the_default_applies() -> None:
    data = {**MINIMAL_SPEC, "load": {"rate": 5, "users": 2},
            "slos": {"http/latency-mean": {"upper": 5}, "http/error-count": {"upper": 0}}}
    run_spec = spec.from_data(apply_overrides(data, ["load.rate=null", "slos.http/latency-mean=null"]))
    assert run_spec.load.rate == spec.from_data(MINIMAL_SPEC).load.rate and run_spec.load.users == 2
    assert list(run_spec.slos) == ["http/error-count"]
    in_file = {**data, "load": {"rate": None, "users": 2}, "slos": {**data["slos"], "http/latency-mean": None}}
    assert spec.from_data(in_file) == run_spec  # --set K=null means what `K: null` in the file means
    with pytest.raises(SpecError) as exc:  # a mistyped key is named, null or not
        spec.from_data(apply_overrides(data, ["laod.rate=null"]))
    assert exc.value.field == "laod"
    assert spec.from_data(apply_overrides(data, ["kubernetes.runAsUser=null"])).kubernetes.run_as_user is None
