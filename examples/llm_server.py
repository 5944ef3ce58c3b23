"""Real OpenAI-compatible LLM servers on loopback, as context managers: llama.cpp's
llama-server (the main generative target) and llama-cpp-python's server (the no-usage,
one-request-at-a-time variant), both serving the tiny GGUF of tiny_gguf.py.

Their binaries are built once per machine by tests/generative/build_llama_server.sh into a
cache directory; `llama_server_binary()` and `llama_cpp_python()` find them there and say
None when they are not built, so the test fixtures can skip with the command that builds them.

Runnable, like iris_server.py::

    python examples/llm_server.py --workdir DIR -- COMMAND ARGS...

writes the tiny model, starts llama-server on a free port, runs COMMAND with `{base_url}`
substituted in ARGS, stops the server and exits with COMMAND's exit code.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from iris_server import free_port  # examples/ is on sys.path: as a script, and in tests (tests/conftest.py)

HOST = "127.0.0.1"
MODEL_ALIAS = "tiny-llm"
BUILD_SCRIPT = Path(__file__).resolve().parent.parent / "tests" / "generative" / "build_llama_server.sh"
# llama-server starts in ~0.4 s and llama_cpp.server in ~2 s; 60 s is for a cold, busy CI machine.
READY_TIMEOUT_S = 60.0
STOP_GRACE_S = 5.0
LOG_TAIL_LINES = 40
_Server = TypeVar("_Server", bound="ServerProcess")


def _cached_paths() -> tuple[Path, Path]:
    """Where the build script puts llama-server and the llama-cpp-python venv's python: the
    script owns the version pin and the cache directory, so they are defined once."""
    output = subprocess.run(["bash", str(BUILD_SCRIPT), "--print-path"], capture_output=True, text=True, check=True)
    server, python = output.stdout.splitlines()
    return Path(server), Path(python)


def llama_server_binary() -> Path | None:
    """The cached llama-server, or None when build_llama_server.sh has not run on this machine."""
    binary = _cached_paths()[0]
    return binary if os.access(binary, os.X_OK) else None


def llama_cpp_python() -> Path | None:
    """An interpreter that has llama_cpp.server: the venv the build script makes on request
    (ISVCPERF_BUILD_LLAMA_CPP_PYTHON=1), else this one if it has it installed, else None."""
    python = _cached_paths()[1]
    if (python.parent.parent / ".complete").exists():
        return python
    return Path(sys.executable) if importlib.util.find_spec("llama_cpp") else None


class ServerProcess:
    """A server process in its own process group, ready once `ready_path` answers 200; the
    whole group is killed on exit, so no server outlives the test session."""

    ready_path = "/health"

    def __init__(self, command: list[str], port: int, model: str, log_path: Path) -> None:
        self.command = command
        self.base_url = f"http://{HOST}:{port}"
        self.model = model
        self.log_path = log_path
        self.start_s = 0.0  # from spawning to the first 200 from ready_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self._process is not None, "the server is not running"
        return self._process.pid

    def rss_mib(self) -> float:
        """Resident memory of the server process now (Linux /proc)."""
        status = Path(f"/proc/{self.pid}/status").read_text()
        kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
        return kib / 1024

    def __enter__(self: _Server) -> _Server:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(self.command, stdin=subprocess.DEVNULL, stdout=log,
                                             stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self._wait_ready()
        except BaseException:
            self._stop()
            raise
        self.start_s = time.monotonic() - started
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._stop()

    def _log_tail(self) -> str:
        lines = self.log_path.read_text(errors="replace").splitlines() if self.log_path.exists() else []
        return "\n".join(lines[-LOG_TAIL_LINES:])

    def _wait_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if (code := self._process.poll()) is not None:
                raise RuntimeError(f"{self.command[0]} exited with {code}; {self.log_path} ends with:\n{self._log_tail()}")
            # llama-server answers 503 while it loads the model; only 200 means ready.
            with (contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError),
                  urllib.request.urlopen(self.base_url + self.ready_path, timeout=2) as response):
                if response.status == 200:
                    return
            time.sleep(0.05)
        raise TimeoutError(f"{self.base_url}{self.ready_path} not ready after {READY_TIMEOUT_S:.0f} s; "
                           f"{self.log_path} ends with:\n{self._log_tail()}")

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_GRACE_S)
        with contextlib.suppress(ProcessLookupError):  # anything the leader left behind
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


class LlamaServer(ServerProcess):
    """llama.cpp's llama-server: `parallel` slots batched together (continuous batching);
    usage in the last frame (always on /v1/completions, on chat when asked with
    stream_options.include_usage); /health, /v1/models and Prometheus /metrics."""

    def __init__(self, binary: Path, model_file: Path, log_path: Path, alias: str = MODEL_ALIAS,
                 parallel: int = 4, threads: int = 1) -> None:
        port = free_port()
        # One thread: the model is too small to gain from more, and the machine's cores are shared.
        # The context is split among the slots: 2048 tokens each.
        command = [str(binary), "--model", str(model_file), "--alias", alias, "--host", HOST, "--port", str(port),
                   "--parallel", str(parallel), "--ctx-size", str(2048 * parallel), "--threads", str(threads),
                   "--metrics"]
        super().__init__(command, port, alias, log_path)


class LlamaCppPythonServer(ServerProcess):
    """llama-cpp-python's server (FastAPI): one request at a time, and no usage in streams.

    Run with `--interrupt_requests false`: its default (true) ends a stream in flight with
    HTTP 200, one chunk and `data: [DONE]` as soon as another request arrives, a truncation
    that looks like success.
    """

    ready_path = "/v1/models"

    def __init__(self, python: Path, model_file: Path, log_path: Path, alias: str = MODEL_ALIAS,
                 interrupt_requests: bool = False) -> None:
        port = free_port()
        command = [str(python), "-m", "llama_cpp.server", "--model", str(model_file), "--model_alias", alias,
                   "--host", HOST, "--port", str(port), "--n_ctx", "2048", "--n_threads", "1",
                   "--interrupt_requests", str(interrupt_requests).lower()]
        super().__init__(command, port, alias, log_path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run COMMAND against llama-server serving the tiny model "
                                     "({base_url} in its arguments is replaced by the server's base URL).")
    parser.add_argument("--workdir", type=Path, default=Path(".demo-llm"), help="where the model and the log go")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND ARGS...")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give a command after --, e.g. -- isvcperf run examples/tiny-llm-chat.yaml "
                     "--set target.baseUrl={base_url}")
    binary = llama_server_binary()
    if binary is None:
        print(f"llama-server is not built: run {BUILD_SCRIPT} (~7 min once per machine)", file=sys.stderr)
        return 3
    from tiny_gguf import write_tiny_gguf  # examples/, beside this file

    args.workdir.mkdir(parents=True, exist_ok=True)
    model = write_tiny_gguf(args.workdir / "tiny.gguf")
    with LlamaServer(binary, model, args.workdir / "llama-server.log") as server:
        print(f"llama-server serving {server.model!r} at {server.base_url}", file=sys.stderr, flush=True)
        return subprocess.call([part.replace("{base_url}", server.base_url) for part in command])


if __name__ == "__main__":
    sys.exit(main())
