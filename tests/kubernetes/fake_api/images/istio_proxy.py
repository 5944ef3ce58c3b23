"""What the injected ``istio-proxy`` (and ``istio-init``) containers run in the fake kubelet.

A sidecar that never exits on its own, like pilot-agent + Envoy: it serves pilot-agent's admin
endpoints on the pod's address (``INSTANCE_IP``), ``GET :15021/healthz/ready`` and
``POST :15020/quitquitquit`` (exit 0, the documented way to end a sidecar when a Job's main
container is done), and ends on SIGTERM. Run as ``istio-iptables`` (the init container's
command) it exits 0 at once, since there are no iptables to program here.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Admin(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        print(f"{self.address_string()} {format % args}", flush=True)

    def _reply(self, code: int, body: bytes = b"") -> None:
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._reply(200 if self.path == "/healthz/ready" else 404)

    def do_POST(self) -> None:
        if self.path != "/quitquitquit":
            self._reply(404)
            return
        self._reply(200, b"OK\n")
        print("quitquitquit: pilot-agent exiting", flush=True)
        os._exit(0)


def main() -> None:
    if sys.argv[1:2] == ["istio-iptables"]:
        print("istio-iptables: nothing to program on the fake node", flush=True)
        return
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    address = os.environ["INSTANCE_IP"]
    servers = [ThreadingHTTPServer((address, port), Admin) for port in (15020, 15021)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"Envoy proxy is ready on {address}", flush=True)
    threading.Event().wait()  # like Envoy: runs until told to stop


if __name__ == "__main__":
    main()
