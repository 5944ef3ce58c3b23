"""Session-scoped pytest fixtures of the generative targets, importable from any test directory:

    from llm_fixtures import llama_server, sse_cadence  # in that directory's conftest.py

(tests/conftest.py puts tests/generative on sys.path.) Each server starts once per session,
on a free loopback port, and is stopped at its end.

llama-server is built by build_llama_server.sh (minutes, once per machine): without it the
llama_server fixture skips with that command, or fails when ISVCPERF_REQUIRE_LLAMA_SERVER is
set, as CI sets it, so a broken build cannot pass as a skipped test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from llm_server import BUILD_SCRIPT, LlamaCppPythonServer, LlamaServer, llama_cpp_python, llama_server_binary
from targets import Nginx  # benchmarks/targets.py, on sys.path through tests/conftest.py
from tiny_gguf import write_tiny_gguf


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny random-weight model (~0.6 MB, written in well under a second)."""
    return write_tiny_gguf(tmp_path_factory.mktemp("tiny-llm") / "tiny.gguf")


@pytest.fixture(scope="session")
def llama_server(tiny_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """llama-server with 4 parallel slots and --metrics serving the tiny model as
    `.model` ("tiny-llm") at `.base_url`; ready (/health 200) when yielded."""
    binary = llama_server_binary()
    if binary is None:
        reason = f"llama-server is not built: run {BUILD_SCRIPT} (~7 min once per machine)"
        if os.environ.get("ISVCPERF_REQUIRE_LLAMA_SERVER"):
            pytest.fail(f"ISVCPERF_REQUIRE_LLAMA_SERVER is set but {reason}")
        pytest.skip(reason)
    with LlamaServer(binary, tiny_gguf, tmp_path_factory.mktemp("llama-server") / "server.log") as server:
        yield server


@pytest.fixture(scope="session")
def llama_cpp_python_server(tiny_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaCppPythonServer]:
    """`python -m llama_cpp.server` with --interrupt_requests false, serving the tiny model as
    `.model` at `.base_url`: one request at a time, no usage in streams. Optional (its build
    takes ~8.5 min), so it skips when llama-cpp-python is not installed."""
    python = llama_cpp_python()
    if python is None:
        pytest.skip(f"llama-cpp-python[server] is not installed: run ISVCPERF_BUILD_LLAMA_CPP_PYTHON=1 {BUILD_SCRIPT}")
    with LlamaCppPythonServer(python, tiny_gguf, tmp_path_factory.mktemp("llama-cpp-python") / "server.log") as server:
        yield server


@pytest.fixture(scope="session")
def sse_cadence() -> Iterator[Nginx]:
    """nginx streaming OpenAI-shaped SSE at a known cadence: `.openai_url()` is the base URL of
    the 50 ms / 10 ms / 64-frame referee, `.openai_url("fast")` of the same stream without
    sleeps; `.streams` holds the true cadences (POST /v1/chat/completions or /v1/completions)."""
    with Nginx() as server:
        yield server
