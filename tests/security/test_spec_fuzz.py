"""Spec input is data, never code, and any input ends in a RunSpec or a SpecError with a
message — never another exception (which the CLI would show as a traceback).

Hypothesis generates spec files (text and YAML structures shaped like specs), plain data
for the loader, and `--set` overrides applied to a valid spec; YAML tags that would build
Python objects and values that look like code are checked to stay inert."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from isvcperf import spec
from isvcperf.spec.overrides import apply_overrides
from isvcperf.util.errors import SpecError

FIELDS = ["name", "target", "url", "baseUrl", "protocol", "model", "method", "headers", "timeout", "caBundle",
          "insecure", "isvc", "payload", "file", "inline", "contentType", "load", "users", "workers", "rate",
          "duration", "requests", "warmup", "stages", "arrivals", "slos", "http/latency-p90", "http/error-count",
          "upper", "lower", "abortOnFail", "metrics", "percentiles", "errorRanges", "interval", "ready", "enabled",
          "runner", "kubernetes", "namespace", "notify", "on", "endpoints", "id", "weight", "sweep", "checks"]
SCALARS = (st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=True, allow_infinity=True)
           | st.text(max_size=30) | st.sampled_from(["1s", "2m", "-1s", "1e309", "http://127.0.0.1:1/v2/models/m/infer",
                                                   "${NOPE}", "grpc://h:1", "v2", "raw", "{a,b}", "[0]"]))
KEYS = st.sampled_from(FIELDS) | st.text(max_size=12)
DATA = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=6),
                    max_leaves=40)
VALID: dict[str, Any] = {
    "name": "fuzz",
    "target": {"url": "http://127.0.0.1:1/v2/models/m/infer"},
    "payload": {"inline": {"inputs": []}},
    "load": {"users": 2, "duration": "5s"},
    "slos": {"http/latency-p90": {"upper": 100}},
}
FUZZ = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def _loads_or_explains(load: Any) -> None:
    try:
        result = load()
    except SpecError as exc:
        assert str(exc).strip(), "a SpecError must say what is wrong"
        assert "\n" not in str(exc).strip(), f"one line, not {str(exc)!r}"
        return
    assert isinstance(result, spec.RunSpec)


@FUZZ
@given(data=st.dictionaries(KEYS, DATA, max_size=8))
def test_any_data_is_a_spec_or_a_spec_error(data: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> None:
    _loads_or_explains(lambda: spec.from_data(data, base_dir=str(tmp_path_factory.getbasetemp())))


@FUZZ
@given(section=st.sampled_from(sorted(VALID)), value=DATA)
def test_a_valid_spec_with_one_section_replaced(section: str, value: Any,
                                                tmp_path_factory: pytest.TempPathFactory) -> None:
    _loads_or_explains(lambda: spec.from_data({**VALID, section: value}, str(tmp_path_factory.getbasetemp())))


@FUZZ
@given(text=st.text(max_size=400) | st.builds(lambda d: yaml.safe_dump(d, allow_unicode=True), DATA))
def test_any_spec_file_is_a_spec_or_a_spec_error(text: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.getbasetemp() / "fuzz.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    _loads_or_explains(lambda: spec.load_file(path))


OVERRIDE_KEYS = st.sampled_from(
    ["load.users", "load.rate", "target.url", "slos.http/latency-p90.upper", "metrics.errorRanges[0].lower",
     "load.stages[1].rate", "target.headers.X", "name", "load", "a.b[3].c", "p'97\\.5'"]) | st.text(max_size=15)
OVERRIDES = st.text(max_size=40) | st.builds(lambda k, v: f"{k}={v}", OVERRIDE_KEYS, st.text(max_size=25))


@FUZZ
@given(overrides=st.lists(OVERRIDES, max_size=4))
def test_any_set_overrides_are_a_spec_or_a_spec_error(overrides: list[str],
                                                      tmp_path_factory: pytest.TempPathFactory) -> None:
    base = str(tmp_path_factory.getbasetemp())
    _loads_or_explains(lambda: spec.from_data(apply_overrides(VALID, overrides), base))


CODE = "__import__('os').system('touch {marker}')"


def test_yaml_python_tags_are_refused_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    path = tmp_path / "evil.yaml"
    path.write_text(f"name: !!python/object/apply:os.system ['touch {marker}']\n"
                    f"target: {{url: http://127.0.0.1:1/v2/models/m/infer}}\n")
    with pytest.raises(SpecError, match="invalid YAML"):
        spec.load_file(path)
    assert not marker.exists()


def test_set_values_are_data_never_evaluated(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    for value in (CODE.format(marker=marker), f"$(touch {marker})", f"`touch {marker}`",
                  f"!!python/object/apply:os.system ['touch {marker}']"):
        data = apply_overrides(VALID, [f"target.headers.X-Test={value}", f"load.locustfile={value}"])
        assert data["target"]["headers"]["X-Test"] == value  # kept as the text it is
        loaded = spec.from_data(data, str(tmp_path))
        assert loaded.target.headers["X-Test"] == value
    proc = subprocess.run([sys.executable, "-m", "isvcperf", "validate", str(_write(tmp_path)),
                           "--set", f"name={CODE.format(marker=marker)}"], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.startswith("isvcperf: error: name:"), proc.stderr
    assert "Traceback" not in proc.stderr
    assert not marker.exists()


def _write(directory: Path) -> Path:
    path = directory / "spec.yaml"
    path.write_text(yaml.safe_dump(VALID))
    return path
