"""KServe from outside the cluster: the ingress gateway's address plus the service's Host header.

nginx (benchmarks/targets.py) has a virtual host that answers only to
`Host: gateway.kserve-test.example.com`, as Istio's or Knative's gateway routes by it. The
readiness probes and every load request must carry the user's Host header, or the model is
never reached.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import yaml
from targets import GATEWAY_HOST

from isvcperf.loadgen.http1 import Endpoint, encode_request, sni_name


def test_explicit_host_header_reaches_the_gateway_virtual_host(nginx: Any, tmp_path: Path,
                                                               run_cli: Callable[..., CompletedProcess[str]]) -> None:
    url = f"http://127.0.0.1:{nginx.port}/v2/models/gateway/infer"
    spec = {"name": "gateway", "target": {"url": url, "headers": {"Host": GATEWAY_HOST}},
            "ready": {"timeout": "5s"}, "payload": {"inline": {"inputs": []}},
            "load": {"users": 2, "requests": 50, "workers": 1}, "slos": {"http/error-count": {"upper": 0}}}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    proc = run_cli("run", "spec.yaml", "--out", "out")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert result["metrics"]["http/request-count"] == 50 and result["metrics"]["http/error-count"] == 0

    spec["target"] = {"url": url}
    spec["ready"] = {"timeout": "1s"}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    without = run_cli("run", "spec.yaml", "--out", "out2")
    assert without.returncode == 3 and "404" in without.stderr  # the gateway's default answer


def test_host_header_is_sent_once_and_names_the_tls_server() -> None:
    request = encode_request(Endpoint.from_url("https://10.0.0.7:31390/v2/models/m/infer"), "POST",
                             {"host": "m.ns.example.com:443", "Content-Type": "application/json"}, b"{}")
    assert request.count(b"Host:") + request.count(b"host:") == 1
    assert request.startswith(b"POST /v2/models/m/infer HTTP/1.1\r\nHost: m.ns.example.com:443\r\n")
    assert sni_name("m.ns.example.com:443") == "m.ns.example.com" and sni_name("[::1]:8443") == "::1"
