"""Real runs watched while they go: abortOnFail stops a run early, Locust's web UI shows the
SLO tab, and a server answering with markup cannot inject it into any report."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
import yaml
from browser import chromium, chromium_path
from loopback import serve_http

ROOT = Path(__file__).resolve().parents[2]
PAYLOAD = ROOT / "examples" / "payloads" / "sklearn-irisv2-input.json"
HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2"> | `x` **y**'
RunCli = Callable[..., subprocess.CompletedProcess[str]]


def spec_file(tmp_path: Path, url: str, **sections: Any) -> Path:
    data: dict[str, Any] = {"name": "watched", "target": {"url": url}, "ready": {"timeout": "30s", "interval": "0.2s"},
                            "payload": {"file": str(PAYLOAD)},
                            "load": {"users": 2, "workers": 1, "duration": "20s", "warmup": {"requests": 10}}}
    data.update(sections)
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_abort_on_fail_stops_the_run_and_says_why(iris_server: Any, tmp_path: Path, run_cli: RunCli) -> None:
    slos = {"http/latency-p50": {"upper": 0.001, "abortOnFail": True, "gracePeriod": "2s"},
            "http/error-count": {"upper": 0}}
    spec = spec_file(tmp_path, iris_server.infer_url, slos=slos)
    out = tmp_path / "out"
    proc = run_cli("run", str(spec), "--out", str(out))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    result = json.loads((out / "result.json").read_text())
    assert result["status"] == "interrupted"
    assert result["reason"].startswith("stopped early after ")
    assert "SLO http/latency-p50 was " in result["reason"] and "limit ≤ 0.001 ms (abortOnFail, grace period 2s)" in result["reason"]
    measured_before_stop = float(result["reason"].split("after ")[1].split("s of")[0])
    assert 2.0 <= measured_before_stop < 20.0
    assert 0 < result["measuredSeconds"] < 20.0  # the 20 s run did not go on
    assert {s["metric"]: s["satisfied"] for s in result["slos"]} == {"http/latency-p50": False, "http/error-count": True}
    assert "[stopping]" in proc.stdout
    assert result["reason"] in (out / "report.html").read_text()


def test_web_ui_slo_tab_during_a_run(iris_server: Any, tmp_path: Path) -> None:
    browser = chromium_path()  # before the 40 s run: missing, the test fails at once
    slos = {"http/latency-p50": {"upper": 0.001}, "http/error-count": {"upper": 0}}
    spec = spec_file(tmp_path, iris_server.infer_url, slos=slos, load={"users": 2, "workers": 1, "duration": "40s"})
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "isvcperf", "run", str(spec), "--out", str(out), "--ui"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        url = _ui_address(proc)
        _wait_for_slo_rows(url)  # the UI shows its start form, not tabs, until Locust is running
        with chromium(browser) as page:
            page.goto(url + "?tab=isvcperf-slos", settle_s=1.0)
            text = page.wait_for("document.body.innerText.includes('FAILING') && document.body.innerText", 30)
            assert text, "the SLO tab never showed a failing SLO"
            assert "Current value" in text and "http/latency-p50" in text and "≤ 0.001 ms" in text
            assert "http/error-count" in text and "ok" in text
            page.screenshot(tmp_path / "locust-ui-slos.png")
            assert not [e for e in page.errors if "favicon" not in e], page.errors
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
        assert proc.returncode == 130, output
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert (tmp_path / "locust-ui-slos.png").stat().st_size > 10_000


def _wait_for_slo_rows(url: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError), urllib.request.urlopen(url + "isvcperf/slos", timeout=5) as response:
            if json.loads(response.read()):
                return
        time.sleep(0.5)
    raise AssertionError("the orchestrator never pushed SLO rows to the master")


def _ui_address(proc: subprocess.Popen[str]) -> str:
    """Read the CLI's output until it prints the web UI address (a reader thread keeps it bounded)."""
    found: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("Locust web UI: "):
                found.append(line.split(": ", 1)[1].strip())
                ready.set()
                return

    threading.Thread(target=read, daemon=True).start()
    assert ready.wait(60), "no web UI address printed"
    return found[0]


class _HostileHandler(BaseHTTPRequestHandler):
    """Fails every request with an error body full of markup, as a careless or compromised server might."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = HOSTILE.encode()
        self.send_response(500)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet under load."""


@pytest.fixture
def hostile_server() -> Iterator[str]:
    with serve_http(_HostileHandler) as url:
        yield url


def test_hostile_error_text_is_inert_in_every_report(hostile_server: str, tmp_path: Path, run_cli: RunCli) -> None:
    spec = spec_file(tmp_path, f"{hostile_server}/v2/models/iris/infer", ready={"enabled": False},
                     load={"users": 2, "workers": 1, "requests": 40}, slos={"http/error-rate": {"upper": 0}})
    out = tmp_path / "out"
    proc = run_cli("run", str(spec), "--out", str(out), *[a for f in ("html", "markdown", "junit") for a in ("--report", f)])
    assert proc.returncode == 1, proc.stdout + proc.stderr
    result = json.loads((out / "result.json").read_text())
    assert result["errors"][0]["example"].startswith("<script>window.__pwned=1</script>")
    html = (out / "report.html").read_text()
    assert "<script>window.__pwned" not in html and "<img src=x" not in html
    markdown = (out / "report.md").read_text()
    assert "<script>" not in markdown and "<img" not in markdown
    error_row = next(line for line in markdown.splitlines() if line.startswith("| HTTP 500 |"))
    assert error_row.count(" | ") == 2  # the server's `|` did not split the cell
    junit = ET.parse(out / "junit.xml").getroot()
    assert junit.find("testsuite/testcase/failure").get("message").startswith("http/error-rate = 1")  # type: ignore[union-attr]
    with chromium(chromium_path()) as page:
        page.goto((out / "report.html").as_uri())
        assert page.evaluate("window.__pwned === undefined")
        assert page.evaluate("document.querySelector('table.errors code').textContent") == result["errors"][0]["example"]
        assert page.errors == [], page.errors
        page.screenshot(tmp_path / "hostile.png")
