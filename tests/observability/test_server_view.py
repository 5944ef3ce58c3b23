"""MLServer's own metrics read into the report, scraped directly and through a real Prometheus.

The server view counts the requests MLServer saw between the reading taken once the
target was ready and the one after the load: measured + warm-up requests. The readiness
probes come before the first reading (and go to other paths), so they are not in it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from iris_server import IrisServer
from prometheus_server import Prometheus
from test_prometheus_out import finish, spec_file, start_run


def run_with_server(tmp_path: Path, name: str, server: IrisServer, block: dict[str, Any]) -> dict[str, Any]:
    spec = spec_file(tmp_path, name, server.infer_url, server=block)
    process, out, log = start_run(tmp_path, spec)
    finish(process, log)
    assert "Server view" in (out / "report.txt").read_text()
    assert 'id="server-view"' in (out / "report.html").read_text()
    return json.loads((out / "result.json").read_text())


def assert_server_saw_what_was_sent(result: dict[str, Any]) -> None:
    view = result["server"]
    sent = result["metrics"]["http/request-count"] + sum(w["warmupRequests"] for w in result["workers"])
    assert view["runtime"] == "mlserver"
    assert view["sent"] == sent
    assert view["requests"] == sent, view["notes"]
    assert view["countMismatch"] is False
    # The server's clock starts after the bytes arrived and stops before they leave: always below the client's.
    assert 0 < view["latency"]["mean"] < result["metrics"]["http/latency-mean"]
    assert view["difference"]["mean"] == result["metrics"]["http/latency-mean"] - view["latency"]["mean"]
    assert 0 < view["parts"]["inference"] < view["latency"]["mean"]
    assert view["timeline"][-1][1] == sent


def test_mlserver_metrics_scraped_into_the_report(tmp_path: Path, iris_metrics_server: IrisServer) -> None:
    result = run_with_server(tmp_path, "server-scrape", iris_metrics_server,
                             {"metricsUrl": iris_metrics_server.metrics_url})
    assert_server_saw_what_was_sent(result)
    assert result["server"]["source"] == iris_metrics_server.metrics_url


def test_mlserver_metrics_read_through_prometheus(tmp_path: Path, prometheus: Prometheus,
                                                 iris_metrics_server: IrisServer) -> None:
    host_port = iris_metrics_server.metrics_url.split("/")[2]
    prometheus.scrape("mlserver", host_port, {"model": "iris"})
    deadline = time.monotonic() + 30
    while prometheus.value('sum(up{job="mlserver", model="iris"})') != 1 and time.monotonic() < deadline:
        time.sleep(0.2)  # Prometheus holds a scrape of the server before the load starts
    result = run_with_server(tmp_path, "server-prometheus", iris_metrics_server,
                             {"prometheus": prometheus.url, "selector": '{job="mlserver", model="iris"}'})
    assert_server_saw_what_was_sent(result)
