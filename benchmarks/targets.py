"""Benchmark targets: nginx on loopback answering a fixed V2 body, optionally after a delay.

nginx (Debian's nginx-light plus libnginx-mod-http-echo for `echo_sleep`) costs next to
nothing per request, so what a benchmark measures is the load generator, not the target.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
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
    listen 127.0.0.1:{port} backlog=16384;
    location /v2/models/bench/infer {{ default_type application/json; return 200 '{body}'; }}
    location /delay20/v2/models/bench/infer {{ default_type application/json; echo_sleep 0.02; echo '{body}'; }}
    location /delay1s/v2/models/bench/infer {{ default_type application/json; echo_sleep 1; echo '{body}'; }}
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Nginx:
    """nginx with the benchmark locations, started and stopped around a block."""

    def __init__(self) -> None:
        if not shutil.which("nginx"):
            raise SystemExit("nginx is not installed: apt-get install nginx-light libnginx-mod-http-echo")
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="isvcperf-bench-nginx-"))
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, delay: str = "") -> str:
        prefix = f"/{delay}" if delay else ""
        return f"http://127.0.0.1:{self.port}{prefix}/v2/models/bench/infer"

    def __enter__(self) -> Nginx:
        load = f"load_module {ECHO_MODULE};" if ECHO_MODULE.exists() else ""
        (self.dir / "nginx.conf").write_text(CONFIG.format(load_module=load, dir=self.dir, port=self.port, body=BODY,
                                                            gateway_host=GATEWAY_HOST))
        self.process = subprocess.Popen(["nginx", "-c", str(self.dir / "nginx.conf")], start_new_session=True)
        for _ in range(100):
            try:
                urllib.request.urlopen(urllib.request.Request(self.url(), data=b"{}"), timeout=1).read()
                return self
            except OSError:
                time.sleep(0.05)
        raise SystemExit(f"nginx did not start; see {self.dir}/error.log")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
