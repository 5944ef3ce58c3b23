"""Shared fixtures: real servers on loopback and a way to run the isvcperf CLI.

The targets are real processes (MLServer, a stdlib HTTP server), not mocks, so the tests
exercise the same sockets, status codes and timings a user's run does.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from loopback import serve_http  # tests/ is on sys.path (rootdir conftest)

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
sys.path.insert(0, str(EXAMPLES_DIR))

from iris_server import IrisServer, free_port  # noqa: E402  (importable only once examples/ is on sys.path)

sys.path.insert(0, str(EXAMPLES_DIR.parent / "benchmarks"))
from targets import Nginx  # noqa: E402  (the benchmarks' nginx target: fixed V2 body, optional delays)

# The fault tests' misbehaving servers and CLI runner (servers.py, runs.py), shared with tests/security and tests/soak.
sys.path.insert(0, str(Path(__file__).resolve().parent / "faults"))
# The generative targets (llama-server, llama_cpp.server, the SSE cadence referee) and their
# fixtures (llm_fixtures.py), for any directory's conftest to import.
sys.path.insert(0, str(Path(__file__).resolve().parent / "generative"))

CLI_TIMEOUT_S = 240.0

# The tests that Ctrl-C the CLI must not depend on how pytest was started: a shell's background
# job (`pytest &`, some CI runners) has SIGINT ignored, every child inherits that, and the CLI
# would never see the signal. With a handler here, children start with the default again.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def iris_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IrisServer]:
    """One MLServer for the whole session: it takes seconds to start, requests take ms."""
    with IrisServer(tmp_path_factory.mktemp("mlserver")) as server:
        yield server


class _ErrorHandler(BaseHTTPRequestHandler):
    """Answers every request with 500, the way a model server does when inference fails."""

    # HTTP/1.1 so load generators keep their connections alive, as they would with a real server.
    protocol_version = "HTTP/1.1"
    body = b'{"error": "model exploded"}'

    def _fail(self) -> None:
        # Read the whole request body so the next request on this connection parses cleanly.
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    do_GET = _fail
    do_POST = _fail

    def log_message(self, format: str, *args: object) -> None:
        """Silent: thousands of requests under load would drown pytest's output."""


@pytest.fixture
def error_server() -> Iterator[str]:
    """Base URL (http://127.0.0.1:PORT) of a server that fails every request with 500."""
    with serve_http(_ErrorHandler) as url:
        yield url


@pytest.fixture(scope="session")
def nginx() -> Iterator[Nginx]:
    """nginx on loopback answering a fixed V2 body at once (`.url()`), or after 20 ms / 1 s
    (`.url("delay20")`, `.url("delay1s")`): a target fast enough to saturate the generator."""
    with Nginx() as server:
        yield server


@pytest.fixture
def healthy() -> Iterator[Nginx]:
    """A fresh nginx for one test that counts the inference requests it answered (`.requests`):
    the healthy target of the fault, TLS and web-UI tests, a real server rather than a stand-in."""
    with Nginx(count=True) as server:
        yield server


@pytest.fixture
def down_url() -> str:
    """URL of a loopback port nothing listens on: connections are refused at once."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def run_cli(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``python -m isvcperf ARGS`` in tmp_path, as a user would; returns the finished process.

    A subprocess rather than an in-process call, so exit codes, stdout/stderr and Locust's
    own processes behave exactly as on a user's machine.
    """

    def run(*args: str, timeout: float = CLI_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "isvcperf", *args]
        # Own process group, so a hung run is killed together with the Locust processes it
        # started instead of leaving them behind.
        process = subprocess.Popen(
            command,
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except BaseException:  # the timeout, or Ctrl-C on pytest
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise
        return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)

    return run
