"""A real Prometheus (Debian's package) on loopback for the observability tests."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from iris_server import free_port

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
START_TIMEOUT_S = 60.0
JOBS = ("isvcperf", "mlserver")


class Prometheus:
    """One Prometheus process: `scrape(job, host_port)` adds a target; `query(promql)` reads."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.remote_write_url = f"{self.url}/api/v1/write"
        self.log = workdir / "prometheus.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [
                {"job_name": job, "file_sd_configs": [{"files": [str(self.workdir / f"{job}.json")],
                                                        "refresh_interval": "1s"}]}
                for job in JOBS
            ],
        }
        for job in JOBS:
            (self.workdir / f"{job}.json").write_text("[]")
        (self.workdir / "prometheus.yml").write_text(json.dumps(config))
        with self.log.open("wb") as log:
            self._process = subprocess.Popen(
                [PROMETHEUS, f"--config.file={self.workdir / 'prometheus.yml'}",
                 f"--storage.tsdb.path={self.workdir / 'data'}", f"--web.listen-address=127.0.0.1:{self.port}",
                 "--web.enable-remote-write-receiver"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"prometheus exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"prometheus not ready in {START_TIMEOUT_S}s: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def scrape(self, job: str, host_port: str, labels: dict[str, str] | None = None) -> None:
        """Scrape `host_port` (/metrics) in `job` from now on, besides the job's earlier targets."""
        path = self.workdir / f"{job}.json"
        targets = json.loads(path.read_text())
        targets.append({"targets": [host_port], "labels": labels or {}})
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(targets))
        tmp.replace(path)  # atomic: Prometheus never reads half a file

    def query(self, promql: str, over_s: float = 0) -> list[dict[str, Any]]:
        """An instant query now, or with `over_s` a range query over the last `over_s` seconds (1 s steps)."""
        if over_s:
            now = time.time()
            params = {"query": promql, "start": f"{now - over_s:.3f}", "end": f"{now:.3f}", "step": "1"}
            url = f"{self.url}/api/v1/query_range?" + urllib.parse.urlencode(params)
        else:
            url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(url, timeout=10) as response:
            data = json.loads(response.read())
        assert data["status"] == "success", data
        return list(data["data"]["result"])

    def value(self, promql: str) -> float | None:
        """The single value of an instant query (None when it returns no series)."""
        rows = self.query(promql)
        assert len(rows) <= 1, rows
        return float(rows[0]["value"][1]) if rows else None
