"""A run against a server whose error bodies are hostile, with a token planted in a header:
the token appears in no file the run leaves and nowhere in its output, and the server's
markup and escape sequences reach no report as live markup."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

from runs import run_cli, write_spec
from servers import MALICIOUS, FaultServer

SECRET = "tok-8f3a1c9e-do-not-leak-5b7d"


def test_planted_secret_leaks_nowhere_and_server_text_is_escaped(tmp_path: Path,
                                                                 serve: Callable[..., FaultServer]) -> None:
    server = serve("malicious")
    spec = write_spec(tmp_path, server.url,
                      target={"headers": {"Authorization": "Bearer ${ISVCPERF_TEST_TOKEN}", "X-Api-Key": "${ISVCPERF_TEST_TOKEN}"}},
                      load={"requests": 20, "duration": None, "rate": 0})
    out = tmp_path / "out"
    run = run_cli(tmp_path, "run", str(spec), "--out", str(out), "--report", "html", "--report", "text",
                  "--report", "markdown", "--report", "junit", "--report", "json",
                  env={"ISVCPERF_TEST_TOKEN": SECRET})
    assert run.returncode == 1, run.text  # every request failed with the server's 500
    assert run.result["metrics"]["http/error-count"] == 20 == server.requests

    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert {"result.json", "report.html", "report.txt", "report.md", "junit.xml", "locust_stats.csv",
            "locust-master.log", "locust-worker-0.log", "locust-master.out"} <= {p.name for p in files}
    leaks = [str(p) for p in files if SECRET.encode() in p.read_bytes()]
    assert not leaks and SECRET not in run.text
    assert run.result["spec"]["target"]["headers"] == {"Authorization": "<redacted>", "X-Api-Key": "<redacted>"}

    page = (out / "report.html").read_text()
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(" in page and "&lt;img src=x" in page  # shown, as text
    text = (out / "report.txt").read_text()
    assert "\x1b" not in text  # the server's terminal escapes cannot recolour or move the cursor
    assert "\x1b" not in run.stdout
    markdown = (out / "report.md").read_text()
    assert "<script>" not in markdown and "<img" not in markdown
    ET.parse(out / "junit.xml")  # still well-formed XML
    assert MALICIOUS.decode()[:8] == "<script>"  # the body really was hostile
