"""Bad input: each case is one clear line on stderr, exit code 2, no traceback, no load sent."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

RunCli = Callable[..., subprocess.CompletedProcess[str]]
URL = "http://127.0.0.1:9/v2/models/sklearn-irisv2/infer"  # discard port: never contacted here

GOOD = f"""\
name: bad-input
target: {{url: "{URL}"}}
payload: {{file: payload.json}}
load: {{users: 2, requests: 10}}
slos: {{http/latency-p90: {{upper: 100}}}}
"""


def spec_file(tmp_path: Path, text: str = GOOD, payload: str = '{"inputs": []}') -> Path:
    (tmp_path / "payload.json").write_text(payload)
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return path


def assert_bad_input(proc: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("name: x\ntarget: {url: [oops\n", ("invalid YAML", "line")),
        (GOOD + "lode: {}\n", ("lode: unknown field", "did you mean 'load'?")),
        (GOOD.replace("users: 2", "users: lots"), ("load.users", '"lots" is not a whole number')),
        (GOOD.replace("users: 2", "users: 0"), ("load.users: 0 must be at least 1",)),
        (GOOD.replace("users: 2", "users: -3"), ("load.users: -3 must be at least 1",)),
        (GOOD.replace("requests: 10", "duration: five minutes"), ("load.duration", "use 300s, 5m or 1h30m")),
        (GOOD.replace("payload.json", "missing.json"), ("payload.file", "'missing.json' not found")),
        (GOOD.replace("latency-p90", "latency-p900"), ("slos.http/latency-p900", "unknown metric")),
        (GOOD.replace("http/latency-p90: {upper: 100}", "http/bogus: {upper: 1}"), ("unknown metric",)),
        (GOOD.replace("{upper: 100}", "{}"), ("slos.http/latency-p90", "needs an upper or a lower limit")),
        (GOOD.replace("{file: payload.json}", "{url: 'http://127.0.0.1:9/p.json'}"), ("payload.url", "unreachable")),
    ],
)
def test_bad_spec(tmp_path: Path, run_cli: RunCli, text: str, fragments: tuple[str, ...]) -> None:
    assert_bad_input(run_cli("run", str(spec_file(tmp_path, text))), *fragments)


def test_payload_not_json(tmp_path: Path, run_cli: RunCli) -> None:
    path = spec_file(tmp_path, payload="{inputs: nope")
    assert_bad_input(run_cli("run", str(path)), "payload.file", "is not valid JSON")


def test_missing_spec_file(tmp_path: Path, run_cli: RunCli) -> None:
    assert_bad_input(run_cli("run", "nowhere.yaml"), "spec file 'nowhere.yaml' not found")


def test_malformed_set(tmp_path: Path, run_cli: RunCli) -> None:
    assert_bad_input(run_cli("run", str(spec_file(tmp_path)), "--set", "load.users"), "--set", "not KEY=VALUE")


def test_set_of_unknown_field(tmp_path: Path, run_cli: RunCli) -> None:
    assert_bad_input(run_cli("run", str(spec_file(tmp_path)), "--set", "load.userz=3"), "load.userz", "'users'")


def test_unknown_launch_key(run_cli: RunCli) -> None:
    assert_bad_input(run_cli("launch", "--set", f"http.url={URL}", "--set", "http.qsp=3"), "http.qsp", "qps")


def test_validate_accepts_a_good_spec(tmp_path: Path, run_cli: RunCli) -> None:
    proc = run_cli("validate", str(spec_file(tmp_path)))
    assert proc.returncode == 0, proc.stderr
    assert "valid" in proc.stdout


def test_unwritable_output_directory(tmp_path: Path, run_cli: RunCli) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert_bad_input(run_cli("run", str(spec_file(tmp_path)), "--out", str(blocker / "out")), "--out", "cannot write")
