"""Benchmark targets: nginx on loopback answering a fixed V2 body, optionally after a delay,
and OpenAI-style SSE streams at a fixed cadence.

nginx (Debian's nginx-light plus libnginx-mod-http-echo for `echo`, `echo_flush` and
`echo_sleep`) costs next to nothing per request, so what a benchmark measures is the load
generator, not the target. The tests use it as their healthy target too: it answers KServe's
readiness routes, counts the inference requests it answered (`requests`, from its access log)
and terminates TLS with a given certificate, so a test checks isvcperf against a real server,
not a stand-in. The streams are the fidelity referee of the generative metrics:
their time to first token and inter-token gap are set by `echo_sleep`, with no model in the
way (nginx's timers count whole milliseconds: measured here, the 10 ms gap is 10.22 ms on
average, p1 10.02, p99 10.41, and the 50 ms TTFT 49.8-50.9 ms; see tests/generative/README.md).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

GATEWAY_HOST = "gateway.kserve-test.example.com"
"""The Host header the `gateway` virtual host answers to (KServe's `$SERVICE_HOSTNAME`)."""
BODY = '{"model_name":"bench","outputs":[{"name":"predict","shape":[2,1],"datatype":"INT64","data":[1,1]}]}'
ECHO_MODULE = Path("/usr/lib/nginx/modules/ngx_http_echo_module.so")
CONFIG = """\
{load_module}
worker_processes 1;
worker_rlimit_nofile 65536;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 30000; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body;
  keepalive_requests 100000000;
  keepalive_timeout 600s;
  server {{
    listen 127.0.0.1:{port}{ssl} backlog=16384;
    {tls}
    location = /v2/health/ready {{ return 200; }}
    location = /v2/models/bench/ready {{ return 200; }}
    location /v2/models/bench/infer {{ {log} default_type application/json; return 200 '{body}'; }}
    location /delay20/v2/models/bench/infer {{ {log} default_type application/json; echo_sleep 0.02; echo '{body}'; }}
    location /delay1s/v2/models/bench/infer {{ {log} default_type application/json; echo_sleep 1; echo '{body}'; }}
{streams}
  }}
  server {{
    # An ingress gateway's virtual host: only requests with this Host header reach the model.
    listen 127.0.0.1:{port};
    server_name {gateway_host};
    location ~ ^/v2/(health/ready|models/gateway/ready)$ {{ return 200; }}
    location /v2/models/gateway/infer {{ default_type application/json; return 200 '{body}'; }}
  }}
}}
"""


MODEL = "sse-cadence"
# The chat stream's first frame carries only the role (as vLLM's and OpenAI's do): not a token.
_ROLE = {"delta": {"role": "assistant", "content": ""}, "finish_reason": None}


@dataclass(frozen=True)
class Cadence:
    """One fixed-cadence stream: the first content frame `ttft_s` after the request arrives,
    then one every `gap_s`, `frames` in all; then a usage frame and `data: [DONE]` (left out
    when `done` is false: a truncated stream, which a client must count as an error)."""

    ttft_s: float = 0.05
    gap_s: float = 0.01
    frames: int = 64
    done: bool = True


# Location prefix -> cadence: "" is the fidelity referee of issue 13, "fast" (no sleeps) the
# target of the streaming-capacity benchmark.
STREAMS: Mapping[str, Cadence] = {"": Cadence(), "fast": Cadence(ttft_s=0.0, gap_s=0.0)}


def _frame(api: str, choice: dict[str, object] | None, **extra: object) -> str:
    """One SSE event in the shape of an OpenAI streaming chunk, as an nginx `echo` directive."""
    if api == "chat":
        head: dict[str, object] = {"id": "chatcmpl-cadence", "object": "chat.completion.chunk"}
    else:
        head = {"id": "cmpl-cadence", "object": "text_completion"}
    chunk = {**head, "created": 0, "model": MODEL, "choices": [] if choice is None else [{"index": 0, **choice}], **extra}
    # nginx turns \n inside a quoted string into a newline; the JSON has no quote, $ or backslash.
    return f"echo 'data: {json.dumps(chunk, separators=(',', ':'))}\\n'; echo_flush;"


def _content(api: str, index: int, last: bool) -> dict[str, object]:
    text = f" t{index}"
    body: dict[str, object] = {"delta": {"content": text}} if api == "chat" else {"text": text, "logprobs": None}
    return {**body, "finish_reason": "length" if last else None}


def _sleep(seconds: float) -> str:
    return f"echo_sleep {seconds:g};" if seconds > 0 else ""


def stream_locations(prefix: str, cadence: Cadence) -> str:
    """nginx locations answering POST /v1/chat/completions and /v1/completions with `cadence`,
    and GET /v1/models (the readiness check of an OpenAI client), under `/prefix`.

    The usage frame is always sent (nginx does not read the request's stream_options), and
    frames are flushed one by one, each its own HTTP chunk, as a model server writes them.
    """
    root = f"/{prefix}" if prefix else ""
    models = json.dumps({"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "isvcperf"}]})
    usage = {"usage": {"prompt_tokens": 8, "completion_tokens": cadence.frames, "total_tokens": 8 + cadence.frames}}
    lines = [f"    location = {root}/v1/models {{ default_type application/json; return 200 '{models}'; }}"]
    for api, path in (("chat", "chat/completions"), ("completions", "completions")):
        body = [_frame(api, _ROLE)] if api == "chat" else []
        for index in range(cadence.frames):
            body.append(_sleep(cadence.ttft_s if index == 0 else cadence.gap_s))
            body.append(_frame(api, _content(api, index, last=index == cadence.frames - 1)))
        body += [_frame(api, None, **usage), "echo 'data: [DONE]\\n';" if cadence.done else ""]
        # postpone_output 0: a small frame goes out at its flush, not once 1460 bytes have piled up.
        lines.append(f"    location = {root}/v1/{path} {{ default_type text/event-stream; postpone_output 0; "
                     + " ".join(b for b in body if b) + " }")
    return "\n".join(lines)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Nginx:
    """nginx with the benchmark locations and the SSE `streams`, started and stopped around a block.

    `port` fixes the port (a test restarts a killed target on the same one); `tls`, a
    (certificate, key) pair of PEM files, makes it an HTTPS server; `count` logs every
    inference request so `requests` can tell how many were answered (off for benchmarks:
    a log write per request is a cost they should not measure).
    """

    def __init__(self, streams: Mapping[str, Cadence] = STREAMS, port: int | None = None,
                 tls: tuple[Path, Path] | None = None, count: bool = False) -> None:
        if not shutil.which("nginx"):
            raise SystemExit("nginx is not installed: apt-get install nginx-light libnginx-mod-http-echo")
        self.port = port or free_port()
        self.tls = tls
        self.count = count
        self.dir = Path(tempfile.mkdtemp(prefix="isvcperf-bench-nginx-"))
        self.streams = dict(streams)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def url(self, delay: str = "") -> str:
        prefix = f"/{delay}" if delay else ""
        return f"{self.base_url}{prefix}/v2/models/bench/infer"

    @property
    def requests(self) -> int:
        """Inference requests answered so far, from the access log. nginx logs an answer just after
        sending it, so a client can see the answer a moment before it is counted: read this once
        the load has stopped."""
        log = self.dir / "access.log"
        if not self.count:
            raise RuntimeError("Nginx(count=True) counts requests; this one does not")
        return log.read_bytes().count(b"\n") if log.exists() else 0

    def openai_url(self, stream: str = "") -> str:
        """Base URL of one of the `streams` (an OpenAI client appends /v1/chat/completions)."""
        if stream not in self.streams:
            raise KeyError(f"no stream {stream!r}; the streams are {sorted(self.streams)}")
        prefix = f"/{stream}" if stream else ""
        return f"{self.base_url}{prefix}"

    def __enter__(self) -> Nginx:
        load = f"load_module {ECHO_MODULE};" if ECHO_MODULE.exists() else ""
        streams = "\n".join(stream_locations(prefix, cadence) for prefix, cadence in self.streams.items())
        tls = f"ssl_certificate {self.tls[0]}; ssl_certificate_key {self.tls[1]};" if self.tls else ""
        log = f"access_log {self.dir}/access.log;" if self.count else ""
        config = CONFIG.format(load_module=load, dir=self.dir, port=self.port, body=BODY, streams=streams,
                               gateway_host=GATEWAY_HOST, ssl=" ssl" if self.tls else "", tls=tls, log=log)
        (self.dir / "nginx.conf").write_text(config)
        self.process = subprocess.Popen(["nginx", "-c", str(self.dir / "nginx.conf")], start_new_session=True)
        unverified = ssl._create_unverified_context()  # only to see that it listens; the tests verify
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{self.base_url}/v2/health/ready", timeout=1, context=unverified).read()
                return self
            except OSError:
                time.sleep(0.05)
        raise SystemExit(f"nginx did not start; see {self.dir}/error.log")

    def kill(self) -> None:
        """SIGKILL nginx's master and worker (its whole session), as a crash would: no goodbye to clients."""
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self.process = None

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
