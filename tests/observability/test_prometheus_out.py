"""The run's series in a real Prometheus: scraped from the master's /metrics, and pushed by remote write.

After the run, Prometheus must hold the same figures as result.json: the requests sent
(`isvcperf_requests_total`, phase measured = http/request-count, phase warmup = the warm-up
requests, so their sum is everything sent) and every SLO's value and verdict.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from iris_server import IrisServer
from prometheus_server import Prometheus

ROOT = Path(__file__).resolve().parents[2]
PAYLOAD = ROOT / "examples" / "payloads" / "sklearn-irisv2-input.json"
RUN_TIMEOUT_S = 120.0
UI_LINE = re.compile(r"Locust web UI: http://(127\.0\.0\.1:\d+)/")


def spec_file(tmp_path: Path, name: str, url: str, **extra: Any) -> Path:
    data = {
        "name": name,
        "target": {"url": url},
        "ready": {"timeout": "30s", "interval": "0.2s"},
        "payload": {"file": str(PAYLOAD)},
        "load": {"users": 2, "duration": "5s", "warmup": {"requests": 30}, "workers": 1},
        "slos": {"http/latency-mean": {"upper": 500}, "http/latency-p90": {"upper": 1000},
                 "http/error-count": {"upper": 0}, "http/throughput": {"lower": 1}},
        **extra,
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def start_run(tmp_path: Path, spec: Path, *args: str) -> tuple[subprocess.Popen[bytes], Path, Path]:
    out, log = tmp_path / "out", tmp_path / "cli.log"
    with log.open("wb") as handle:
        process = subprocess.Popen([sys.executable, "-m", "isvcperf", "run", str(spec), "--out", str(out), *args],
                                   cwd=tmp_path, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True, env={**os.environ, "PROM_TENANT": "team-a"})
    return process, out, log


def finish(process: subprocess.Popen[bytes], log: Path) -> None:
    try:
        code = process.wait(RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    assert code == 0, log.read_text()


def last(selector: str) -> str:
    """The series' last sample: once the master is gone its scrapes fail and Prometheus marks the series
    stale, so an instant query finds nothing after the run; a range function skips the staleness markers."""
    return f"last_over_time({selector}[5m])"


def assert_prometheus_matches(prometheus: Prometheus, run: str, result: dict[str, Any]) -> None:
    sel = f'run="{run}"'
    measured = result["metrics"]["http/request-count"]
    warmup = sum(w["warmupRequests"] for w in result["workers"])
    assert warmup == 30
    assert prometheus.value(last(f'isvcperf_requests_total{{{sel}, phase="measured"}}')) == measured
    assert prometheus.value(last(f'isvcperf_requests_total{{{sel}, phase="warmup"}}')) == warmup
    assert prometheus.value(f"sum({last(f'isvcperf_requests_total{{{sel}}}')})") == measured + warmup
    assert prometheus.value(last(f"isvcperf_latency_seconds_count{{{sel}}}")) == measured
    assert prometheus.value(last(f'isvcperf_run_phase{{{sel}, phase="finished"}}')) == 1
    for verdict in result["slos"]:
        metric = f'{sel}, metric="{verdict["metric"]}"'
        assert prometheus.value(last(f"isvcperf_slo_value{{{metric}}}")) == pytest.approx(verdict["value"], rel=1e-9)
        assert prometheus.value(last(f"isvcperf_slo_satisfied{{{metric}}}")) == (1 if verdict["satisfied"] else 0)
        bound = "upper" if verdict.get("upper") is not None else "lower"
        assert prometheus.value(last(f'isvcperf_slo_limit{{{metric}, bound="{bound}"}}')) == verdict[bound]


def test_prometheus_scrapes_the_master_and_holds_the_final_figures(
        tmp_path: Path, prometheus: Prometheus, iris_server: IrisServer) -> None:
    # --ui prints the master's web address (its port is chosen at run time): the target to scrape.
    # 12 s, because Prometheus applies new discovered targets at most every 5 s.
    spec = spec_file(tmp_path, "prom-scrape", iris_server.infer_url, load={"users": 2, "duration": "12s",
                                                                          "warmup": {"requests": 30}, "workers": 1})
    process, out, log = start_run(tmp_path, spec, "--ui")
    deadline = time.monotonic() + 60
    while not (found := UI_LINE.search(log.read_text())) and time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        time.sleep(0.1)
    assert found, log.read_text()
    prometheus.scrape("isvcperf", found.group(1))
    while prometheus.value(f'up{{instance="{found.group(1)}"}}') != 1:
        assert process.poll() is None, "the run ended before Prometheus scraped its master"
        time.sleep(0.2)
    finish(process, log)
    result = json.loads((out / "result.json").read_text())
    # The master waited for a scrape after the run finished, so the last sample is the final state.
    assert_prometheus_matches(prometheus, "prom-scrape", result)
    assert_dashboard_queries_work(prometheus, "prom-scrape")


def assert_dashboard_queries_work(prometheus: Prometheus, run: str) -> None:
    """Every query of the Grafana dashboard in k8s/ is valid PromQL with data behind it (no Grafana runs here)."""
    dashboard = json.loads((ROOT / "k8s" / "grafana" / "isvcperf-dashboard.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    assert exprs
    for expr in exprs:
        query = expr.replace("$run_id", ".*").replace("$run", run).replace("$__rate_interval", "1m")
        rows = prometheus.query(query, over_s=120)  # asserts status success: a typo in PromQL fails here
        if "isvcperf_errors_total" not in expr:  # no errors in this run, so no error series
            assert rows, expr


def test_remote_write_pushes_a_five_second_run(tmp_path: Path, prometheus: Prometheus, iris_server: IrisServer) -> None:
    spec = spec_file(tmp_path, "prom-push", iris_server.infer_url,
                     outputs={"prometheus": {"remoteWrite": prometheus.remote_write_url, "pushInterval": "1s",
                                             "headers": {"X-Scope-OrgID": "${PROM_TENANT}"}}})
    process, out, log = start_run(tmp_path, spec)
    finish(process, log)
    result = json.loads((out / "result.json").read_text())
    assert result["measuredSeconds"] == pytest.approx(5, abs=1)
    assert_prometheus_matches(prometheus, "prom-push", result)
    # Pushed while the run went on too, not only at the end: the series has several samples.
    samples = prometheus.query('count_over_time(isvcperf_requests_total{run="prom-push", phase="measured"}[5m])')
    assert float(samples[0]["value"][1]) >= 3
