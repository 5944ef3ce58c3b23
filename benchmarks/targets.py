"""Benchmark targets: nginx on loopback answering a fixed V2 body, optionally after a delay.

nginx (Debian's nginx-light plus libnginx-mod-http-echo for `echo_sleep`) costs next to
nothing per request, so what a benchmark measures is the load generator, not the target.
The tests use it as their healthy target too: it answers KServe's readiness routes, counts
the inference requests it answered (`requests`, from its access log) and terminates TLS
with a given certificate, so a test checks isvcperf against a real server, not a stand-in.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

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
  }}
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Nginx:
    """nginx with the benchmark locations, started and stopped around a block.

    `port` fixes the port (a test restarts a killed target on the same one); `tls`, a
    (certificate, key) pair of PEM files, makes it an HTTPS server; `count` logs every
    inference request so `requests` can tell how many were answered (off for benchmarks:
    a log write per request is a cost they should not measure).
    """

    def __init__(self, port: int | None = None, tls: tuple[Path, Path] | None = None, count: bool = False) -> None:
        if not shutil.which("nginx"):
            raise SystemExit("nginx is not installed: apt-get install nginx-light libnginx-mod-http-echo")
        self.port = port or free_port()
        self.tls = tls
        self.count = count
        self.dir = Path(tempfile.mkdtemp(prefix="isvcperf-bench-nginx-"))
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

    def __enter__(self) -> Nginx:
        load = f"load_module {ECHO_MODULE};" if ECHO_MODULE.exists() else ""
        tls = f"ssl_certificate {self.tls[0]}; ssl_certificate_key {self.tls[1]};" if self.tls else ""
        log = f"access_log {self.dir}/access.log;" if self.count else ""
        (self.dir / "nginx.conf").write_text(CONFIG.format(load_module=load, dir=self.dir, port=self.port, body=BODY,
                                                           ssl=" ssl" if self.tls else "", tls=tls, log=log))
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
