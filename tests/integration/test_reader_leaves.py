"""A reader that stops early (`isvcperf report DIR | head`, `isvcperf run spec.yaml | head -3`)
gets no traceback: the command carries on without its output, a run still ends properly and
writes its result, and the exit code stays the command's verdict."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from synthetic_results import staged

TIMEOUT_S = 120.0


def first_line_then_close(cwd: Path, *args: str) -> tuple[str, int, str]:
    """Run `python -m isvcperf ARGS` unbuffered (each line written as printed, as in CI logs), read
    one line of its output and close the pipe like `| head -1`; return that line, the exit code and stderr."""
    process = subprocess.Popen([sys.executable, "-m", "isvcperf", *args], cwd=cwd, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert process.stdout is not None and process.stderr is not None
    try:
        line = process.stdout.readline()
        process.stdout.close()
        code = process.wait(timeout=TIMEOUT_S)
        return line, code, process.stderr.read()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)  # with the Locust processes it started


def test_report_into_a_closed_pipe(tmp_path: Path) -> None:
    staged("v1", 4.0, 1).save(tmp_path / "result.json")
    for fmt in ("html", "text"):
        line, code, stderr = first_line_then_close(tmp_path, "report", str(tmp_path), "-o", fmt)
        assert line.strip() and (code, stderr) == (0, ""), (fmt, code, stderr)


def test_a_run_whose_reader_left_still_ends_and_keeps_its_verdict(nginx: Any, tmp_path: Path) -> None:
    spec = {"name": "reader-left", "target": {"url": nginx.url(), "protocol": "raw"}, "ready": {"enabled": False},
            "payload": {"inline": {"inputs": []}}, "load": {"users": 2, "workers": 1, "requests": 200},
            "slos": {"http/error-count": {"upper": 0}}}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    line, code, stderr = first_line_then_close(tmp_path, "run", "spec.yaml", "--out", "out")
    assert line.startswith("isvcperf: reader-left:")
    assert (code, stderr) == (0, ""), stderr
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert result["status"] == "completed" and result["metrics"]["http/request-count"] == 200
    assert (tmp_path / "out" / "report.html").is_file()
