"""`load.locustfile`: a user's own locustfile, written here the way README shows (import
isvcperf.loadgen's InferenceUser, override what is sent), run by `isvcperf run` with real
Locust processes against MLServer. The file decides what is sent; isvcperf still counts,
paces and judges it."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
PAYLOAD = ROOT / "examples" / "payloads" / "sklearn-irisv2-input.json"
RunCli = Callable[..., subprocess.CompletedProcess[str]]
REQUESTS = 40

# Every other request goes to a model MLServer does not serve: the user's file, not the
# built-in user, decided it, so exactly half the run's requests must fail.
LOCUSTFILE = '''\
"""My own locustfile: isvcperf's inference user, with every odd request sent to another model."""

from isvcperf.loadgen import user  # the module, not the class: Locust runs every User class in this namespace


class HalfElsewhereUser(user.InferenceUser):
    def request_bytes(self, endpoint: int, number: int) -> bytes:
        request = super().request_bytes(endpoint, number)
        if number % 2:
            return request.replace(b"/v2/models/sklearn-irisv2/", b"/v2/models/no-such-model/", 1)
        return request
'''


def test_own_locustfile_decides_what_is_sent(iris_server: Any, tmp_path: Path, run_cli: RunCli) -> None:
    (tmp_path / "my_locustfile.py").write_text(LOCUSTFILE)
    spec = {"name": "own-locustfile", "target": {"url": iris_server.infer_url},
            "ready": {"timeout": "60s", "interval": "0.2s"}, "payload": {"file": str(PAYLOAD)},
            "load": {"users": 2, "workers": 2, "requests": REQUESTS, "locustfile": "my_locustfile.py"},
            "slos": {"http/error-count": {"upper": 0}}}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))  # the locustfile is found relative to the spec
    out = tmp_path / "out"
    proc = run_cli("run", str(tmp_path / "spec.yaml"), "--out", str(out))
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the error-count SLO fails: half went elsewhere
    result = json.loads((out / "result.json").read_text())
    assert result["status"] == "completed"
    metrics = result["metrics"]
    assert metrics["http/request-count"] == REQUESTS  # exact counts hold with a user's own file
    assert metrics["http/error-count"] == REQUESTS // 2
    assert [e["type"] for e in result["errors"]] == ["HTTP 404"], result["errors"]
    assert "no-such-model" in result["errors"][0]["example"]


def test_missing_locustfile_is_one_line_naming_the_field(tmp_path: Path, run_cli: RunCli) -> None:
    spec = {"name": "own-locustfile", "target": {"url": "http://127.0.0.1:9/v2/models/m/infer"},
            "ready": {"enabled": False}, "payload": {"file": str(PAYLOAD)},
            "load": {"requests": 1, "locustfile": "nowhere.py"}}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    proc = run_cli("run", str(tmp_path / "spec.yaml"), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "load.locustfile" in proc.stderr and "nowhere.py" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_a_locustfile_with_no_user_class_could_not_run_and_is_not_called_valid(tmp_path: Path,
                                                                              run_cli: RunCli) -> None:
    # Locust says "No User class found" and the master exits: nothing is sent (so no target is needed)
    (tmp_path / "no_user.py").write_text('"""A locustfile that defines no User."""\n')
    spec = {"name": "no-user", "target": {"url": "http://127.0.0.1:9/v2/models/m/infer"},
            "ready": {"enabled": False}, "payload": {"file": str(PAYLOAD)},
            "load": {"users": 1, "workers": 1, "duration": "3s", "locustfile": "no_user.py"}}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    out = tmp_path / "out"
    proc = run_cli("run", str(tmp_path / "spec.yaml"), "--out", str(out), "--report", "text", "--report", "junit")
    assert proc.returncode == 3, proc.stdout + proc.stderr  # could not run, as the exit-code table says
    result = json.loads((out / "result.json").read_text())
    assert result["status"] == "could-not-run" and result["validity"]["verdict"] == "invalid"
    assert result["validity"]["checks"][0]["name"] == "nothing-measured"
    assert "Validity  INVALID: nothing-measured" in (out / "report.txt").read_text()
    # the reason quotes Locust's refusal and names the file it is in (Locust logs it to --logfile)
    assert result["reason"].endswith(f"(see {out / 'locust-master.log'}): No User class found!"), result["reason"]
