"""A real Prometheus (Debian's `prometheus` package) on loopback, and MLServer with its metrics on.

Prometheus scrapes every second the targets a test hands it through file-based service
discovery (it watches the files, so a target added mid-run is scraped at once), and
accepts remote write. Its data lives in the test's temporary directory and dies with it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from iris_server import IrisServer
from prometheus_server import Prometheus

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
START_TIMEOUT_S = 60.0
JOBS = ("isvcperf", "mlserver")


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    server = Prometheus(tmp_path_factory.mktemp("prometheus"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def iris_metrics_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IrisServer]:
    """MLServer with its own Prometheus metrics on (a port of their own, MLServer's layout)."""
    with IrisServer(tmp_path_factory.mktemp("mlserver-metrics"), metrics=True) as server:
        yield server
