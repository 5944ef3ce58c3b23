"""Locust's web UI driven as a person would, in headless Chromium, during real runs against
MLServer: STOP ends the run like Ctrl-C, EDIT cannot change a spec's load, the statistics
hold no warm-up, the SLO tab is linkable and marked, workers are named, `--ui-port` and
`--ui-linger` work, and plain `locust -f locustfiles/kserve.py --isvcperf-spec` gives the
same UI, validity row included. Screenshots go to the test's tmp dir and to
isvcperf-test-screenshots/."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import yaml
from browser import Page, chromium, chromium_path

ROOT = Path(__file__).resolve().parents[2]
PAYLOAD = ROOT / "examples" / "payloads" / "sklearn-irisv2-input.json"
SHOTS = ROOT / "isvcperf-test-screenshots"
SLOS = {"http/latency-p50": {"upper": 0.001}, "http/error-count": {"upper": 0}}


def _spec(tmp_path: Path, url: str, load: dict[str, Any]) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump({
        "name": "ui", "target": {"url": url}, "ready": {"timeout": "30s", "interval": "0.2s"},
        "payload": {"file": str(PAYLOAD)}, "load": load, "slos": SLOS}))
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _shot(page: Page, tmp_path: Path, name: str) -> Path:
    """A screenshot in the test's tmp dir, copied where a person finds it after the run."""
    path = page.screenshot(tmp_path / name)
    SHOTS.mkdir(exist_ok=True)
    shutil.copy(path, SHOTS / name)
    assert path.stat().st_size > 10_000
    return path


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def _wait(predicate: Any, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError, KeyError):
            value = predicate()
            if value:
                return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


