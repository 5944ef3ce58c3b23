"""Fixtures for tests against the fake Kubernetes API server (see fake_api/__init__.py).

``fake_cluster`` is function-scoped: every test gets a fresh cluster, and teardown proves that
nothing it started is left running and that no controller raised.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_api import FakeCluster
from kubernetes import client, config


@pytest.fixture
def fake_cluster(tmp_path: Path) -> Iterator[FakeCluster]:
    """A started fake cluster; its kubeconfig's context uses namespace ``default``."""
    cluster = FakeCluster(tmp_path / "cluster")
    try:
        yield cluster
    finally:
        cluster.stop()
    assert cluster.processes() == [], "processes started by the fake kubelet outlived the cluster"
    assert cluster.controller_errors == [], "\n".join(cluster.controller_errors)


@pytest.fixture
def kube(fake_cluster: FakeCluster) -> Iterator[client.ApiClient]:
    """An official-client ApiClient configured from the fake cluster's kubeconfig file."""
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(fake_cluster.kubeconfig), client_configuration=configuration)
    with client.ApiClient(configuration) as api:
        yield api