@contextlib.contextmanager
def _started(args: list[str], cwd: Path) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """A process in its own session whose output lines are collected; killed with its group at the end."""
    proc = subprocess.Popen(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    lines: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        lines.extend(proc.stdout)

    threading.Thread(target=read, daemon=True).start()
    try:
        yield proc, lines
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _click(page: Page, label: str) -> None:
    page.evaluate(f"[...document.querySelectorAll('button')].find(b => b.textContent.trim() === {label!r}).click()")


def _locust_processes(out: Path) -> list[psutil.Process]:
    """Locust processes of this run still alive (their --csv names the output directory)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error):
            if any(str(out) in arg for arg in proc.info["cmdline"] or []) and "locust" in " ".join(proc.info["cmdline"]):
                found.append(proc)
    return found


def _assert_validity_row(text: str) -> None:
    """The SLO tab starts with the validity so far (engine.monitor.panel_rows), green and `valid`
    when every check holds, else red, `INVALID` and the failing checks named."""
    row = re.search(r"validity \(so far\)\t(.+?)\tevery check holds\t+(?:🟢\t(valid)|🔴\t(INVALID))\t", text)
    assert row, text
    assert text.index("validity (so far)") < text.index("http/latency-p50"), text  # shown first
    assert (row.group(1) == "all checks hold") == (row.group(2) == "valid"), row.group(0)


def test_stop_edit_statistics_and_slo_tab_in_the_browser(iris_server: Any, tmp_path: Path) -> None:
    browser = chromium_path()
    spec = _spec(tmp_path, iris_server.infer_url, {"users": 2, "workers": 2, "duration": "60s",
                                                   "warmup": {"requests": 25}})
    out, port = tmp_path / "out", _free_port()
    url = f"http://127.0.0.1:{port}/"
    command = [sys.executable, "-m", "isvcperf", "run", str(spec), "--out", str(out), "--ui-port", str(port),
               "--ui-linger", "4s"]
    with _started(command, tmp_path) as (proc, lines), chromium(browser) as page:
        _wait(lambda: _get(url + "isvcperf/slos"), 60, "SLO rows pushed to the web UI")
        assert f"Locust web UI: {url}\n" in lines

        page.goto(url + "?tab=isvcperf-slos", settle_s=1.0)
        text = page.wait_for("document.body.innerText.includes('FAILING') && document.body.innerText", 20)
        assert page.evaluate("document.querySelector('[role=tab][aria-selected=true]').textContent") == "SLOs"
        assert re.search(r"http/latency-p50\t.*\t🔴\tFAILING\tno", text), text  # red; "Stops the run": no
        assert re.search(r"http/error-count\t.*\t🟢\tok\tno", text), text
        assert re.search(r"warm-up requests\t25\t.*not measured", text), text
        _assert_validity_row(text)
        _shot(page, tmp_path, "ui-slo-tab.png")

        page.goto(url + "?tab=workers", settle_s=1.5)
        workers = page.wait_for("document.body.innerText.includes('worker-1 (pid') && document.body.innerText", 10)
        assert "worker-0 (pid" in workers and not re.search(r"_[0-9a-f]{32}", workers), workers
        _shot(page, tmp_path, "ui-workers-tab.png")

        page.goto(url, settle_s=1.5)
        stats = page.evaluate("document.body.innerText")
        assert iris_server.infer_url in stats  # the Host field
        assert "Aggregated" in stats and "warmup" not in stats

        _click(page, "Edit")
        page.wait_for("!!document.querySelector('input[name=userCount]')", 5)
        page.evaluate("""(() => { const input = document.querySelector('input[name=userCount]');
            Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set.call(input, '40');
            input.dispatchEvent(new Event('input', {bubbles: true}));
            [...document.querySelectorAll('button[type=submit]')].find(b => b.textContent.trim() === 'Update').click(); })()""")
        time.sleep(3)  # what 40 users would have been given time to do
        assert _get(url + "isvcperf/stats")["users"] == 2
        page.goto(url + "?tab=logViewer", settle_s=1.5)
        logs = page.wait_for("document.body.innerText.includes('comes from its spec') && document.body.innerText", 10)
        assert "WARNING" in logs and "(2 users)" in logs, logs
        _shot(page, tmp_path, "ui-edit-refused.png")

        page.goto(url, settle_s=1.0)
        _click(page, "Stop")
        stopped_at = time.monotonic()
        _wait(lambda: (out / "result.json").is_file(), 15, "the result written after STOP")
        written_after = time.monotonic() - stopped_at
        page.goto(url, settle_s=1.0)  # still served while lingering
        assert "STOPPED" in page.evaluate("document.body.innerText").upper()
        _shot(page, tmp_path, "ui-after-stop.png")
        proc.wait(30)
    output = "".join(lines)
    assert proc.returncode == 130, output
    assert written_after < 8, f"the result came {written_after:.1f}s after STOP"
    assert "stopped from the web UI; partial result written" in output
    assert "the web UI stays open at" in output
    result = json.loads((out / "result.json").read_text())
    assert (result["status"], result["reason"]) == ("interrupted", "stopped from the web UI")
    assert result["load"]["users"] == 2 and result["measuredSeconds"] < 40
    assert "stopped from the web UI" in (out / "report.html").read_text()
    assert _locust_processes(out) == []
    rows = {row["Name"]: row for row in csv.DictReader(next(out.rglob("locust_stats.csv")).open())}
    assert set(rows) == {"infer", "Aggregated"}  # no warm-up row
    assert int(rows["Aggregated"]["Request Count"]) == result["metrics"]["http/request-count"]


def test_stop_ends_a_requests_run(iris_server: Any, tmp_path: Path) -> None:
    """A `requests:` run has no deadline: before, STOP left it waiting forever."""
    spec = _spec(tmp_path, iris_server.infer_url, {"users": 2, "workers": 1, "requests": 10_000_000, "rate": 200})
    out, port = tmp_path / "out", _free_port()
    command = [sys.executable, "-m", "isvcperf", "run", str(spec), "--out", str(out), "--ui-port", str(port)]
    with _started(command, tmp_path) as (proc, lines):
        url = f"http://127.0.0.1:{port}/"
        _wait(lambda: _get(url + "isvcperf/stats")["total"]["requests"] > 100, 60, "measured requests")
        urllib.request.urlopen(urllib.request.Request(url + "stop", method="POST"), timeout=10).close()
        proc.wait(20)
    assert proc.returncode == 130, "".join(lines)
    result = json.loads((out / "result.json").read_text())
    assert (result["status"], result["reason"]) == ("interrupted", "stopped from the web UI")
    assert result["metrics"]["http/request-count"] > 100
    assert _locust_processes(out) == []


def test_ui_port_taken_is_one_clear_error(iris_server: Any, tmp_path: Path, run_cli: Any) -> None:
    spec = _spec(tmp_path, iris_server.infer_url, {"users": 1, "workers": 1, "requests": 10})
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = run_cli("run", str(spec), "--out", str(tmp_path / "out"), "--ui-port", str(port))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert f"--ui-port {port}: cannot listen on 127.0.0.1:{port}" in proc.stderr and "Traceback" not in proc.stderr
    bad = run_cli("run", str(spec), "--ui-port", "80000")
    assert bad.returncode == 2 and "'80000' is not a TCP port" in bad.stderr


def test_plain_locust_with_the_spec(iris_server: Any, tmp_path: Path) -> None:
    """`locust -f locustfiles/kserve.py --isvcperf-spec spec.yaml`: one process, the UI starts the spec's run."""
    browser = chromium_path()
    spec = _spec(tmp_path, iris_server.infer_url, {"users": 2, "duration": "6s", "warmup": {"requests": 10}})
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    command = [sys.executable, "-m", "locust", "-f", str(ROOT / "locustfiles" / "kserve.py"), "--isvcperf-spec",
               str(spec), "--web-host", "127.0.0.1", "--web-port", str(port)]
    with _started(command, tmp_path) as (proc, lines), chromium(browser) as page:
        _wait(lambda: _get(url + "isvcperf/stats")["phase"] == "waiting", 30, "the plain Locust web UI")
        page.goto(url, settle_s=1.0)
        assert page.evaluate("document.querySelector('input[name=userCount]').value") == "2"  # the spec's users
        _shot(page, tmp_path, "plain-locust-start.png")
        _click(page, "Start")
        _wait(lambda: _get(url + "isvcperf/stats")["phase"] == "finished", 30, "the spec's 6 s run to finish")
        page.goto(url + "?tab=isvcperf-slos", settle_s=2.0)
        text = page.wait_for("document.body.innerText.includes('FAILING') && document.body.innerText", 10)
        assert "http/latency-p50" in text and "warm-up requests\t10" in text, text
        _assert_validity_row(text)  # judged by the plain Locust master itself, as isvcperf run's orchestrator does
        _shot(page, tmp_path, "plain-locust-slos.png")
        stats = _get(url + "isvcperf/stats")
        requests = _get(url + "stats/requests")
        assert stats["finishReason"] == "completed" and stats["total"]["warmupRequests"] == 10
        assert [(s["name"], s["num_requests"]) for s in requests["stats"]] == [
            ("infer", stats["total"]["requests"]), ("Aggregated", stats["total"]["requests"])]
        assert proc.poll() is None, "".join(lines)  # a plain Locust session stays for its person


def test_plain_locust_without_a_spec_says_what_to_give(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "locust", "-f", str(ROOT / "locustfiles" / "kserve.py"), "--headless"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "isvcperf: give --isvcperf-spec SPEC.yaml" in proc.stderr and "Traceback" not in proc.stderr


def test_ui_linger_keeps_the_ui_after_the_result_until_ctrl_c(iris_server: Any, tmp_path: Path) -> None:
    spec = _spec(tmp_path, iris_server.infer_url, {"users": 1, "workers": 1, "requests": 50})
    out, port = tmp_path / "out", _free_port()
    command = [sys.executable, "-m", "isvcperf", "run", str(spec), "--out", str(out), "--ui-port", str(port),
               "--ui-linger", "5m"]
    with _started(command, tmp_path) as (proc, lines):
        _wait(lambda: (out / "report.html").is_file(), 60, "the reports, written before the linger")
        # the UI still answers, with the final figures (a worker's last Locust report comes within 3 s)
        stats = _wait(lambda: (s := _get(f"http://127.0.0.1:{port}/stats/requests"))["stats"][-1]["num_requests"] == 50
                      and s, 10, "the final figures in the lingering web UI")
        assert stats["state"] == "stopped"
        proc.send_signal(signal.SIGINT)
        proc.wait(20)  # not 5 minutes
    assert proc.returncode == 1, "".join(lines)  # the verdict (the p50 SLO fails), not an interrupt
    assert json.loads((out / "result.json").read_text())["status"] == "completed"
    assert _locust_processes(out) == []
